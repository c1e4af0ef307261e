"""Kinematics of one robot in a robot-only PyBullet DIRECT client: FK and IK, no world, no physics.

Every backend turns tool targets into joint targets and gives the safety filter its forward kinematics
here, so the same tool target yields the same joint target from the same joint state on every arm.
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

#: IK is damped least squares over the arm joints (PyBullet's solver without its null-space mode, which takes
#: 60 iterations to get within 0.3 mm); this damping converges in ~5 iterations to within 0.01 mm
IK_DAMPING = 0.01
IK_MAX_ITERATIONS = 20
IK_RESIDUAL = 1e-8
#: Each solve first moves this fraction of the way toward the home posture within the task's null space, so a
#: redundant (7-joint) arm's elbow does not drift over a long task; a 6-joint arm has no null space to move in.
#: At most POSTURE_MAX_STEP rad per joint: a bigger share of the joint step would, once the safety filter
#: scales the step to the velocity bound, bend the tool's path off the straight line toward its target.
POSTURE_GAIN = 0.1
POSTURE_MAX_STEP = 0.01


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
        self._tcp = links[robot.tcp_link]
        self._movable = [i[0] for i in info if i[2] != pb.JOINT_FIXED]  # the Jacobian's columns, in this order
        self._arm_columns = [self._movable.index(j) for j in self._arm]
        self._home = np.asarray(robot.home, float)
        self._zeros = [0.0] * len(self._movable)
        self._damping = [IK_DAMPING] * len(self._movable)
        self._regulariser = 1e-9 * np.eye(6)
        #: mechanical limits of the arm joints, for the safety filter
        self.lower = np.array([info[j][8] for j in self._arm])
        self.upper = np.array([info[j][9] for j in self._arm])

    def _set(self, q: Sequence[float] | np.ndarray) -> None:
        # one round trip for every joint (a resetJointState each costs 3x more per FK). The fingers stay where
        # the URDF puts them: they hang below the tool link and move neither the tool nor its Jacobian.
        pb.resetJointStatesMultiDof(self._body, self._arm, [[float(v)] for v in q], physicsClientId=self._client)

    def tcp_pose(self, q: Sequence[float]) -> Pose:
        self._set(q)
        s = pb.getLinkState(self._body, self._tcp, computeForwardKinematics=True, physicsClientId=self._client)
        return Pose(self.robot.tcp_from_link(s[4], s[5]), np.array(s[5]))  # an offset tcp (the xArm's)

    def tcp_position(self, q: Sequence[float]) -> np.ndarray:
        return self.tcp_pose(q).position

    def ik(self, position: Sequence[float], orientation: Sequence[float], start: Sequence[float]) -> np.ndarray:
        """Arm joint positions that put the tool at `position`/`orientation`, starting from `start`."""
        q = np.asarray(start, float)
        every = self._zeros.copy()  # the fingers at the URDF's zero, as _set leaves them
        for column, value in zip(self._arm_columns, q.tolist()):
            every[column] = value
        linear, angular = pb.calculateJacobian(self._body, self._tcp, [0.0, 0.0, 0.0], every, self._zeros,
                                               self._zeros, physicsClientId=self._client)
        jacobian = np.array((*linear, *angular))[:, self._arm_columns]
        posture = POSTURE_GAIN * (self._home - q)
        posture -= jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + self._regulariser, jacobian @ posture)
        posture *= min(1.0, POSTURE_MAX_STEP / max(float(np.abs(posture).max()), 1e-12))
        self._set(q + posture)
        solution = pb.calculateInverseKinematics(
            self._body, self._tcp, self.robot.link_from_tcp(position, orientation).tolist(),
            list(map(float, orientation)), jointDamping=self._damping,
            maxNumIterations=IK_MAX_ITERATIONS, residualThreshold=IK_RESIDUAL, physicsClientId=self._client)
        return np.asarray(solution)[self._arm_columns]

    def tool_down(self, yaw: float = 0.0) -> np.ndarray:
        r, p, _ = self.robot.tool_down_rpy
        return np.array(pb.getQuaternionFromEuler([r, p, yaw]))

    def close(self) -> None:
        if getattr(self, "_client", None) is not None and pb.isConnected(self._client):
            pb.disconnect(self._client)
