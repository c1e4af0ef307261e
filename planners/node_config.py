"""Parameters of the scheduler node (planners.node), as a dataclass: plain Python, importable without ROS."""
from __future__ import annotations

from dataclasses import dataclass

from hardware.params import documented, nested
from skill_lib.node_config import ControlConfig


@dataclass
class SchedulerConfig:
    """The scheduler: the execute_task action server. It plans tasks in words and runs their skills on an arm
    over ROS 2 (hardware.ros), judging success from the object states."""

    #: the arm it drives, its object states and learned skills: documented in ControlConfig
    control: ControlConfig = nested(ControlConfig)
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
