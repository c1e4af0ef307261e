"""The layout's rules, read from the source (every import, including those inside functions): dependencies point
down only, ROS is imported only by node modules and the ROS backend, Ray only by the distributed training module
(inside its functions), no module reaches into another's private names."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: packages from the bottom up: a module may import its own package and those below it
LAYERS = ("hardware", "skill_lib", "planners", "skill_stack_apps")
#: the only modules that may import rclpy, ROS message packages or the generated interfaces: node modules and
#: the ROS adapters in a `ros/` package (hardware's arm backend, the scheduler's skill client) or module (the
#: operator console's client of the graph)
ROS_MODULES = {"hardware/node.py", "skill_lib/node.py", "planners/node.py", "hardware/perception/node.py",
               "hardware/ros/backend.py",
               "hardware/ros/world.py", "hardware/ros/common.py", "hardware/ros/messages.py",
               "planners/ros/skill_client.py", "skill_stack_apps/recording/node.py",
               "skill_stack_apps/console/ros.py"}
ROS_PACKAGES = ("rclpy", "rcl_interfaces", "builtin_interfaces", "skill_stack_interfaces")
#: the one module that imports Ray, and only when it runs jobs: everything else works without the `ray` extra
RAY_MODULE = "skill_lib/learning/distributed.py"


def _modules() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (REPO / layer).rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def _is_ros(module: str) -> bool:
    top = module.split(".")[0]
    return top in ROS_PACKAGES or top.endswith(("_msgs", "_srvs"))


def test_the_layers_are_all_there():
    assert all((REPO / layer / "__init__.py").is_file() for layer in LAYERS)
    assert len(_modules()) > 50


@pytest.mark.parametrize("layer", LAYERS)
def test_no_import_points_up_a_layer(layer):
    above = set(LAYERS[LAYERS.index(layer) + 1:])
    upward = [f"{path.relative_to(REPO)}:{line} imports {module}"
              for path in (REPO / layer).rglob("*.py") for module, _, line in _imports(path)
              if module.split(".")[0] in above]
    assert not upward, "\n".join(upward)


def test_ros_is_imported_only_by_node_modules_and_the_ros_backend():
    offending = [f"{rel}:{line} imports {module}" for path in _modules()
                 if (rel := str(path.relative_to(REPO))) not in ROS_MODULES
                 for module, _, line in _imports(path) if _is_ros(module)]
    assert not offending, "\n".join(offending)


def test_no_module_imports_another_modules_private_names():
    private = [f"{path.relative_to(REPO)}:{line} imports {name} from {module}"
               for path in _modules() for module, names, line in _imports(path)
               if module.split(".")[0] in LAYERS for name in names if name.startswith("_")]
    assert not private, "\n".join(private)


def test_ray_is_imported_only_inside_the_distributed_training_functions():
    offending = [f"{rel}:{line} imports {module}" for path in _modules()
                 if (rel := str(path.relative_to(REPO))) != RAY_MODULE
                 for module, _, line in _imports(path) if module.split(".")[0] == "ray"]
    assert not offending, "\n".join(offending)
    tree = ast.parse((REPO / RAY_MODULE).read_text())
    top_level = [node.lineno for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                 and any((node.module if isinstance(node, ast.ImportFrom) else alias.name or "").split(".")[0] == "ray"
                         for alias in node.names)]
    assert not top_level, f"{RAY_MODULE} imports Ray at module level (lines {top_level})"
    assert any(module == "ray" for module, _, _ in _imports(REPO / RAY_MODULE))  # the test looks at the right file
