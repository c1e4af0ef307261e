"""Parameters of the scheduler node (planners.node), as a dataclass: plain Python, importable without ROS."""
from __future__ import annotations

from dataclasses import dataclass

from hardware.params import documented, nested
from planners.executor import REPLANS
from skill_lib.node_config import ArmLinkConfig


@dataclass
class SchedulerConfig:
    """The scheduler: the execute_task action server. It plans tasks in words, retrieves skills and corrections,
    sends each skill to the skill server (ExecuteSkill) and checks the task's goals on the object states. It
    never commands the arm: it reads its joint states and the objects."""

    #: the arm it watches and the object states it judges goals on: documented in ArmLinkConfig
    link: ArmLinkConfig = nested(ArmLinkConfig)
    skill_action: str = documented("execute_skill", "the skill server's ExecuteSkill action")
    skill_updates_topic: str = documented("skill_server/parameter_updates", "std_msgs/String out: live "
                                          "corrections of the running skill, as JSON parameters")
    task_timeout: float = documented(120.0, "seconds a task may take unless the goal says")
    ready_timeout: float = documented(3.0, "seconds a new goal waits for fresh joint and object states (and the "
                                      "skill server) before it fails with ERROR_HARDWARE")
    feedback_rate: float = documented(5.0, "progress feedback messages per second")
    planner: str = documented("parser", "how task text becomes a plan: 'parser' (deterministic) or 'llm' (a model "
                              "server from SKILL_STACK_LLM_URL, checked by the parser: docs/LLM_PLANNER.md)")
    replans: int = documented(REPLANS, "times a task is planned again from the world as it is when a skill fails "
                              "or its goals do not hold (0: off)")
    action_name: str = documented("execute_task", "name of the ExecuteTask action server")
    status_topic: str = documented("status", "TaskStatus out (transient-local)")
    corrections_topic: str = documented("corrections", "std_msgs/String in: operator corrections")
    events_topic: str = documented("events", "std_msgs/String out: each task event (plan, skill start and end, "
                                   "retries, re-plans, corrections) as one JSON object, as skillstack run's "
                                   "episode log writes it")
    use_corrections: bool = documented(True, "retrieve and apply stored operator corrections, and store the ones "
                                       "received on the corrections topic")
    corrections_db: str = documented("", "SQLite file of stored corrections; empty: "
                                     "$SKILL_STACK_DATA/corrections.db")
    index_dir: str = documented("", "where the skill library's FAISS index is cached; empty: the data directory")
    max_results: int = documented(10, "most skills one ~/search returns")
