"""Kinematics of one robot in a robot-only PyBullet DIRECT client: FK and IK, no world, no physics.

Shared by the backends. Those that do not simulate (the ROS 2 arm) use it to turn tool targets into joint
targets and to give the safety filter its forward kinematics. The IK call uses the same arguments as
PyBulletArm, so the same tool target yields the same joint target from the same joint state.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hardware.quiet_pybullet import import_pybullet_quietly

import_pybullet_quietly()

import pybullet as pb  # noqa: E402
import pybullet_data  # noqa: E402

from hardware.robots import RobotConfig  # noqa: E402
from hardware.types import Pose  # noqa: E402


class Kinematics:
    """FK/IK of `robot` (its URDF from pybullet_data). Call `close()` when done."""

    def __init__(self, robot: RobotConfig) -> None:
        self.robot = robot
        self._client = pb.connect(pb.DIRECT)
        try:
            pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self._client)
            self._body = pb.loadURDF(robot.urdf, [0, 0, 0], useFixedBase=True, physicsClientId=self._client)
            info = [pb.getJointInfo(self._body, j, physicsClientId=self._client)
                    for j in range(pb.getNumJoints(self._body, physicsClientId=self._client))]
        except Exception:
            self.close()
            raise
        joints = {i[1].decode(): i[0] for i in info}
        links = {i[12].decode(): i[0] for i in info}
        missing = [n for n in (*robot.arm_joints, *robot.finger_joints) if n not in joints]
        if missing or robot.tcp_link not in links:
            self.close()
            raise ValueError(f"{robot.urdf} lacks joints {missing} or link {robot.tcp_link!r}")
        self._arm = [joints[n] for n in robot.arm_joints]
        self._fingers = [joints[n] for n in robot.finger_joints]
        self._tcp = links[robot.tcp_link]
        movable = [i for i in info if i[2] != pb.JOINT_FIXED]
        self._ik_lower = [i[8] for i in movable]
        self._ik_upper = [i[9] for i in movable]
        self._ik_ranges = [u - lo for lo, u in zip(self._ik_lower, self._ik_upper)]
        self._ik_rest = list(robot.home) + [0.04] * (len(movable) - len(robot.home))
        #: mechanical limits of the arm joints, for the safety filter
        self.lower = np.array([info[j][8] for j in self._arm])
        self.upper = np.array([info[j][9] for j in self._arm])

    def _set(self, q: Sequence[float], fingers: Sequence[float] | None = None) -> None:
        # one round trip for every joint (a resetJointState each costs 3x more per FK); same positions set
        pairs = [*zip(self._arm, q), *zip(self._fingers, fingers or ())]
        pb.resetJointStatesMultiDof(self._body, [j for j, _ in pairs], [[float(v)] for _, v in pairs],
                                    physicsClientId=self._client)

    def tcp_pose(self, q: Sequence[float]) -> Pose:
        self._set(q)
        s = pb.getLinkState(self._body, self._tcp, computeForwardKinematics=True, physicsClientId=self._client)
        return Pose(self.robot.tcp_from_link(s[4], s[5]), np.array(s[5]))  # an offset tcp (the xArm's)

    def tcp_position(self, q: Sequence[float]) -> np.ndarray:
        return self.tcp_pose(q).position

    def ik(self, position: Sequence[float], orientation: Sequence[float], q: Sequence[float],
           fingers: Sequence[float] | None = None) -> np.ndarray:
        """Arm joint positions that put the tool at `position`/`orientation`, starting from `q`."""
        self._set(q, fingers)
        solution = pb.calculateInverseKinematics(
            self._body, self._tcp, self.robot.link_from_tcp(position, orientation).tolist(),
            list(map(float, orientation)),
            lowerLimits=self._ik_lower, upperLimits=self._ik_upper, jointRanges=self._ik_ranges,
            restPoses=self._ik_rest, maxNumIterations=60, residualThreshold=1e-5, physicsClientId=self._client)
        return np.asarray(solution[: len(self._arm)])

    def tool_down(self, yaw: float = 0.0) -> np.ndarray:
        r, p, _ = self.robot.tool_down_rpy
        return np.array(pb.getQuaternionFromEuler([r, p, yaw]))

    def close(self) -> None:
        if getattr(self, "_client", None) is not None and pb.isConnected(self._client):
            pb.disconnect(self._client)
