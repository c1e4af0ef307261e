"""Tabletop perception: RGB-D frames -> the ObjectStates the rest of the stack uses (no ROS here; a node wraps
it). One module per step: plane (the table), segment (what stands on it), measure (each object's box and
colour), colors (colour names), models (each object's shape: a box's edge, a URDF's collision shapes),
matching (which scene object it is), split (touching objects of one colour), drawer (an articulated object's
opening), tracker (names kept over frames), robot_filter (the robot's own body, left out given its joints).

    perception = Perception("default")
    result = perception.update(arm.rgbd())     # any RGBDFrame: the simulator's or a real camera's
    result = perception.update(frame, robot_model(robot).body(q, width))   # the arm left out of it
    result.objects["red_cube"].position        # base frame, metres
"""
from hardware.perception.config import PerceptionConfig
from hardware.perception.measure import Detection
from hardware.perception.plane import NoTableError, TablePlane, fit_table_plane
from hardware.perception.tracker import Perception, PerceptionResult

__all__ = ["Detection", "NoTableError", "Perception", "PerceptionConfig", "PerceptionResult", "TablePlane",
           "fit_table_plane"]
