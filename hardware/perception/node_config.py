"""Parameters of the perception node (hardware.perception.node), as a dataclass: plain Python, no ROS."""
from __future__ import annotations

from dataclasses import dataclass

from hardware.params import documented


@dataclass
class PerceptionNodeConfig:
    """Tabletop perception on an RGB-D camera's topics and the arm's joint states: the objects of a scene,
    named after their descriptions, with what the hand holds, published as ObjectStates like the simulator's
    truth."""

    scene: str = documented("default", "scene in config/scenes (or a YAML path) whose object descriptions name "
                            "what is seen")
    robot: str = documented("panda", "robot description in config/robots (the tool's pose and the gripper's "
                            "width from joint states)")
    color_topic: str = documented("camera/image_raw", "sensor_msgs/Image in (rgb8 or bgr8)")
    depth_topic: str = documented("camera/depth/image_raw", "sensor_msgs/Image in (32FC1 metres or 16UC1 mm), "
                                  "registered to the colour image")
    camera_info_topic: str = documented("camera/camera_info", "sensor_msgs/CameraInfo in (the images' "
                                        "intrinsics)")
    camera_pose: list[float] = documented([0.0], "the camera's optical frame in the base frame from calibration: x y z "
                                          "qx qy qz qw; [0.0]: the scene's simulated camera (config/scenes camera:)")
    joint_states_topic: str = documented("joint_states", "sensor_msgs/JointState of the arm (what the hand holds "
                                         "moves with the tool)")
    state_timeout: float = documented(1.0, "seconds without joint states before nothing is published (the "
                                      "scheduler then reports its object states gone)")
    camera_timeout: float = documented(3.0, "seconds without a colour + depth pair before nothing is published")
    objects_topic: str = documented("perceived_objects", "skill_stack_interfaces/ObjectStates out ('objects' to "
                                    "replace the simulator's truth)")
    frame_id: str = documented("base_link", "frame of the object poses (the robot base)")
    rate: float = documented(5.0, "most camera frames per second to perceive (each takes ~40 ms of CPU at "
                             "320x240)")
    publish_rate: float = documented(20.0, "object states out per second (the held object follows the tool "
                                     "between frames)")
