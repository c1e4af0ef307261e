"""Parameters of the perception node (hardware.perception.node), as a dataclass: plain Python, no ROS."""
from __future__ import annotations

from dataclasses import dataclass

from hardware.params import documented


@dataclass
class PerceptionNodeConfig:
    """Tabletop perception on an RGB-D camera's topics: the objects of a scene, named after their descriptions,
    published as ObjectStates like the simulator's truth."""

    scene: str = documented("default", "scene in config/scenes (or a YAML path) whose object descriptions name "
                            "what is seen")
    color_topic: str = documented("camera/image_raw", "sensor_msgs/Image in (rgb8 or bgr8)")
    depth_topic: str = documented("camera/depth/image_raw", "sensor_msgs/Image in (32FC1 metres or 16UC1 mm), "
                                  "registered to the colour image")
    camera_info_topic: str = documented("camera/camera_info", "sensor_msgs/CameraInfo in (the images' "
                                        "intrinsics)")
    camera_pose: list[float] = documented([0.0], "the camera's optical frame in the base frame from calibration: x y z "
                                   "qx qy qz qw; [0.0]: the scene's simulated camera (config/scenes camera:)")
    objects_topic: str = documented("perceived_objects", "skill_stack_interfaces/ObjectStates out ('objects' to "
                                    "replace the simulator's truth)")
    frame_id: str = documented("base_link", "frame of the object poses (the robot base)")
    rate: float = documented(5.0, "most frames per second to process (each takes ~40 ms of CPU at 320x240)")
