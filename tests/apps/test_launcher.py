"""`skillstack launch`: YAML launch files -> node command lines with standard --ros-args (no ROS needed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from skill_stack_apps.launcher import LaunchError, NodeLaunch, load_launch, parse_arguments

REPO = Path(__file__).resolve().parents[2]


def test_sim_launch_starts_three_nodes_with_the_config_and_arguments():
    nodes = load_launch(REPO / "launch/sim.launch.yaml", {"namespace": "robot1", "seed": "3"})
    assert [n.name for n in nodes] == ["hardware", "skill_server", "scheduler"]
    hw = nodes[0]
    assert hw.executable == "hardware_node" and hw.namespace == "robot1"
    assert hw.param_files == [str(REPO / "config/sim.yaml")]
    assert ("seed", "3") in hw.params and ("backend", "pybullet") in hw.params
    args = hw.ros_arguments()
    assert args[:5] == ["--ros-args", "-r", "__node:=hardware", "-r", "__ns:=/robot1"]
    assert ["-p", "seed:=3"] == args[args.index("seed:=3") - 1: args.index("seed:=3") + 1]


def test_robot_launch_skips_the_hardware_node_for_ros2_control_and_perceives_the_objects():
    nodes = load_launch(REPO / "launch/robot.launch.yaml", {"scene": "/robot/table.yaml"})
    assert [n.name for n in nodes] == ["skill_server", "scheduler", "perception"]
    assert ("scene", "/robot/table.yaml") in nodes[2].params and nodes[2].executable == "perception_node"
    nodes = load_launch(REPO / "launch/robot.launch.yaml", {"backend": "my_arm.driver:make", "perception": "false"})
    assert [n.name for n in nodes] == ["hardware", "skill_server", "scheduler"]
    assert ("backend", "my_arm.driver:make") in nodes[0].params


def test_sim_launch_with_perception_runs_the_skills_on_what_the_camera_sees():
    for perception, topic in (("false", "objects"), ("true", "perceived_objects")):
        nodes = {n.name: n for n in load_launch(REPO / "launch/sim.launch.yaml", {"perception": perception})}
        assert ("perception" in nodes) == (perception == "true")
        for name in ("skill_server", "scheduler"):
            assert ("objects_topic", topic) in nodes[name].params, name


def test_groups_namespaces_conditions_remaps(tmp_path):
    file = tmp_path / "x.launch.yaml"
    file.write_text("""
launch:
  - arg: {name: ns, default: outer}
  - arg: {name: enabled, default: "true"}
  - let: {name: topic, value: "/$(var ns)/cmd"}
  - group:
      children:
        - push-ros-namespace: {namespace: "$(var ns)"}
        - node: {pkg: skill_stack, exec: scheduler, name: s, namespace: inner,
                 remap: [{from: joint_trajectory, to: "$(var topic)"}], param: [{name: empty, value: ""}],
                 ros_args: "--log-level debug"}
        - node: {pkg: skill_stack, exec: scheduler, name: second, if: "$(var enabled)", namespace: /abs}
        - node: {pkg: skill_stack, exec: scheduler, name: never, unless: "$(var enabled)"}
""")
    nodes = load_launch(file)
    assert [(n.name, n.namespace) for n in nodes] == [("s", "outer/inner"), ("second", "abs")]
    args = nodes[0].ros_arguments()
    assert "joint_trajectory:=/outer/cmd" in args and "empty:=''" in args and args[-2:] == ["--log-level", "debug"]
    assert load_launch(file, {"enabled": "false"})[-1].name == "never"


@pytest.mark.parametrize("text, message", [
    ("launch:\n  - include: {file: x}\n", "unsupported launch entry 'include'"),
    ("launch:\n  - node: {pkg: p, exec: e, name: $(var nope)}\n", "not a declared argument"),
    ("launch:\n  - node: {pkg: p, exec: e, name: $(command ls)}\n", "unsupported substitution"),
    ("nodes: []\n", "top-level `launch:` list"),
    ("launch:\n  - arg: {name: a}\n", "has no default"),
])
def test_bad_launch_files_are_refused_with_a_reason(tmp_path, text, message):
    file = tmp_path / "bad.launch.yaml"
    file.write_text(text)
    with pytest.raises(LaunchError, match=message.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")):
        load_launch(file)


def test_arguments_and_unknown_arguments():
    assert parse_arguments(["a:=1", "b:=x:=y", "c:="]) == {"a": "1", "b": "x:=y", "c": ""}
    with pytest.raises(LaunchError, match="name:=value"):
        parse_arguments(["a=1"])
    with pytest.raises(LaunchError, match="unknown argument"):
        load_launch(REPO / "launch/sim.launch.yaml", {"robott": "panda"})


def test_executables_come_from_the_installed_entry_points():
    command = NodeLaunch("skill_stack", "hardware_node").command()
    assert command[0] == sys.executable and "from hardware.node import main" in command[2]
    with pytest.raises(LaunchError, match="no executable"):
        NodeLaunch("skill_stack", "no_such_node").command()


def test_cli_print_and_errors():
    run = lambda *a: subprocess.run([sys.executable, "-m", "skill_stack_apps.cli", "launch", *a], cwd=REPO,  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    printed = run("sim", "namespace:=r2", "--print")
    assert printed.returncode == 0 and printed.stdout.count("--ros-args") == 3 and "__ns:=/r2" in printed.stdout
    missing = run("nonexistent.launch.yaml")
    assert missing.returncode == 2 and "sim.launch.yaml" in missing.stderr
