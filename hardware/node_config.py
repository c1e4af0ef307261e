"""Parameters of the hardware node (hardware.node), as a dataclass: plain Python, importable without ROS."""
from __future__ import annotations

from dataclasses import dataclass, replace

from hardware.backends import BackendOptions
from hardware.params import documented, nested
from hardware.realtime import DEFAULT_PRIORITY


@dataclass
class HardwareNodeConfig:
    """The hardware node: any arm backend as a ROS 2 lifecycle node (simulated robot or a real arm's driver)."""

    backend: str = documented("pybullet", "arm backend: 'pybullet' (simulated robot) or 'package.module:factory'")
    #: the backend's own parameters (robot, scene, ...): documented in BackendOptions
    options: BackendOptions = nested(BackendOptions)
    watchdog_timeout: float = documented(0.5, "seconds without a trajectory command, while active, after which the "
                                         "arm holds its position")
    camera_rate: float = documented(2.0, "camera images per second (0 = no camera)")
    camera_width: int = documented(320, "camera image width in pixels")
    camera_height: int = documented(240, "camera image height in pixels")
    max_joint_velocity: float = documented(1.5, "safety: joint speed limit, rad/s")
    status_rate: float = documented(2.0, "status messages per second on ~/status (also on change)")
    frame_id: str = documented("base_link", "frame of the object poses (the robot base)")
    joint_states_topic: str = documented("joint_states", "sensor_msgs/JointState out")
    command_topic: str = documented("joint_trajectory", "trajectory_msgs/JointTrajectory in")
    camera_topic: str = documented("camera/image_raw", "sensor_msgs/Image out (rgb8)")
    depth_topic: str = documented("camera/depth/image_raw", "sensor_msgs/Image out (registered to the colour "
                                  "image; backends with a depth camera)")
    depth_encoding: str = documented("16UC1", "16UC1 (millimetres, as a RealSense sends) or 32FC1 (metres): "
                                     "16UC1 keeps colour + depth inside Fast DDS's 512 kB shared-memory segment, "
                                     "which otherwise drops colour images")
    camera_info_topic: str = documented("camera/camera_info", "sensor_msgs/CameraInfo out (the colour and depth "
                                        "images' intrinsics)")
    camera_frame: str = documented("camera_optical_frame", "frame_id of the camera images (x right, y down, z "
                                   "forward)")
    objects_topic: str = documented("objects", "skill_stack_interfaces/ObjectStates out (simulator truth)")
    realtime_priority: int = documented(DEFAULT_PRIORITY, "SCHED_FIFO priority (1-99) of the thread that steps "
                                        "the arm; 0: normal scheduling. Needs root, CAP_SYS_NICE or an rtprio "
                                        "limit; without it the node logs so and runs at normal priority")
    autostart: bool = documented(True, "configure and activate on start-up (no lifecycle manager needed)")

    def backend_options(self) -> BackendOptions:
        """The options the backend is built with, this node's safety limits included."""
        return replace(self.options, safety={"max_joint_velocity": self.max_joint_velocity,
                                             "watchdog_timeout": self.watchdog_timeout})
