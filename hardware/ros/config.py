"""Dataclass config of the ROS 2 arm backend (plain Python: importable without ROS)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RosArmConfig:
    """Which topics the arm lives on and how the backend paces itself.

    Topic names are relative, so they resolve in the node's namespace: `joint_states` in namespace
    `/robot1` is `/robot1/joint_states`. For a ros2_control arm set `command_topic` to the controller's
    topic, e.g. `/joint_trajectory_controller/joint_trajectory`.
    """

    #: config/robots/<robot>.yaml: joint names, tool link, URDF for kinematics, home pose
    robot: str = "panda"
    joint_states_topic: str = "joint_states"
    #: trajectory_msgs/JointTrajectory for the arm joints (and the fingers if gripper_command_topic is empty)
    command_topic: str = "joint_trajectory"
    #: separate JointTrajectory topic for the finger joints; empty: the fingers ride in command_topic
    gripper_command_topic: str = ""
    camera_topic: str = "camera/image_raw"
    #: skill_stack_interfaces/HardwareStatus of the hardware node (e-stop state); empty: none
    hardware_status_topic: str = "hardware/status"
    #: control steps per second: one `step()` waits this period and for fresh joint states
    control_hz: float = 20.0
    #: seconds without joint states before the arm counts as gone (commands and steps raise)
    state_timeout: float = 1.0
    #: seconds a trajectory point asks the controller to take to reach the target
    time_from_start: float = 0.05
    #: overrides of the default safety limits (see hardware.safety.SafetyConfig); joint limits from the URDF
    safety: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.control_hz > 0 or not self.state_timeout > 0 or not self.time_from_start >= 0:
            raise ValueError("RosArmConfig: control_hz and state_timeout must be positive, "
                             "time_from_start >= 0")
        for name in ("joint_states_topic", "command_topic"):
            if not getattr(self, name):
                raise ValueError(f"RosArmConfig: {name} must not be empty")
