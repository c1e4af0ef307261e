"""Test-wide settings: nothing a test (or a process it starts) writes lands in the user's data dir."""
import os
import tempfile

# Set at import, before any fixture starts a subprocess: they inherit it.
os.environ["SKILL_STACK_DATA"] = tempfile.mkdtemp(prefix="skill_stack_test_data_")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
