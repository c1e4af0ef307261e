"""Parameters of the skill server node (skill_lib.node), and of a node's link to the arm and the world over
ROS 2, as dataclasses: plain Python, importable without ROS."""
from __future__ import annotations

from dataclasses import dataclass, replace

from hardware.params import documented, nested
from hardware.realtime import DEFAULT_PRIORITY
from hardware.ros.config import RosArmConfig
from skill_lib.skills import default_skills


@dataclass
class ArmLinkConfig:
    """The arm and the world over ROS 2: which arm, its topics and pacing, where object states come from."""

    #: the arm (robot, topics, pacing): its parameters are documented in RosArmConfig
    arm: RosArmConfig = nested(RosArmConfig)
    objects_topic: str = documented("objects", "skill_stack_interfaces/ObjectStates (simulator truth or "
                                    "perception): success is judged from it")


@dataclass
class SkillServerConfig:
    """The skill server: the ExecuteSkill action, which runs one skill in a control loop on the arm (live
    parameter updates on ~/parameter_updates), and the skill catalogue (~/catalogue, latched)."""

    #: the arm and the world the skills run on: documented in ArmLinkConfig
    link: ArmLinkConfig = nested(ArmLinkConfig)
    max_joint_velocity: float = documented(1.5, "safety: joint speed limit of commands we send, rad/s")
    learned_skills: list[str] = documented(
        [s.name for s in default_skills() if s.learning is not None],
        "skills that run their learned policy (checkpoints/) where one exists; the others run their scripted "
        "controller. Default: every learnable skill (one with a policy adapter)")
    execute_action: str = documented("execute_skill", "name of the ExecuteSkill action server")
    feedback_rate: float = documented(10.0, "ExecuteSkill feedback messages per second while a skill runs")
    realtime_priority: int = documented(DEFAULT_PRIORITY, "SCHED_FIFO priority (1-99) of the control loop's thread; "
                                        "0: normal scheduling. Needs root, CAP_SYS_NICE or an rtprio limit; "
                                        "without it the node logs so and runs at normal priority")

    def arm_config(self) -> RosArmConfig:
        """The arm's config with this node's safety limit."""
        return replace(self.link.arm, safety={"max_joint_velocity": self.max_joint_velocity})
