"""The robot's own body in the camera's view (a self filter): each link as a polytope around its collision
mesh, posed by the joint positions, so that perception can leave the arm's points out. Without it the arm
reaching into a tray is one blob with the tray (both achromatic, touching in depth), and the tray's measured
footprint follows the hand.

    model = robot_model(load_robot("panda"))
    body = model.body(arm.joint_state().positions, arm.gripper_width())
    perception.update(frame, robot=body)
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from hardware.quiet_pybullet import import_pybullet_quietly
from hardware.robots import RobotConfig

import_pybullet_quietly()

import pybullet as pb  # noqa: E402
import pybullet_data  # noqa: E402

#: around each link's mesh: joint readings, the camera's calibration and depth noise are off by a few mm, and
#: the visual mesh is not the collision mesh
PADDING = 0.008
#: the normals of the planes that wrap each link (a 26-sided polytope: the box, its edges and corners cut off)
_DIRECTIONS = np.array([d for d in np.ndindex(3, 3, 3) if d != (1, 1, 1)], float) - 1.0
_DIRECTIONS /= np.linalg.norm(_DIRECTIONS, axis=1, keepdims=True)
#: the robot hides part of an object when its pixels lie within this many pixels of the object's
OCCLUSION_RING_PX = 3


@dataclass(frozen=True)
class RobotBody:
    """Where the robot's body is now, in the base frame: per link (K of them) a polytope around its collision
    mesh (planes n . x <= d, n a unit normal), tested only on points in a box around it."""

    rotations: np.ndarray  #: K x 3 x 3, base <- link
    origins: np.ndarray  #: K x 3
    #: per link, in the link's frame: its planes (F x 4: n, d) and its bounding box (centre, half size)
    planes: tuple[np.ndarray, ...]
    centres: np.ndarray  #: K x 3
    halves: np.ndarray  #: K x 3
    #: which of the K are the gripper's fingers
    fingers: tuple[int, ...] = ()

    def contains(self, points: np.ndarray, padding: float = PADDING, fingers_only: bool = False) -> np.ndarray:
        """Which base-frame points (N x 3, finite) lie in some link's polytope grown by `padding` (N bool)."""
        pts = np.asarray(points, float)
        inside = np.zeros(len(pts), bool)
        links = self.fingers if fingers_only else range(len(self.planes))
        for k in links:
            rotation, origin, planes, centre, half = (self.rotations[k], self.origins[k], self.planes[k],
                                                      self.centres[k], self.halves[k])
            box_centre = origin + rotation @ centre
            reach = np.abs(rotation) @ (half + padding)  # the box's axis-aligned half size in the base frame
            near = np.flatnonzero(np.all(np.abs(pts - box_centre) <= reach, axis=1))  # a cheap test first
            local = (pts[near] - origin) @ rotation  # into the link's frame
            inside[near[np.all(local @ planes[:, :3].T <= planes[:, 3] + padding, axis=1)]] = True
        return inside


class RobotModel:
    """One robot's links (its URDF's collision meshes), posed by forward kinematics in a robot-only client."""

    def __init__(self, robot: RobotConfig) -> None:
        self.robot = robot
        self._client = pb.connect(pb.DIRECT)
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self._client)
        self._body = pb.loadURDF(robot.urdf, [0, 0, 0], useFixedBase=True, physicsClientId=self._client)
        joints = {pb.getJointInfo(self._body, j, physicsClientId=self._client)[1].decode(): j
                  for j in range(pb.getNumJoints(self._body, physicsClientId=self._client))}
        self._arm = [joints[n] for n in robot.arm_joints]
        self._fingers = [joints[n] for n in robot.finger_joints]
        # per link with a mesh: its polytope in the link's centre-of-mass frame (the vertices' frame)
        self._links: list[int] = []
        self._planes: list[np.ndarray] = []
        centres, halves = [], []
        for link in range(-1, len(joints)):
            count, vertices = pb.getMeshData(self._body, link, physicsClientId=self._client)[:2]
            if not count:
                continue
            v = np.asarray(vertices, float)
            self._planes.append(np.column_stack([_DIRECTIONS, (v @ _DIRECTIONS.T).max(axis=0)]))
            lo, hi = v.min(axis=0), v.max(axis=0)
            self._links.append(link)
            centres.append((lo + hi) / 2)
            halves.append((hi - lo) / 2)
        self._centres, self._halves = np.array(centres), np.array(halves)

    def body(self, arm_positions: np.ndarray, gripper_width: float) -> RobotBody:
        """Where the body is at these arm joint positions and this opening of the gripper."""
        pairs = [*zip(self._arm, arm_positions), *zip(self._fingers, self.robot.finger_targets(gripper_width))]
        pb.resetJointStatesMultiDof(self._body, [j for j, _ in pairs], [[float(v)] for _, v in pairs],
                                    physicsClientId=self._client)
        moving = [link for link in self._links if link >= 0]
        states = pb.getLinkStates(self._body, moving, computeForwardKinematics=True,
                                  physicsClientId=self._client) if moving else []
        poses = dict(zip(moving, ((s[0], s[1]) for s in states)))
        if -1 in self._links:
            poses[-1] = pb.getBasePositionAndOrientation(self._body, physicsClientId=self._client)
        rotations = np.array([np.reshape(pb.getMatrixFromQuaternion(poses[link][1]), (3, 3)) for link in self._links])
        origins = np.array([poses[link][0] for link in self._links], float)
        fingers = tuple(k for k, link in enumerate(self._links) if link in self._fingers)
        return RobotBody(rotations, origins, tuple(self._planes), self._centres, self._halves, fingers)


def hidden_behind(mask: np.ndarray, occluder: np.ndarray, depth: np.ndarray) -> bool:
    """Whether `occluder` (H x W: the robot's body, or a cube in front of another) is in front of part of the
    object at `mask`: its pixels next to the object, nearer the camera than the object's nearest pixel around
    them (a hand behind a cube hides none of it)."""
    kernel = np.ones((2 * OCCLUSION_RING_PX + 1,) * 2, np.uint8)
    ring = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool) & occluder
    if not ring.any():
        return False
    d = np.asarray(depth, np.float32)
    nearest = cv2.erode(np.where(mask & np.isfinite(d), d, np.inf).astype(np.float32), kernel)  # a min filter
    return bool(np.any(d[ring] < nearest[ring]))


@functools.lru_cache(maxsize=4)
def robot_model(robot: RobotConfig) -> RobotModel:
    """One model per robot for the process (a robot-only physics client each, kept open)."""
    return RobotModel(robot)
