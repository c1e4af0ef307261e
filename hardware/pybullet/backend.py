"""A simulated arm in PyBullet: robot on a table with the objects of a scene, seeded and deterministic.

Commands go through the SafetyFilter exactly as on a real arm. IK, and forward kinematics for the safety
check, run in a second, robot-only physics client (hardware.kinematics, as on the ROS arm), so checking a
target never disturbs the world. Scene objects at rest sleep (Bullet deactivation) until something touches them.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pybullet as pb
import pybullet_data

from hardware.arm import HOLD_MIN_WIDTH, ArmInterface, WorldView
from hardware.kinematics import Kinematics
from hardware.pybullet.config import PyBulletConfig
from hardware.robots import load_robot
from hardware.safety import SafetyFilter
from hardware.camera import CameraModel, DepthNoise, RGBDFrame
from hardware.scene import COLORS_RGBA, ObjectSpec, SceneSpec, load_scene
from hardware.types import JointState, ObjectState, Pose

SETTLE_SECONDS = 0.5
#: the scene camera's depth range (metres): its projection's clipping planes
CAMERA_NEAR, CAMERA_FAR = 0.05, 4.0
#: sliding friction of articulated joints (a drawer stays where it is left, but a hand can pull it)
DRAWER_FRICTION_N = 5.0
#: where restore_state parks the robot and the objects for a moment (a row each time, 10 m apart): far from the
#: scene and from one another
PARKING_ROWS = ((100.0, 100.0, 10.0), (100.0, 200.0, 10.0))


@dataclass(frozen=True)
class SimSnapshot:
    """A saved simulation state (`PyBulletArm.save_state`): Bullet's in-memory snapshot of the world plus the
    arm object's own state that Bullet does not hold. Valid for the arm that saved it, until it is closed."""

    state_id: int
    sim_time: float
    arm_target: np.ndarray
    gripper_target: float
    estopped: bool


class PyBulletArm(ArmInterface, WorldView):
    """Arm + world in one PyBullet client. Use as a context manager or call `close()`."""

    def __init__(self, config: PyBulletConfig | None = None, scene: SceneSpec | None = None) -> None:
        self.config = config or PyBulletConfig()
        self.robot_config = load_robot(self.config.robot)
        self.gripper_max_width = self.robot_config.gripper_max_width
        self.scene = scene or load_scene(self.config.scene)
        self.control_dt = 1.0 / self.config.control_hz
        self._substeps = max(1, round(self.config.physics_hz / self.config.control_hz))
        self._rng = np.random.default_rng(self.config.seed)
        self._client = pb.connect(pb.GUI if self.config.gui else pb.DIRECT)
        self.kinematics = Kinematics(self.robot_config)
        self.sim_time = 0.0
        self._tool_down_last: tuple[float, np.ndarray] | None = None  # (yaw, quaternion) of the last tool_down
        self._sleep_restarting = False  # objects may not sleep until the next physics step (restore_state)
        try:
            self._build_world()
        except Exception:
            self.close()
            raise

    # -- construction ---------------------------------------------------------------------------
    def _build_world(self) -> None:
        c = self._client
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=c)
        pb.setTimeStep(1.0 / self.config.physics_hz, physicsClientId=c)
        pb.setGravity(0, 0, -9.81, physicsClientId=c)
        pb.setPhysicsEngineParameter(deterministicOverlappingPairs=1, physicsClientId=c)
        if self.config.gui:
            pb.configureDebugVisualizer(pb.COV_ENABLE_GUI, 0, physicsClientId=c)
        self._table = pb.loadURDF(self.scene.table_urdf, self.scene.table_position, useFixedBase=True,
                                  physicsClientId=c)
        rc = self.robot_config
        self._robot = pb.loadURDF(rc.urdf, [0, 0, 0], useFixedBase=True, physicsClientId=c)
        joints = {pb.getJointInfo(self._robot, j, physicsClientId=c)[1].decode(): j
                  for j in range(pb.getNumJoints(self._robot, physicsClientId=c))}
        links = {pb.getJointInfo(self._robot, j, physicsClientId=c)[12].decode(): j for j in joints.values()}
        self._arm = [joints[n] for n in rc.arm_joints]
        self._fingers = [joints[n] for n in rc.finger_joints]
        self._pads = [links[n] for n in rc.finger_links] or self._fingers  # what must touch a grasped object
        self._tcp = links[rc.tcp_link]
        limits = self.kinematics
        self.safety = SafetyFilter(self.config.safety_config(limits.lower, limits.upper, rc.gripper_max_width),
                                   self.control_dt)
        for f in self._fingers:
            pb.changeDynamics(self._robot, f, lateralFriction=1.5, spinningFriction=0.002, physicsClientId=c)
        for follower in self._fingers[1:]:
            # The real hand drives all finger joints from one mechanism (a linkage's <mimic> joints, which
            # PyBullet ignores). Independent finger motors let finger-object-finger float sideways as a unit
            # (the object wandered ~1 cm in hand). Ratio -1: the follower takes the drive's position.
            gear = pb.createConstraint(self._robot, self._fingers[0], self._robot, follower,
                                       pb.JOINT_GEAR, [1, 0, 0], [0, 0, 0], [0, 0, 0], physicsClientId=c)
            pb.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=50, physicsClientId=c)
        # A linkage gripper is motor-driven at its drive alone: followers' own motors fought the gears, and with
        # them (or the xArm's drive above ~1.5 N m) the gears lost to the contact: the pads tilted and pinched.
        self._finger_motors = self._fingers[:1] if rc.gripper_width_map else self._fingers
        for f in self._fingers[len(self._finger_motors):]:
            pb.setJointMotorControl2(self._robot, f, pb.VELOCITY_CONTROL, force=0.0, physicsClientId=c)
        for j, q in zip(self._arm, rc.home):
            pb.resetJointState(self._robot, j, q, physicsClientId=c)
        for f, q in zip(self._fingers, rc.finger_targets(rc.gripper_max_width)):
            pb.resetJointState(self._robot, f, q, physicsClientId=c)
        self._arm_target = np.array(rc.home, float)
        self._gripper_target = rc.gripper_max_width
        self._apply_targets()
        self._bodies: dict[str, tuple[int, ObjectSpec]] = {}
        for spec in self.scene.objects:
            self._bodies[spec.name] = (self._spawn(spec), spec)
        for _ in range(round(SETTLE_SECONDS / self.control_dt)):
            self.step()

    def _grasp_points(self, spec: ObjectSpec, body: int, com, orn) -> dict[str, np.ndarray]:
        """The spec's named grasps, from the object's (URDF link) frame into the base frame (yaw: tool yaw)."""
        if not spec.grasp_points:
            return {}
        rotation = np.array(pb.getMatrixFromQuaternion(orn)).reshape(3, 3)
        # PyBullet reports the centre of mass; the URDF frame sits at -inertial origin from it
        inertial = pb.getDynamicsInfo(body, -1, physicsClientId=self._client)[3]
        origin = np.asarray(com) - rotation @ np.asarray(inertial)
        yaw = pb.getEulerFromQuaternion(orn)[2]
        return {name: np.append(origin + rotation @ (np.asarray(p[:3]) * spec.scale), p[3] + yaw)
                for name, p in spec.grasp_points}

    def _spawn(self, spec: ObjectSpec) -> int:
        c = self._client
        jitter = self.scene.jitter if spec.jitter is None else spec.jitter
        x, y = np.asarray(spec.position) + self._rng.uniform(-jitter, jitter, size=2)
        orn = pb.getQuaternionFromEuler([0, 0, spec.yaw])
        if spec.urdf is None:
            half = [spec.edge / 2] * 3
            col = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half, physicsClientId=c)
            vis = pb.createVisualShape(pb.GEOM_BOX, halfExtents=half, rgbaColor=COLORS_RGBA[spec.color or "white"],
                                       physicsClientId=c)
            body = pb.createMultiBody(spec.mass, col, vis, [x, y, spec.edge / 2], orn, physicsClientId=c)
        else:
            body = pb.loadURDF(spec.urdf, [x, y, 0.0], orn, globalScaling=spec.scale,
                               useFixedBase=spec.container or spec.articulated, physicsClientId=c)
            if spec.articulated:  # the joint holds where it is left (sliding friction), not free-wheeling
                pb.setJointMotorControl2(body, 0, pb.VELOCITY_CONTROL, targetVelocity=0.0,
                                         force=DRAWER_FRICTION_N, physicsClientId=c)
            lo, _ = pb.getAABB(body, physicsClientId=c)
            pos, _ = pb.getBasePositionAndOrientation(body, physicsClientId=c)
            pb.resetBasePositionAndOrientation(body, [x, y, pos[2] - lo[2] + 0.001], orn, physicsClientId=c)
        # Objects at rest for two seconds sleep until something touches them: a resting object costs the contact
        # solver about as much as the arm does, and a scene has many.
        pb.changeDynamics(body, -1, lateralFriction=1.0, spinningFriction=0.001,
                          activationState=pb.ACTIVATION_STATE_ENABLE_SLEEPING, physicsClientId=c)
        return body

    # -- state ----------------------------------------------------------------------------------
    def joint_state(self) -> JointState:
        states = pb.getJointStates(self._robot, self._arm, physicsClientId=self._client)
        return JointState(self.robot_config.arm_joints, np.array([s[0] for s in states]),
                          np.array([s[1] for s in states]))

    def _arm_positions(self) -> np.ndarray:
        """Arm joint positions now (what the safety filter steps from), read fresh on every command."""
        return np.array([s[0] for s in pb.getJointStates(self._robot, self._arm, physicsClientId=self._client)])

    def ee_pose(self) -> Pose:
        s = pb.getLinkState(self._robot, self._tcp, computeForwardKinematics=True, physicsClientId=self._client)
        return Pose(self.robot_config.tcp_from_link(s[4], s[5]), np.array(s[5]))

    def gripper_width(self) -> float:
        states = pb.getJointStates(self._robot, self._fingers, physicsClientId=self._client)
        return self.robot_config.width_of([s[0] for s in states])

    def tool_down(self, yaw: float = 0.0) -> np.ndarray:
        # a skill asks for the same yaw every step: keep the last quaternion (a copy out: callers may mutate it)
        cached = self._tool_down_last
        if cached is None or cached[0] != yaw:
            r, p, _ = self.robot_config.tool_down_rpy
            cached = self._tool_down_last = (yaw, np.array(pb.getQuaternionFromEuler([r, p, yaw])))
        return cached[1].copy()

    def _tcp_of(self, q: np.ndarray) -> np.ndarray:
        return self.kinematics.tcp_position(q)

    # -- commands (all through self.safety) -----------------------------------------------------
    def command_joints(self, positions: Sequence[float]) -> np.ndarray:
        return self._command_joints(positions, self._arm_positions())

    def _command_joints(self, positions: Sequence[float], current: np.ndarray) -> np.ndarray:
        self._arm_target = self.safety.filter_joint_target(positions, current, self._tcp_of)
        self._apply_arm_target()  # the finger motors keep their target: no need to send it again
        return self._arm_target.copy()

    def command_ee(self, position: Sequence[float], orientation: Sequence[float] | None = None) -> np.ndarray:
        goal = self.safety.filter_ee_target(position, self.ee_pose().position)
        orn = self.safety.filter_orientation(self.tool_down() if orientation is None else orientation)
        current = self._arm_positions()  # one reading: no physics runs between the IK and its safety check
        return self._command_joints(self.kinematics.ik(goal, orn, current), current)

    def command_gripper(self, width: float) -> float:
        self._gripper_target = self.safety.filter_gripper(width)
        self._apply_finger_target()  # the arm motors keep their target
        return self._gripper_target

    def _apply_arm_target(self) -> None:
        pb.setJointMotorControlArray(self._robot, self._arm, pb.POSITION_CONTROL,
                                     targetPositions=self._arm_target.tolist(),
                                     forces=[self.robot_config.max_joint_force] * len(self._arm),
                                     physicsClientId=self._client)

    def _apply_finger_target(self) -> None:
        if self._fingers:
            rc, motors = self.robot_config, self._finger_motors
            pb.setJointMotorControlArray(self._robot, motors, pb.POSITION_CONTROL,
                                         targetPositions=rc.finger_targets(self._gripper_target)[: len(motors)],
                                         forces=[rc.max_finger_force] * len(motors), physicsClientId=self._client)

    def _apply_targets(self) -> None:
        self._apply_arm_target()
        self._apply_finger_target()

    def step(self) -> None:
        for _ in range(self._substeps):
            pb.stepSimulation(physicsClientId=self._client)
            if self._sleep_restarting:
                self._end_sleep_restart()
        self.sim_time += self.control_dt
        if self.config.gui:
            time.sleep(self.control_dt)

    def estop(self) -> None:
        self.safety.estop()
        # Hold where the arm and fingers are now, not where they were heading.
        self._arm_target = self.joint_state().positions
        self._gripper_target = self.gripper_width()
        self._apply_targets()

    def reset_estop(self) -> None:
        self.safety.reset_estop()

    @property
    def estopped(self) -> bool:
        return self.safety.estopped

    def camera_model(self, width: int | None = None, height: int | None = None) -> CameraModel:
        """The scene camera (config/scenes: eye, target, vertical field of view) as a pinhole model."""
        w, h = width or self.config.camera_width, height or self.config.camera_height
        return CameraModel.looking_at(w, h, self.scene.camera_fov, self.scene.camera_eye, self.scene.camera_target,
                                      near=CAMERA_NEAR, far=CAMERA_FAR)

    def _camera_image(self, w: int, h: int) -> tuple:
        view = pb.computeViewMatrix(self.scene.camera_eye, self.scene.camera_target, [0, 0, 1])
        proj = pb.computeProjectionMatrixFOV(self.scene.camera_fov, w / h, CAMERA_NEAR, CAMERA_FAR)
        return pb.getCameraImage(w, h, view, proj, renderer=pb.ER_TINY_RENDERER, physicsClientId=self._client)

    def rgbd(self, width: int | None = None, height: int | None = None, noise: DepthNoise | None = None,
             frame_index: int = 0) -> RGBDFrame:
        """Colour and depth (metres along the optical axis) from the scene camera, as an RGB-D driver gives
        them; `noise` adds a depth sensor's errors (seeded per frame_index)."""
        camera = self.camera_model(width, height)
        w, h = camera.width, camera.height
        _, _, rgb, zbuffer, _ = self._camera_image(w, h)
        z = np.asarray(zbuffer, dtype=np.float64).reshape(h, w)
        depth = (CAMERA_FAR * CAMERA_NEAR / (CAMERA_FAR - (CAMERA_FAR - CAMERA_NEAR) * z)).astype(np.float32)
        depth[z >= 1.0] = np.nan  # nothing within range
        if noise is not None:
            depth = noise.apply(depth, frame_index)
        colour = np.asarray(rgb, dtype=np.uint8).reshape(h, w, 4)[:, :, :3].copy()
        return RGBDFrame(colour, depth, camera, stamp=self.sim_time)

    def segmentation(self, width: int | None = None, height: int | None = None) -> dict[str, np.ndarray]:
        """Simulator truth for measuring perception: each object's pixel mask in the scene camera's image."""
        w, h = width or self.config.camera_width, height or self.config.camera_height
        seg = np.asarray(self._camera_image(w, h)[4]).reshape(h, w)
        return {name: seg == body for name, (body, _) in self._bodies.items()}

    def camera_rgb(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        w, h = width or self.config.camera_width, height or self.config.camera_height
        return np.asarray(self._camera_image(w, h)[2], dtype=np.uint8).reshape(h, w, 4)[:, :, :3].copy()

    def object_pixels(self, name: str) -> np.ndarray | None:
        """The scene camera's pixels of `name`, cut out by the segmentation mask (a perfect crop)."""
        w, h = self.config.camera_width, self.config.camera_height
        _, _, rgb, _, seg = self._camera_image(w, h)
        mask = np.asarray(seg).reshape(h, w) == self.body_id(name)
        return np.asarray(rgb, dtype=np.uint8).reshape(h, w, 4)[:, :, :3][mask]

    # -- world ----------------------------------------------------------------------------------
    def objects(self) -> dict[str, ObjectState]:
        out = {}
        for name, (body, spec) in self._bodies.items():
            link, opening = -1, None
            if spec.articulated:  # the drawer, not its cabinet
                link = 0
                travel = pb.getJointInfo(body, 0, physicsClientId=self._client)[9]
                opening = float(pb.getJointState(body, 0, physicsClientId=self._client)[0]) / travel
            lo, hi = (np.array(v) for v in pb.getAABB(body, link, physicsClientId=self._client))
            base, orn = pb.getBasePositionAndOrientation(body, physicsClientId=self._client)
            out[name] = ObjectState(
                name=name, category=spec.category, position=(lo + hi) / 2, orientation=np.array(orn),
                half_extents=(hi - lo) / 2, color=spec.color, size=spec.size,
                is_container=spec.container, synonyms=spec.synonyms, opening=opening,
                grasp_points=self._grasp_points(spec, body, base, orn))
        return out

    @property
    def physics_client(self) -> int:
        """The PyBullet client id, for tests and tools that read the simulator directly."""
        return self._client

    def body_id(self, name: str) -> int:
        """PyBullet body id of a scene object, 'robot' or 'table'."""
        if name not in self._bodies and name not in ("gripper", "robot", "table"):
            raise KeyError(f"no object named {name!r}; known: {', '.join(sorted(self._bodies))}")
        return self._body(name)

    def _body(self, name: str) -> int:
        if name in ("gripper", "robot"):
            return self._robot
        if name == "table":
            return self._table
        return self._bodies[name][0]

    def contacts(self, a: str, b: str) -> bool:
        points = pb.getContactPoints(self._body(a), self._body(b), physicsClientId=self._client)
        if "gripper" in (a, b):
            side = 1 if a == "gripper" else 2  # which side of the pair is the robot
            points = [pt for pt in points if pt[2 + side] in self._fingers]
        return len(points) > 0

    def gripper_holds(self) -> bool:
        """Both finger pads on one body: what a gripper's own object detection reports, without knowing which."""
        touched: dict[int, set[int]] = {}
        for pt in pb.getContactPoints(bodyA=self._robot, physicsClientId=self._client):
            if pt[3] in self._pads and pt[2] != self._robot:
                touched.setdefault(pt[2], set()).add(pt[3])
        # fingers closed all the way (a push with a closed hand) hold nothing: the object stopped them
        return self.gripper_width() > HOLD_MIN_WIDTH and any(pads >= set(self._pads) for pads in touched.values())

    def is_grasped(self, name: str) -> bool:
        """Both fingers touch the object."""
        body = self._body(name)
        touching = {pt[3] for pt in pb.getContactPoints(self._robot, body, physicsClientId=self._client)}
        return all(f in touching for f in self._pads)

    def set_object_pose(self, name: str, position: Sequence[float], yaw: float = 0.0) -> None:
        """Move an object (scene set-up in tests and benchmarks; not a robot command)."""
        body = self._body(name)
        pb.resetBasePositionAndOrientation(body, list(position), pb.getQuaternionFromEuler([0, 0, yaw]),
                                           physicsClientId=self._client)
        pb.changeDynamics(body, -1, activationState=pb.ACTIVATION_STATE_WAKE_UP, physicsClientId=self._client)

    def set_opening(self, name: str, opening: float) -> None:
        """Slide an articulated object (a drawer) to `opening`, 0 (closed) .. 1 (at its joint's limit), at rest
        (scene set-up in tests and learning environments; not a robot command)."""
        body, spec = self._bodies[name]
        if not spec.articulated:
            raise ValueError(f"{name} is not articulated: it has no opening")
        if not 0.0 <= opening <= 1.0:
            raise ValueError(f"opening must be within 0..1, not {opening}")
        travel = pb.getJointInfo(body, 0, physicsClientId=self._client)[9]
        pb.resetJointState(body, 0, opening * travel, 0.0, physicsClientId=self._client)

    def reset_robot(self) -> None:
        """Simulation reset (episodes, tests): put the arm at home with the fingers open and clear
        the e-stop. Not a robot command: a real arm has no equivalent."""
        rc, c = self.robot_config, self._client
        for j, q in zip(self._arm, rc.home):
            pb.resetJointState(self._robot, j, q, 0.0, physicsClientId=c)
        for f, q in zip(self._fingers, rc.finger_targets(rc.gripper_max_width)):
            pb.resetJointState(self._robot, f, q, 0.0, physicsClientId=c)
        self._arm_target = np.array(rc.home, float)
        self._gripper_target = rc.gripper_max_width
        self.safety.reset_estop()
        self._apply_targets()

    def save_state(self) -> SimSnapshot:
        """Simulation reset (episodes, tests): save the whole world in memory, for `restore_state` to put it
        back exactly, so that what runs after a restore does not depend on what ran before it. The world is
        restored at once, so that it runs on from the save as from every later restore."""
        snapshot = SimSnapshot(pb.saveState(physicsClientId=self._client), self.sim_time, self._arm_target.copy(),
                               self._gripper_target, self.safety.estopped)
        self.restore_state(snapshot)
        return snapshot

    def restore_state(self, snapshot: SimSnapshot) -> None:
        """Put the world and this arm back as they were when `snapshot` was saved: the same commands and steps
        then give, bit for bit, what they gave after the save (checked after random histories in the default
        scene and the learning environments' worlds; an articulated object, the drawer, still left differences
        of up to 5e-5 after some). The safety filter's counters keep counting."""
        c = self._client
        # Bullet's snapshot holds poses, velocities and contacts (with their solver warm starts). Three more
        # things carry history; each is put in one state here, whatever ran before:
        # - sleep: an object asleep stays frozen for a physics step, and one at rest for a while falls asleep
        #   early (its time at rest, which no call can set, carries over). The next physics step wakes an object
        #   that may not sleep and clears its time; it may sleep again after the first step from here (`step`).
        # - the broadphase: a body's box there is the one it had when it last outgrew it, and a pair of boxes
        #   that no longer overlap lingers; boxes and pairs decide which bodies the solver takes together, and so
        #   when it stops iterating. A body moved far away gets an exact box, and its pairs are dropped (lazily:
        #   each collision pass drops some, hence two passes); the restore then brings every pair back fresh.
        # - motor targets: set again from this object's own.
        pb.restoreState(stateId=snapshot.state_id, physicsClientId=c)
        for body, _ in self._bodies.values():
            pb.changeDynamics(body, -1, activationState=pb.ACTIVATION_STATE_WAKE_UP
                              | pb.ACTIVATION_STATE_DISABLE_SLEEPING, physicsClientId=c)
        pb.stepSimulation(physicsClientId=c)  # a body that slept is active again: only active boxes move with it
        movers = [self._robot, *(body for body, _ in self._bodies.values())]
        for x, y, z in PARKING_ROWS:
            for i, body in enumerate(movers):
                pb.resetBasePositionAndOrientation(body, [x + 10.0 * i, y, z], [0.0, 0.0, 0.0, 1.0],
                                                   physicsClientId=c)
            pb.performCollisionDetection(physicsClientId=c)
        pb.restoreState(stateId=snapshot.state_id, physicsClientId=c)
        self._sleep_restarting = True
        self.sim_time = snapshot.sim_time
        self._arm_target = snapshot.arm_target.copy()
        self._gripper_target = snapshot.gripper_target
        self._tool_down_last = None
        if snapshot.estopped:
            self.safety.estop()
        else:
            self.safety.reset_estop()
        self._apply_targets()

    def _end_sleep_restart(self) -> None:
        """After the first physics step from a restore: objects at rest may sleep again (see restore_state)."""
        for body, _ in self._bodies.values():
            pb.changeDynamics(body, -1, activationState=pb.ACTIVATION_STATE_ENABLE_SLEEPING,
                              physicsClientId=self._client)
        self._sleep_restarting = False

    def robot_touches(self, name: str) -> bool:
        """Any robot link above the base (the base stands on the table) touches `name`."""
        points = pb.getContactPoints(self._robot, self._body(name), physicsClientId=self._client)
        return any(pt[3] > 0 for pt in points)

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None and pb.isConnected(client):
            pb.disconnect(client)
        if getattr(self, "kinematics", None) is not None:
            self.kinematics.close()

    def __enter__(self) -> PyBulletArm:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
