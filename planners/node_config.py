"""Parameters of the scheduler node (planners.node), as a dataclass: plain Python, importable without ROS."""
from __future__ import annotations

from dataclasses import dataclass, replace

from hardware.params import documented, nested
from hardware.ros.config import RosArmConfig
from skill_lib.skills import default_skills

#: skills whose learned policy stays off over ROS by default (why: the doc of `learned_skills`)
SCRIPTED_OVER_ROS = ("push",)


@dataclass
class SchedulerConfig:
    """The scheduler: the execute_task action server. It plans tasks in words and runs their skills on an arm
    over ROS 2 (hardware.ros), judging success from the object states."""

    #: the arm it drives (robot, topics, pacing): its parameters are documented in RosArmConfig
    arm: RosArmConfig = nested(RosArmConfig)
    max_joint_velocity: float = documented(1.5, "safety: joint speed limit of commands we send, rad/s")
    objects_topic: str = documented("objects", "skill_stack_interfaces/ObjectStates (simulator truth or "
                                    "perception): success is judged from it")
    task_timeout: float = documented(120.0, "seconds a task may take unless the goal says")
    ready_timeout: float = documented(3.0, "seconds a new goal waits for fresh joint and object states before it "
                                      "fails with ERROR_HARDWARE")
    feedback_rate: float = documented(5.0, "progress feedback messages per second")
    action_name: str = documented("execute_task", "name of the ExecuteTask action server")
    status_topic: str = documented("status", "TaskStatus out (transient-local)")
    corrections_topic: str = documented("corrections", "std_msgs/String in: operator corrections")
    use_corrections: bool = documented(True, "retrieve and apply stored operator corrections, and store the ones "
                                       "received on the corrections topic")
    corrections_db: str = documented("", "SQLite file of stored corrections; empty: "
                                     "$SKILL_STACK_DATA/corrections.db")
    learned_skills: list[str] = documented(
        [s.name for s in default_skills() if s.learning is not None and s.name not in SCRIPTED_OVER_ROS],
        "skills that run their learned policy (checkpoints/) where one exists; the others run their scripted "
        "controller. Default: every learnable skill (one with a policy adapter) but push: over ROS (object states "
        "arrive 50-100 ms late) its policy succeeded in 2 of 6 pushes, the scripted one 7 of 8")

    def arm_config(self) -> RosArmConfig:
        """The arm's config with this node's safety limit."""
        return replace(self.arm, safety={"max_joint_velocity": self.max_joint_velocity})
