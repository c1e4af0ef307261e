"""Dataclass config of the ROS 2 arm backend (plain Python: importable without ROS)."""
from __future__ import annotations

from dataclasses import dataclass, field

from hardware.params import documented


@dataclass
class RosArmConfig:
    """Which topics the arm lives on and how the backend paces itself.

    Topic names are relative, so they resolve in the node's namespace: `joint_states` in namespace
    `/robot1` is `/robot1/joint_states`. For a ros2_control arm set `command_topic` to the controller's
    topic, e.g. `/joint_trajectory_controller/joint_trajectory`. The documented fields are parameters of
    the node that drives the arm (hardware.params).
    """

    robot: str = documented("panda", "robot description in config/robots (joint names, tool link, URDF for IK, "
                            "home pose)")
    joint_states_topic: str = documented("joint_states", "sensor_msgs/JointState of the arm")
    command_topic: str = documented("joint_trajectory", "trajectory_msgs/JointTrajectory to the arm (e.g. a joint "
                                    "trajectory controller), with the fingers if gripper_command_topic is empty")
    gripper_command_topic: str = documented("", "JointTrajectory for the finger joints; empty: they ride in "
                                            "command_topic")
    camera_topic: str = documented("", "sensor_msgs/Image of the scene camera, for camera_rgb(); empty (the "
                                   "default): none. The skills do not look, and every extra reader of large "
                                   "best-effort images makes Fast DDS drop more of them")
    hardware_status_topic: str = documented("hardware/status", "skill_stack_interfaces/HardwareStatus of the "
                                            "hardware node (its e-stop stops this side too); empty: none")
    control_hz: float = documented(20.0, "control steps per second of the skills: each step waits this period "
                                   "and for a fresh joint state")
    state_timeout: float = documented(1.0, "seconds without joint states before the arm counts as gone (commands "
                                      "and steps raise); a world view beside it waits as long for object states")
    time_from_start: float = documented(0.05, "seconds each trajectory point gives the controller to reach its "
                                        "target")
    stream_end: bool = documented(True, "end each skill's command stream with an empty JointTrajectory, on which "
                                  "the skill_stack hardware node holds the arm where it is and rests its watchdog "
                                  "(as ROS 1's joint trajectory controller did); false for a ros2_control joint "
                                  "trajectory controller, which rejects an empty trajectory: a stop then sends "
                                  "the hold position")
    #: not a parameter: overrides of the default safety limits (hardware.safety.SafetyConfig), set by the node;
    #: joint limits come from the URDF
    safety: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.control_hz > 0 or not self.state_timeout > 0 or not self.time_from_start >= 0:
            raise ValueError("RosArmConfig: control_hz and state_timeout must be positive, "
                             "time_from_start >= 0")
        for name in ("joint_states_topic", "command_topic"):
            if not getattr(self, name):
                raise ValueError(f"RosArmConfig: {name} must not be empty")
