"""Goal-conditioned gymnasium environments on the project's own PyBullet backend, one per skill.

Observation/action spaces follow panda-gym (dict observation with achieved/desired goal; actions are
tool deltas + gripper in [-1, 1]) so results compare side by side. Each reward term is returned on its
own in `info["reward_terms"]` (task, safety, effort) for multi-critic learners; `reward` is their
weighted sum for single-critic ones.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from hardware.pybullet import PyBulletArm, PyBulletConfig, SimSnapshot
from hardware.scene import ObjectSpec, SceneSpec, load_scene
from skill_lib.runner import apply_action

REWARD_TERMS = ("task", "safety", "effort")


@dataclass
class RewardWeights:
    """Weights of the summed reward (single-critic baseline) and of the critics (multi-critic)."""

    task: float = 1.0
    safety: float = 1.0
    effort: float = 1.0

    def as_array(self) -> np.ndarray:
        return np.array([self.task, self.safety, self.effort], dtype=np.float32)


#: what an environment's training object may be (the `objects` option): 3-5 cm cubes, the Lego brick of the scenes
#: (pybullet_data's, 3.4 x 3.4 x 2.5 cm), or the drawer scene's mug (by its handle: the pick environment only)
OBJECT_KINDS = ("cube", "lego", "mug")
DEFAULT_OBJECTS = ("cube",)
LEGO_URDF = "lego/lego.urdf"


def chosen(value: Any, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """An option that names some of `allowed` (objects, place targets), in `allowed`'s order; ValueError, saying
    `what` it is, for unknown ones or none."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"{what} must be a non-empty list of {', '.join(allowed)}, not {value!r}")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}: choose from {', '.join(allowed)}")
    return tuple(v for v in allowed if v in value)


#: where the training object starts (x, y min; max, metres) unless the `object_box` option says otherwise: every cube
#: of the default scene, with its jitter (pick, place and push; a place's spots on the table too)
OBJECT_BOX = ((0.33, -0.27), (0.65, 0.27))


def corners(value: Any, dims: int, what: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A box option given as its min and max corners of `dims` coordinates each, checked (ValueError naming `what`)."""
    try:
        lo, hi = (tuple(float(v) for v in corner) for corner in value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be two corners of {dims} coordinates, not {value!r}") from None
    if len(lo) != dims or len(hi) != dims or not all(a < b for a, b in zip(lo, hi)):
        raise ValueError(f"{what} must be two corners of {dims} coordinates, min < max, not {value!r}")
    return lo, hi


def trained_object_box(env_options: Mapping[str, Any],
                       default: Sequence[Sequence[float]] = OBJECT_BOX) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Where the object starts in an environment with these options (TrainConfig.env_options), checked."""
    return corners(env_options.get("object_box", default), 2, "object_box")


def trained_objects(env_options: Mapping[str, Any], allowed: Sequence[str] = OBJECT_KINDS) -> tuple[str, ...]:
    """The object kinds an environment with these options (TrainConfig.env_options) trains on, checked against the
    kinds it takes (`allowed`)."""
    return chosen(env_options.get("objects", DEFAULT_OBJECTS), allowed, "objects")


def trained_steps(env_options: Mapping[str, Any], default: int) -> int:
    """The episode limit of an environment with these options (TrainConfig.env_options; its `steps` option, `default`
    without one), checked: the learned skill runs a checkpoint for as many steps as it trained with, and its
    observation counts towards them."""
    value = env_options.get("steps", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 20 <= value <= 200:
        raise ValueError(f"steps must be a whole number of steps, 20-200, not {value!r}")
    return value


def mug_spec() -> ObjectSpec:
    """The drawer scene's mug (config/scenes/drawer.yaml: its URDF and its handle's grasp point)."""
    return next(o for o in load_scene("drawer").objects if o.category == "mug")


def cube_scene(edge: float = 0.04, kind: str = "cube") -> SceneSpec:
    """The training object on the table, named "cube" whatever its kind (the environments' observations and
    goals refer to it by that name); `edge` sizes a cube, a Lego brick has its one size."""
    if kind == "cube":
        spec = ObjectSpec(name="cube", category="cube", color="red", position=(0.5, 0.0), edge=edge)
    elif kind == "lego":
        spec = ObjectSpec(name="cube", category="lego", color="yellow", position=(0.5, 0.0), urdf=LEGO_URDF)
    else:
        spec = dataclasses.replace(mug_spec(), name="cube", position=(0.5, 0.0), jitter=0.0)
    return SceneSpec(name="learning", jitter=0.0, objects=(spec,))


class SkillEnv(gym.Env):
    """Base: one object (a cube unless the `objects` option says otherwise) on the table, the Panda above it.
    Subclasses define goals and success."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    max_steps = 50
    distance_threshold = 0.02
    goal_dim = 3
    #: where the cube starts (x and y ranges, metres)
    cube_box = ((0.38, -0.15), (0.62, 0.15))
    #: the object kinds this environment can train on (its `objects` option)
    object_kinds: tuple[str, ...] = ("cube", "lego")

    def __init__(self, render_mode: str | None = None, weights: RewardWeights | None = None,
                 cube_edges: tuple[float, float] = (0.03, 0.05), objects: Sequence[str] = DEFAULT_OBJECTS,
                 object_box: Sequence[Sequence[float]] | None = None) -> None:
        self.render_mode = render_mode
        if object_box is not None:
            self.cube_box = trained_object_box({"object_box": object_box})
        self.weights = weights or RewardWeights()
        self.cube_edges = cube_edges
        self.objects = trained_objects({"objects": objects}, self.object_kinds)
        self.kind = self.objects[0]  # this episode's object kind
        self._arms: dict[tuple[str, float], PyBulletArm] = {}  # one world per object kind and size, built lazily
        self._built: dict[tuple[str, float], SimSnapshot] = {}  # each world as built, restored at every reset
        self.arm: PyBulletArm | None = None
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        obs_box = gym.spaces.Box(-10.0, 10.0, shape=(19,), dtype=np.float32)
        goal_box = gym.spaces.Box(-10.0, 10.0, shape=(self.goal_dim,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict(
            {"observation": obs_box, "achieved_goal": goal_box, "desired_goal": goal_box})
        self.goal = np.zeros(self.goal_dim, dtype=np.float32)
        self._last_action = np.zeros(4, dtype=np.float32)
        self._steps = 0
        #: tool yaw for this episode, chosen from the goal like the skill does (not a policy output)
        self.tool_yaw = 0.0

    # -- subclasses -----------------------------------------------------------------------------
    def _sample_goal(self) -> np.ndarray:
        raise NotImplementedError

    def _achieved(self) -> np.ndarray:
        raise NotImplementedError

    def _setup_episode(self) -> None:
        """Put the world in the skill's start state (e.g. cube in hand for place)."""

    def demonstrator(self):
        """The scripted reference controller for this skill and goal (a WaypointPolicy), for
        behaviour-cloning warm starts; call after reset. Its `act(ctx)` takes `self.skill_context()`."""
        raise NotImplementedError

    def skill_context(self):
        from skill_lib.spec import SkillContext
        return SkillContext(self.arm, self.arm, {"object": "cube"})

    def _success(self, achieved: np.ndarray, goal: np.ndarray) -> np.ndarray:
        return np.linalg.norm(achieved - goal, axis=-1) < self.distance_threshold

    # -- gymnasium API --------------------------------------------------------------------------
    def _scene(self, edge: float, kind: str = "cube") -> SceneSpec:
        return cube_scene(edge, kind)

    def _world(self, kind: str, edge: float) -> PyBulletArm:
        if (kind, edge) not in self._arms:
            arm = PyBulletArm(PyBulletConfig(seed=0), scene=self._scene(edge, kind))
            self._arms[kind, edge], self._built[kind, edge] = arm, arm.save_state()
        return self._arms[kind, edge]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        # one kind: no draw (with cubes alone, the draws of the environments before the `objects` option, so seeds
        # replay them)
        self.kind = kind = self.objects[int(self.np_random.integers(len(self.objects)))] if len(self.objects) > 1 \
            else self.objects[0]
        edge = float(self.np_random.choice(self.cube_edges)) if kind == "cube" else 0.0
        self.arm = self._world(kind, edge)
        # The world as built, not as the last episode left it: contacts, their solver warm starts and objects'
        # sleep carried over, and a seed's episode depended on the episodes before it (12 of 30 place and 26 of
        # 30 push demonstrations differed).
        self.arm.restore_state(self._built[kind, edge])
        self.arm.reset_robot()  # exactly at home, not as it settled there
        self._place_object(kind, edge)
        for _ in range(3):
            self.arm.step()
        self._setup_episode()
        self.goal = self._sample_goal().astype(np.float32)
        self._last_action = np.zeros(4, dtype=np.float32)
        self._steps = 0
        return self._obs(), {"is_success": False}

    def _place_object(self, kind: str, edge: float) -> None:
        """Put the training object where this episode starts it (drawn from the cube box)."""
        x, y = self.np_random.uniform(*self.cube_box)
        height = edge if kind == "cube" else float(self.arm.object("cube").half_extents[2] * 2)
        self.arm.set_object_pose("cube", [x, y, height / 2 + 0.001], yaw=0.0)

    def _start_hand(self, start: np.ndarray, yaw: float = 0.0) -> None:
        """Move the hand to `start`, turned by `yaw`, before the episode begins (at most 40 steps)."""
        orientation = self.arm.tool_down(yaw)
        for _ in range(40):
            self.arm.command_ee(start, orientation)
            self.arm.step()
            if np.linalg.norm(self.arm.ee_pose().position - start) < 0.01:
                break

    def _observed(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """(position, size, touching the fingers) of what the policy handles, as its observation shows it."""
        cube = self.arm.object("cube")
        return cube.position, cube.half_extents * 2, self.arm.contacts("gripper", "cube")

    def _obs(self) -> dict[str, np.ndarray]:
        arm = self.arm
        tcp = arm.ee_pose().position
        position, size, touching = self._observed()
        obs = np.concatenate([
            tcp, [arm.gripper_width()], position, position - tcp, size,
            self._last_action, [float(touching)], [self._steps / self.max_steps],
        ]).astype(np.float32)
        return {"observation": obs, "achieved_goal": self._achieved().astype(np.float32),
                "desired_goal": self.goal.copy()}

    def _executed(self, action: np.ndarray) -> np.ndarray:
        """The action the arm is given for the policy's (clipped) one: the same, unless the skill's adapter in the
        skill layer overrides some of it on the arm too (place: PlaceEnv's `guarded` option). The episode records
        the policy's action, the observation the one that ran (as the adapter's): recording what ran made the RL
        phase collapse (docs/BENCHMARKS.md)."""
        return action

    def step(self, action: np.ndarray):
        action = self._executed(np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0))
        stats = self.arm.safety.stats
        before = stats.rejected + stats.workspace_limited
        apply_action(self.arm, action, self.tool_yaw)
        self.arm.step()
        self._steps += 1
        unsafe = (stats.rejected + stats.workspace_limited > before) or self._robot_hits_table()
        achieved = self._achieved()
        let_go = self._let_go()
        terms = np.array([
            self.compute_reward(achieved, self.goal, {"let_go": let_go}),
            -1.0 if unsafe else 0.0,
            -0.05 * float(action[:3] @ action[:3]) - 0.05 * float(np.sum((action - self._last_action) ** 2)),
        ], dtype=np.float32)
        self._last_action = action
        success = bool(self._success(achieved, self.goal)) and let_go
        info = {"reward_terms": terms, "is_success": success, "unsafe": unsafe, "let_go": let_go}
        truncated = self._steps >= self.max_steps
        return self._obs(), float(terms @ self.weights.as_array()), False, truncated, info

    def _robot_hits_table(self) -> bool:
        return self.arm.robot_touches("table")

    def _let_go(self) -> bool:
        """Whether the hand is where the skill's end state needs it (place: open, off the cube and clear above
        it); others don't care."""
        return True

    def compute_reward(self, achieved_goal, desired_goal, info) -> np.ndarray | float:
        """The task term only (sparse, -1 until success), vectorised for hindsight relabelling.
        `info["let_go"]` (default True): whether the hand had let go, which success needs for place; without
        it a cube held at the goal earned as much as one placed there, and RL had no reason to open the hand."""
        done = self._success(np.asarray(achieved_goal), np.asarray(desired_goal)) & np.asarray(info.get("let_go", True))
        reward = -(~done).astype(np.float32)
        return reward if reward.ndim else float(reward)

    def render(self):
        return self.arm.camera_rgb() if self.arm is not None else None

    def close(self) -> None:
        for arm in self._arms.values():
            arm.close()
        self._arms.clear()
        self._built.clear()
