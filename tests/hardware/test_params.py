"""Node parameters as documented dataclass fields (hardware.params), without ROS: flattening, type checks,
building a config from values, and the `--help` text."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from hardware.params import Parameter, build, documented, help_text, nested, parameters, wants_help


@dataclass
class Inner:
    """An inner config."""

    topic: str = documented("in", "a topic")
    rate: float = documented(2.0, "per second")
    #: not a parameter: code fills it
    extra: dict = field(default_factory=dict)


@dataclass
class Outer:
    """The outer config.

    More about it."""

    name: str = documented("x", "a name")
    inner: Inner = nested(Inner)
    items: list[str] = documented(["a", "b"], "some items")
    on: bool = documented(True, "a switch")


def test_parameters_flatten_nested_configs_in_field_order_and_skip_plain_fields():
    assert parameters(Outer) == [
        Parameter("name", "str", "x", "a name"), Parameter("topic", "str", "in", "a topic"),
        Parameter("rate", "float", 2.0, "per second"), Parameter("items", "list[str]", ["a", "b"], "some items"),
        Parameter("on", "bool", True, "a switch")]


def test_defaults_are_the_dataclass_defaults_and_lists_are_not_shared():
    a, b = Outer(), Outer()
    assert a.inner == Inner() and a.items == ["a", "b"] and a.on is True
    a.items.append("c")
    assert b.items == ["a", "b"] and parameters(Outer)[3].default == ["a", "b"]


def test_build_fills_given_values_into_nested_configs_and_keeps_defaults():
    # rclpy may hand an array over as another sequence (array.array for numbers): the config holds lists
    config = build(Outer, {"rate": 5.0, "items": ("p", "q"), "name": "y"})
    assert config == Outer(name="y", inner=Inner(rate=5.0), items=["p", "q"])
    assert isinstance(config.items, list)
    assert build(Outer, {}) == Outer()


def test_a_default_must_have_its_annotated_type_exactly():
    @dataclass
    class IntForFloat:
        hz: float = documented(20, "a float parameter with an int default: ROS would type it INTEGER")

    @dataclass
    class BoolForInt:
        n: int = documented(True, "bool is no int here")

    @dataclass
    class EmptyList:
        names: list[str] = documented([], "ROS cannot type an empty array")

    @dataclass
    class TupleParam:
        names: tuple[str, ...] = documented(("a",), "arrays are lists")

    for config in (IntForFloat, BoolForInt, EmptyList, TupleParam):
        with pytest.raises(TypeError, match=config.__name__):
            parameters(config)


def test_two_parameters_with_one_name_are_refused():
    @dataclass
    class Clash:
        topic: str = documented("out", "clashes with Inner.topic")
        inner: Inner = nested(Inner)

    with pytest.raises(ValueError, match="'topic'"):
        parameters(Clash)


@pytest.mark.parametrize("argv, wanted", [
    (["node", "--help"], True), (["node", "-h"], True), (["node"], False),
    (["node", "--ros-args", "-p", "x:=1"], False), (["node", "--ros-args", "-h"], False),
    (["node", "--help", "--ros-args", "-r", "__ns:=/a"], True)])
def test_help_is_asked_for_before_the_ros_arguments(argv, wanted):
    assert wants_help(argv) is wanted


def test_help_lists_every_parameter_with_type_default_and_doc():
    text = help_text(Outer, "outer_node")
    assert text.startswith("usage: outer_node ") and "The outer config.\n\nMore about it." in text
    for line in ('  name (str, default "x")', '  rate (float, default 2.0)', '  items (list[str], default ["a", "b"])',
                 '  on (bool, default true)', "      a switch"):
        assert line in text.splitlines(), line
    assert "extra" not in text


def test_configs_import_without_ros():
    """The node configs are plain Python: `--help` and tools read them where rclpy is not installed."""
    code = ("import sys; import hardware.node_config, skill_lib.node_config, planners.node_config; "
            "sys.exit('rclpy' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
