"""The scheduler's ROS 2 clients (needs rclpy): the skill server's ExecuteSkill action behind the executor's
SkillRunner seam. Nothing is imported here, so `planners` never needs ROS."""
