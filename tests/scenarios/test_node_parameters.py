"""The node executables' parameters come from one config dataclass each: every key the parameter files set
is one of them (with the type ROS will enforce), `--help` lists them all, and a node declares them all with
their docs and the values of a parameter file."""
from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest
import yaml
from ros_helpers import REPO, domain_id, requires_ros

from hardware.node_config import HardwareNodeConfig
from hardware.params import parameters
from hardware.perception.node_config import PerceptionNodeConfig
from planners.node_config import SchedulerConfig
from skill_lib.node_config import SkillServerConfig

#: executable (setup.py console script) -> the config dataclass of its node
CONFIGS = {"hardware_node": HardwareNodeConfig, "skill_server": SkillServerConfig, "scheduler": SchedulerConfig,
           "perception_node": PerceptionNodeConfig}
PARAM_FILES = ["config/sim.yaml", "config/robot.yaml"]


def launched_nodes() -> dict[str, str]:
    """Node name -> executable, from the launch files (the names the parameter files' keys match)."""
    names: dict[str, str] = {}
    for file in sorted((REPO / "launch").glob("*.launch.yaml")):
        for entry in yaml.safe_load(file.read_text())["launch"]:
            if "node" in entry:
                names[entry["node"]["name"]] = entry["node"]["exec"]
    return names


def test_every_executable_has_a_config():
    scripts = {e.name: e.value for e in metadata.entry_points(group="console_scripts")}
    for executable in CONFIGS:
        assert executable in scripts, f"{executable} is not installed (pip install -e .)"
    assert set(launched_nodes().values()) == set(CONFIGS)


@pytest.mark.parametrize("param_file", PARAM_FILES)
def test_every_key_of_a_parameter_file_is_a_parameter_of_that_node(param_file):
    nodes = launched_nodes()
    content = yaml.safe_load((REPO / param_file).read_text())
    assert content, param_file
    for key, section in content.items():
        node = key.rsplit("/", 1)[-1]
        assert node in nodes, f"{param_file}: {key} matches no node of the launch files"
        known = {p.name: p for p in parameters(CONFIGS[nodes[node]])}
        for name, value in section["ros__parameters"].items():
            assert name in known, f"{param_file}: {key}.{name} is not a parameter of {nodes[node]}"
            default = known[name].default
            # ROS types a parameter by its default and refuses another type from a file (20 for a float)
            assert type(value) is type(default), f"{param_file}: {key}.{name}: {value!r} is not {known[name].type_name}"
            if isinstance(default, list):
                assert {type(v) for v in value} <= {type(v) for v in default}, f"{key}.{name}: {value!r}"


@requires_ros
@pytest.mark.parametrize("executable", list(CONFIGS))
def test_help_lists_every_parameter_without_starting_ros(executable):
    module, _, attr = next(e for e in metadata.entry_points(group="console_scripts") if e.name == executable
                           ).value.partition(":")
    # as the console script runs it; a node that started would spin and hit the timeout
    code = f"import sys; sys.argv[0] = {executable!r}; from {module} import {attr} as m; sys.exit(m())"
    run = subprocess.run([sys.executable, "-c", code, "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"usage: {executable} ")
    lines = run.stdout.splitlines()
    for p in parameters(CONFIGS[executable]):
        assert any(line.startswith(f"  {p.name} ({p.type_name}, default ") for line in lines), p.name
        assert " ".join(p.doc.split())[:60] in " ".join(run.stdout.split()), p.name


@requires_ros
def test_a_node_declares_every_parameter_with_its_doc_and_the_file_values():
    import rclpy

    from hardware.ros.common import declare_config

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id())
    try:
        for node_name, executable in launched_nodes().items():
            config = CONFIGS[executable]
            node = rclpy.create_node(node_name, context=context, cli_args=[
                "--ros-args", "--params-file", str(REPO / "config/robot.yaml"), "-p", "robot:=other_arm"])
            try:
                filled = declare_config(node, config)
                described = {p.name: d for p, d in zip(parameters(config),
                                                        node.describe_parameters([p.name for p in parameters(config)]))}
                for p in parameters(config):
                    assert described[p.name].description == p.doc, p.name
                given = yaml.safe_load((REPO / "config/robot.yaml").read_text())[f"/**/{node_name}"]["ros__parameters"]
                values = {p.name: node.get_parameter(p.name).value for p in parameters(config)}
                for name, value in given.items():
                    expected = "other_arm" if name == "robot" else value
                    assert values[name] == expected, name
                if executable == "skill_server":
                    arm = filled.link.arm
                    assert arm.robot == "other_arm" and arm.time_from_start == given["time_from_start"]
                    assert filled.learned_skills == given["learned_skills"]
                    assert filled.arm_config().safety == {"max_joint_velocity": given["max_joint_velocity"]}
                if executable == "hardware_node":
                    assert filled.options.robot == "other_arm" and filled.camera_rate == given["camera_rate"]
            finally:
                node.destroy_node()
    finally:
        context.try_shutdown()
