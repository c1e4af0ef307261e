"""ROS 2 arm backend: drives any arm that publishes `sensor_msgs/JointState` and takes
`trajectory_msgs/JointTrajectory` commands (a ros2_control joint trajectory controller, or the hardware
node of this package), with object states from a topic (the simulator, or perception on a robot).

`hardware.ros.config` is plain Python; `hardware.ros.backend` and `hardware.ros.world` need rclpy.
Nothing is imported here, so reading the config never needs ROS.
"""
