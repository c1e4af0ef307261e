"""Scene descriptions: YAML files in config/scenes, validated into dataclasses."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from hardware.resources import config_dir, resolve_config
from hardware.types import ObjectState


class SceneError(ValueError):
    """A scene file is missing or malformed."""


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    category: str
    position: tuple[float, float]
    color: str | None = None
    size: str | None = None
    synonyms: tuple[str, ...] = ()
    urdf: str | None = None  # None: a box primitive of edge `edge`
    edge: float | None = None
    scale: float = 1.0
    container: bool = False
    #: a fixed base with one prismatic joint (a drawer): the world reports the moving link and how far open
    articulated: bool = False
    #: named grasps in the object's own (URDF base) frame: name -> (x, y, z, yaw); e.g. a mug's handle
    grasp_points: tuple[tuple[str, tuple[float, float, float, float]], ...] = ()
    jitter: float | None = None  # None: the scene's default
    yaw: float = 0.0
    mass: float = 0.1


@dataclass(frozen=True)
class SceneSpec:
    name: str
    objects: tuple[ObjectSpec, ...]
    jitter: float = 0.02
    table_urdf: str = "table/table.urdf"
    table_position: tuple[float, float, float] = (0.5, 0.0, -0.626)
    camera_eye: tuple[float, float, float] = (1.15, 0.0, 0.65)
    camera_target: tuple[float, float, float] = (0.45, 0.0, 0.0)
    camera_fov: float = 55.0
    source: Path | None = field(default=None, compare=False)


COLORS_RGBA = {
    "red": (0.85, 0.1, 0.1, 1), "green": (0.1, 0.7, 0.2, 1), "blue": (0.1, 0.25, 0.9, 1),
    "yellow": (0.95, 0.85, 0.1, 1), "orange": (1.0, 0.5, 0.0, 1), "purple": (0.55, 0.2, 0.7, 1),
    "white": (0.95, 0.95, 0.95, 1), "black": (0.1, 0.1, 0.1, 1),
}


def _resolve_urdf(urdf: str | None, scene_file: Path) -> str | None:
    """A URDF of the project (next to the scene, or under config/) as an absolute path, so it loads from
    any working directory; anything else is left for pybullet_data's search path."""
    if urdf is None or Path(urdf).is_absolute():
        return urdf
    for base in (scene_file.parent, config_dir()):
        if (base / urdf).is_file():
            return str((base / urdf).resolve())
    return urdf


def _object(raw: dict, sizes: dict[str, float], where: str) -> ObjectSpec:
    if not isinstance(raw, dict):
        raise SceneError(f"{where}: each object must be a mapping with name, category and position, got {raw!r}")
    try:
        name, category, pos = raw["name"], raw["category"], raw["position"]
    except KeyError as missing:
        raise SceneError(f"{where}: object needs {missing}") from None
    if not isinstance(pos, (list, tuple)) or len(pos) != 2:
        raise SceneError(f"{where}: {name}.position must be [x, y] on the table")
    size, edge = raw.get("size"), raw.get("edge")
    if raw.get("articulated") and raw.get("urdf") is None:
        raise SceneError(f"{where}: articulated object {name} needs a `urdf` with one prismatic joint")
    if raw.get("urdf") is None and edge is None:
        if size not in sizes:
            raise SceneError(f"{where}: box {name} needs `edge` or a size in {sorted(sizes)}")
        edge = sizes[size]
    color = raw.get("color")
    if color is not None and color not in COLORS_RGBA:
        raise SceneError(f"{where}: {name} has unknown colour {color!r}; known: {sorted(COLORS_RGBA)}")
    try:
        return ObjectSpec(
            name=name, category=category, position=(float(pos[0]), float(pos[1])), color=color, size=size,
            synonyms=tuple(raw.get("synonyms", ())), urdf=raw.get("urdf"),
            edge=None if edge is None else float(edge),
            scale=float(raw.get("scale", 1.0)), container=bool(raw.get("container", False)),
            articulated=bool(raw.get("articulated", False)), grasp_points=_grasp_points(raw, where, name),
            jitter=raw.get("jitter"), yaw=float(raw.get("yaw", 0.0)), mass=float(raw.get("mass", 0.1)),
        )
    except (TypeError, ValueError) as err:
        raise SceneError(f"{where}: {name} has a non-numeric value ({err})") from None


def _grasp_points(raw: dict, where: str, name: str) -> tuple[tuple[str, tuple[float, float, float, float]], ...]:
    points = raw.get("grasp_points") or {}
    if not isinstance(points, dict) or not all(isinstance(v, (list, tuple)) and len(v) == 4 for v in points.values()):
        raise SceneError(f"{where}: {name}.grasp_points must map names to [x, y, z, yaw] in the object's frame")
    return tuple((str(k), tuple(float(x) for x in v)) for k, v in points.items())


def load_scene(path: str | Path = "default") -> SceneSpec:
    """Load a scene by file path or by name in config/scenes."""
    try:
        file = resolve_config(path, "scenes")
    except FileNotFoundError as err:
        raise SceneError(str(err)) from None
    try:
        raw = yaml.safe_load(file.read_text())
    except yaml.YAMLError as err:
        raise SceneError(f"{file}: not valid YAML ({err})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("objects"), list):
        raise SceneError(f"{file}: expected a mapping with an `objects` list")
    sizes = raw.get("cube_sizes", {"large": 0.05, "small": 0.03})
    objects = tuple(dataclasses.replace(o, urdf=_resolve_urdf(o.urdf, file))
                    for o in (_object(o, sizes, str(file)) for o in raw["objects"]))
    names = [o.name for o in objects]
    if len(set(names)) != len(names):
        raise SceneError(f"{file}: object names must be unique")
    table = raw.get("table") or {}
    camera = raw.get("camera") or {}
    if not isinstance(table, dict) or not isinstance(camera, dict):
        raise SceneError(f"{file}: `table` and `camera` must be mappings")
    try:
        return SceneSpec(
            name=raw.get("name", file.stem), objects=objects, jitter=float(raw.get("jitter", 0.02)),
            table_urdf=table.get("urdf", "table/table.urdf"),
            table_position=tuple(float(v) for v in table.get("position", (0.5, 0.0, -0.626))),
            camera_eye=tuple(float(v) for v in camera.get("eye", (1.15, 0.0, 0.65))),
            camera_target=tuple(float(v) for v in camera.get("target", (0.45, 0.0, 0.0))),
            camera_fov=float(camera.get("fov", 55.0)), source=file,
        )
    except (TypeError, ValueError) as err:
        raise SceneError(f"{file}: table/camera/jitter values must be numbers ({err})") from None


def nominal_objects(scene: str | Path | SceneSpec = "default") -> dict[str, ObjectState]:
    """A scene's objects at their nominal poses, as a world view would report them: enough to ground
    references (corrections, voice grammars) without a simulator."""
    spec = scene if isinstance(scene, SceneSpec) else load_scene(scene)
    objects = {}
    for obj in spec.objects:
        half = np.full(3, (obj.edge or 0.0) / 2)
        objects[obj.name] = ObjectState(
            name=obj.name, category=obj.category, position=np.array([*obj.position, half[2]]),
            orientation=np.array([0.0, 0.0, 0.0, 1.0]), half_extents=half, color=obj.color, size=obj.size,
            is_container=obj.container, synonyms=obj.synonyms, opening=0.0 if obj.articulated else None,
            grasp_points={name: np.array([obj.position[0] + x, obj.position[1] + y, z, yaw + obj.yaw])
                          for name, (x, y, z, yaw) in obj.grasp_points})
    return objects
