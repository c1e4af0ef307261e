"""Learned policies in the skill layer's policy slot.

A policy trained in a skill's environment sees the same observation here, built from the live arm and
world instead of the training scene, so a checkpoint drives the real skill. The checkpoint is the promoted
version in the policy registry (skill_lib/learning/registry.py): `checkpoints/<skill>/policy.pt` until a
registry says otherwise; skills without one keep their scripted controller, and the episode log says which ran.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hardware.types import quaternion_yaw
from skill_lib import predicates as P
from skill_lib.controllers import CLOSED, gripper_action_for_width, towards
from skill_lib.learning.registry import CHECKPOINTS, PolicyRegistry
from skill_lib.spec import Policy, SkillContext, SkillSpec

if TYPE_CHECKING:
    import gymnasium as gym

    from skill_lib.learning.mcsac import TrainConfig


def _observation(ctx: SkillContext, obj_position: np.ndarray, obj_size: np.ndarray, touching: bool,
                 last_action: np.ndarray, step: int, max_steps: int) -> np.ndarray:
    """The training environments' observation (skill_lib/learning/envs/base.py), from the live world."""
    tcp = ctx.arm.ee_pose().position
    return np.concatenate([
        tcp, [ctx.arm.gripper_width()], obj_position, obj_position - tcp, obj_size, last_action, [float(touching)],
        [step / max_steps],
    ]).astype(np.float32)


#: reach ignores the training cube, but the network still sees it: show a typical one, not the target
#: (a 24 cm tray is far outside the cube sizes it was trained with and threw the policy off)
STAND_IN_CUBE = (np.array([0.5, 0.0, 0.02]), np.array([0.04, 0.04, 0.04]))


class LearnedPolicy(Policy):
    """The skill-slot adapter of a trained policy: builds the training observation from the live world,
    acts deterministically, and declines contexts outside what it was trained on (the executor then runs
    the scripted controller and logs why)."""

    kind = "learned"
    max_steps = 50
    settle_steps = 3
    tolerance = 0.01  # metres from the goal that count as there

    def __init__(self, agent) -> None:
        self.agent = agent

    @property
    def env_options(self) -> dict:
        """The environment options its checkpoint was trained with (TrainConfig.env_options): what it takes. {}
        without a checkpoint (an adapter built for its declines alone): the environments' defaults."""
        config = getattr(self.agent, "config", None)
        return config.env_options if config is not None else {}

    def _goal(self, ctx: SkillContext) -> np.ndarray:
        raise NotImplementedError

    def _object(self, ctx: SkillContext) -> tuple[np.ndarray, np.ndarray, bool]:
        """(position, size, touching the gripper) of the object the policy was trained to handle."""
        raise NotImplementedError

    def _achieved(self, ctx: SkillContext) -> np.ndarray:
        raise NotImplementedError

    def _reached(self, ctx: SkillContext) -> bool:
        return bool(np.linalg.norm(self._achieved(ctx) - self.goal) < self.tolerance)

    def reset(self, ctx: SkillContext) -> None:
        self._step, self._settled = 0, 0
        self._last = np.zeros(4, dtype=np.float32)
        self.goal = self._goal(ctx).astype(np.float32)

    def act(self, ctx: SkillContext) -> np.ndarray:
        self._settled = self._settled + 1 if self._reached(ctx) else 0
        obs = {"observation": _observation(ctx, *self._object(ctx), self._last, self._step, self.max_steps),
               "achieved_goal": self._achieved(ctx).astype(np.float32), "desired_goal": self.goal}
        action = self._guarded(ctx, self.agent.act(obs, deterministic=True))
        action[:3] *= float(ctx.params.get("speed") or 1.0)  # an operator's "slower" still applies
        self._last, self._step = action.astype(np.float32), self._step + 1
        return action

    def _guarded(self, ctx: SkillContext, action: np.ndarray) -> np.ndarray:
        """The action with what this skill must never do in the scene taken out (nothing, by default)."""
        return action

    def done(self, ctx: SkillContext) -> bool:
        return self._settled >= self.settle_steps or self._step >= self.max_steps

    def progress(self) -> float:
        return min(1.0, self._step / self.max_steps)


class LearnedMoveTo(LearnedPolicy):
    """move_to driven by the reach policy: goal = above the target object by `height`. With a held object it runs
    only a policy trained to keep one (the config's env_options `held` > 0), sees that object as it was trained to,
    and never opens the hand (move_to keeps the gripper as it is)."""

    def __init__(self, agent) -> None:
        from skill_lib.learning.envs.reach import trained_held

        super().__init__(agent)
        self.trained_held = trained_held(self.env_options) > 0.0
        self._held: str | None = None  # what the hand holds at the start, if anything

    def declines(self, world, params: dict, tool: np.ndarray | None = None) -> str | None:
        held = [n for n in world.objects() if world.contacts("gripper", n)]
        if held and not self.trained_held:  # the reach policy trained with an empty hand opens it
            return f"the learned move_to was trained with an empty gripper, and it holds the {held[0]}"
        return _not_trained_on(world.object(held[0])) if held else None  # the reach environment holds cubes

    def reset(self, ctx: SkillContext) -> None:
        self._held = next((n for n in ctx.world.objects() if ctx.world.contacts("gripper", n)), None)
        super().reset(ctx)

    def _goal(self, ctx: SkillContext) -> np.ndarray:
        obj = ctx.world.object(ctx.params["target"])
        return np.array([obj.position[0], obj.position[1], obj.top_z + ctx.params["height"]])

    def _object(self, ctx: SkillContext) -> tuple[np.ndarray, np.ndarray, bool]:
        if self._held is None:
            return (*STAND_IN_CUBE, False)
        obj = ctx.world.object(self._held)
        return obj.position, obj.half_extents * 2, ctx.world.contacts("gripper", obj.name)

    def _guarded(self, ctx: SkillContext, action: np.ndarray) -> np.ndarray:
        if self._held is not None:  # never let go of what the hand holds
            action = action.copy()
            action[3] = min(float(action[3]), CLOSED)
        return action

    def _achieved(self, ctx: SkillContext) -> np.ndarray:
        return ctx.arm.ee_pose().position

    def act(self, ctx: SkillContext) -> np.ndarray:
        self.goal = self._goal(ctx).astype(np.float32)  # follows a target that moves
        return super().act(ctx)


#: what the pick and place environments train on (skill_lib/learning/envs)
CUBE_EDGES = (0.027, 0.058)  # 3-5 cm, with room for the bounding box of a cube tilted in the hand
#: how far beyond where its environment's objects started (its `object_box`) a learned policy takes one (metres)
AREA_MARGIN = 0.02
#: how far beyond the pick environment's start box the hand may start (home, 0.36 m up, is just above it)
HAND_MARGIN = 0.05
#: the end of the learned pick's reason for declining where the hand starts (which episode logs do not hold)
HAND_OUTSIDE = "outside where the learned pick was trained to start from"


#: the height of the Lego brick the environments train on (2.5 cm; skill_lib/learning/envs/base.py), with room
#: for one tilted in the hand: a brick of another size is not what a policy was trained on
LEGO_HEIGHTS = (0.022, 0.032)
#: the height of the drawer scene's mug (10.8 cm), which the pick environment trains on by its handle
MUG_HEIGHTS = (0.10, 0.115)


def _not_trained_on(obj, objects: Collection[str] = ("cube",)) -> str | None:
    """Why `obj` is not of a kind and size a policy trained on `objects` (TrainConfig.env_options) handles, or None."""
    edge = float(obj.half_extents[2] * 2)
    lego = obj.category == "lego" and "lego" in objects and LEGO_HEIGHTS[0] <= edge <= LEGO_HEIGHTS[1]
    mug = obj.category == "mug" and "mug" in objects and MUG_HEIGHTS[0] <= edge <= MUG_HEIGHTS[1]
    if not (lego or mug) and (obj.category != "cube" or not CUBE_EDGES[0] <= edge <= CUBE_EDGES[1]):
        trained = "3-5 cm cubes" + (" and 2.5 cm Lego bricks" if "lego" in objects else "") + \
            (" and the scenes' mug" if "mug" in objects else "")
        return f"learned policy trained on {trained}, not {obj.category} {obj.name} ({edge * 100:.1f} cm)"
    return None


def trained_area(env_options: Mapping[str, Any], default: Sequence[Sequence[float]] | None = None
                 ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where a policy trained with these environment options takes objects from ((x, y) min, max): its
    environment's object box (`default` where the options name none: the environments' OBJECT_BOX unless given),
    AREA_MARGIN wider."""
    from skill_lib.learning.envs.base import OBJECT_BOX, trained_object_box

    lo, hi = trained_object_box(env_options, OBJECT_BOX if default is None else default)
    return (lo[0] - AREA_MARGIN, lo[1] - AREA_MARGIN), (hi[0] + AREA_MARGIN, hi[1] + AREA_MARGIN)


def _outside_training(obj, what: str, area: tuple[tuple[float, float], tuple[float, float]],
                      objects: Collection[str] = ("cube",)) -> str | None:
    """Why `obj` is not what a policy trained on `objects` in `area` (trained_area) handles (its kind and size,
    where it is), or None."""
    not_trained = _not_trained_on(obj, objects)
    if not_trained:
        return not_trained
    (x0, y0), (x1, y1) = area
    if not (x0 <= obj.position[0] <= x1 and y0 <= obj.position[1] <= y1):
        return f"{what} {obj.name} is outside the area the learned policy was trained on"
    return None


class LearnedPick(LearnedPolicy):
    """pick driven by the pick policy: goal = the object lifted LIFT above where it started; a mug, by its handle's
    grasp point (the tool turned to its yaw), for a policy trained on mugs. It declines a hand that starts outside the
    box its checkpoint was trained from (the config's env_options `hand_box`), with a margin."""

    tolerance = 0.03  # the environment's success radius
    LIFT = 0.12
    #: a hand turned farther than this (radians about the vertical) from the yaw the policy runs with turns back in
    #: place first, for at most TURN_STEPS: its environment always starts the hand unturned, and moving while the
    #: wrist turned half a circle (after a push towards the robot) the hand crept and the pick ran out of steps
    TURN_BACK, TURNED_BACK, TURN_STEPS = 0.35, 0.1, 40
    turns_back = True

    def __init__(self, agent) -> None:
        from skill_lib.learning.envs import pick
        from skill_lib.learning.envs.base import trained_objects, trained_steps

        super().__init__(agent)
        #: what its checkpoint was trained to handle (its env_options `objects`; default: cubes), and where
        self.objects, self.area = trained_objects(self.env_options), trained_area(self.env_options)
        self.max_steps = trained_steps(self.env_options, pick.STEPS)  # its environment's episode limit

    def declines(self, world, params: dict, tool: np.ndarray | None = None) -> str | None:
        from skill_lib.learning.envs.pick import trained_hand_box

        if params.get("grasp_offset"):
            return "grasp offsets (operators' corrections) are followed by the scripted controller"
        obj = world.object(params["object"])
        by_handle = "mug" in self.objects and obj.category == "mug"
        if params.get("grasp_point") and not (by_handle and params["grasp_point"] == "handle"):
            return "grasp points (operators' corrections) other than a mug's handle are followed by the scripted " \
                   "controller"
        if by_handle and not params.get("grasp_point"):
            return "the learned pick was trained to take a mug by its handle"
        lo, hi = (np.asarray(corner) for corner in trained_hand_box(self.env_options))
        if tool is not None and not np.all((lo - HAND_MARGIN <= tool) & (tool <= hi + HAND_MARGIN)):
            return f"the hand starts at ({', '.join(f'{v:.2f}' for v in tool)}), {HAND_OUTSIDE}"
        if by_handle:  # where the environment drew it: the handle in the area
            from skill_lib.skills.pick import grasp_pose

            (x0, y0), (x1, y1) = self.area
            x, y = grasp_pose(obj, "handle")[0][:2]
            if not (x0 <= x <= x1 and y0 <= y <= y1):
                return f"the handle of {obj.name} is outside the area the learned policy was trained on"
            return _not_trained_on(obj, self.objects)
        return _outside_training(obj, "object", self.area, self.objects)

    def reset(self, ctx: SkillContext) -> None:
        if ctx.params.get("grasp_point"):  # a mug's handle: the tool turns to its grasp yaw
            self.tool_yaw = self._grasp(ctx)[1]
        super().reset(ctx)
        self._turns_left = self.TURN_STEPS if self.turns_back and self._turned(ctx) > self.TURN_BACK else 0

    def _turned(self, ctx: SkillContext) -> float:
        """How far (radians) the hand is turned from the yaw the policy runs with."""
        yaw = quaternion_yaw(ctx.arm.ee_pose().orientation)
        return float(abs((yaw - self.tool_yaw + np.pi) % (2 * np.pi) - np.pi))

    def act(self, ctx: SkillContext) -> np.ndarray:
        if self._turns_left and self._turned(ctx) > self.TURNED_BACK:
            self._turns_left -= 1  # the hand stays where it is, the fingers as they are; the policy's steps wait
            return np.append(np.zeros(3), gripper_action_for_width(ctx.arm.gripper_width(), ctx.arm.gripper_max_width))
        self._turns_left = 0
        return super().act(ctx)

    def _grasp(self, ctx: SkillContext) -> tuple[np.ndarray, float]:
        from skill_lib.skills.pick import grasp_pose

        return grasp_pose(ctx.world.object(ctx.params["object"]), ctx.params["grasp_point"])

    def _goal(self, ctx: SkillContext) -> np.ndarray:
        return self._achieved(ctx) + np.array([0.0, 0.0, self.LIFT])

    def _object(self, ctx: SkillContext) -> tuple[np.ndarray, np.ndarray, bool]:
        obj = ctx.world.object(ctx.params["object"])
        return self._achieved(ctx), obj.half_extents * 2, ctx.world.contacts("gripper", obj.name)

    def _achieved(self, ctx: SkillContext) -> np.ndarray:
        """The object's centre; a mug's handle grasp point (what the pick environment shows and lifts)."""
        if ctx.params.get("grasp_point"):
            return self._grasp(ctx)[0]
        return ctx.world.object(ctx.params["object"]).position


class LearnedPlace(LearnedPick):
    """place driven by the place policy: goal = the held cube resting where the skill is asked to put it (on the
    target cube or a stack, on the table beside the target, on a container's floor; shifted by the offsets, re-read
    every step); done once it rests there and the hand has let go. What it takes is what its checkpoint was trained to
    set cubes down on (the config's env_options `targets`; a policy without one: the table and cubes)."""

    tolerance = 0.025

    def __init__(self, agent) -> None:
        from skill_lib.learning.envs import place as env
        from skill_lib.learning.envs.base import trained_steps

        super().__init__(agent)
        self.targets = env.trained_targets(self.env_options)
        self.max_steps = trained_steps(self.env_options, env.STEPS)

    def declines(self, world, params: dict, tool: np.ndarray | None = None) -> str | None:
        from skill_lib.learning.envs import place as env

        trained = f"learned place was trained to set cubes down on {', '.join(self.targets)}"
        target, held = world.object(params["target"]), world.object(params["object"])
        if params.get("surface") == "table":
            if "beside" not in self.targets:
                return f"{trained}, not on the table beside another object"
            spot = target.position[:2] + [params["offset_x"], params["offset_y"]]
            (x0, y0), (x1, y1) = env.BESIDE_BOX
            if not (x0 <= spot[0] <= x1 and y0 <= spot[1] <= y1):
                return "the spot on the table is outside the area the learned place was trained on"
            return _outside_training(held, "object", self.area, self.objects)
        if target.is_container:
            if "container" not in self.targets:
                return f"{trained}, not into a {target.category}"
            (x0, y0), (x1, y1) = env.CONTAINER_BOX
            rims = [scale * env.TRAYBOX_HALF for scale, _ in env.CONTAINERS.values()]
            if not min(rims) - 0.005 <= float(np.min(target.half_extents[:2])) <= \
                    float(np.max(target.half_extents[:2])) <= max(rims) + 0.005:
                return f"learned place was trained on trays of {min(rims) * 200:.0f}-{max(rims) * 200:.0f} cm, not " \
                       f"the {target.category} {target.name}"
            if not (x0 <= target.position[0] <= x1 and y0 <= target.position[1] <= y1):
                return f"the {target.category} {target.name} is outside the area the learned place was trained on"
            return _outside_training(held, "object", self.area, self.objects)
        return _outside_training(held, "object", self.area, self.objects) or \
            _outside_training(target, "target", self.area)

    def _goal(self, ctx: SkillContext) -> np.ndarray:
        from skill_lib.skills import place

        held, target = (ctx.world.object(ctx.params[k]) for k in ("object", "target"))
        if ctx.params.get("surface") == "table":
            support = P.TABLE_Z
        elif target.is_container:
            support = place.container_floor_z(target)
        else:
            support = target.top_z
        return np.array([target.position[0] + ctx.params["offset_x"], target.position[1] + ctx.params["offset_y"],
                         support + held.half_extents[2]])

    def act(self, ctx: SkillContext) -> np.ndarray:
        self.goal = self._goal(ctx).astype(np.float32)  # follows the target, and an operator's new offsets mid-place
        return super().act(ctx)

    def reset(self, ctx: SkillContext) -> None:
        from skill_lib.learning.envs.place import ReleaseGuard

        super().reset(ctx)
        self._guard = ReleaseGuard(ctx.arm)

    def _guarded(self, ctx: SkillContext, action: np.ndarray) -> np.ndarray:
        """The policy's action through its environment's ReleaseGuard (for a policy trained without it: the policy
        was trained to leave from fully open fingers, and dithered over the cube from narrower ones)."""
        return self._guard(ctx.arm, ctx.world, ctx.params["object"], self.goal, action)

    def _reached(self, ctx: SkillContext) -> bool:
        # there, let go of, and the hand back above it: the end state the policy was trained to reach
        from skill_lib.skills import place

        held = ctx.world.object(ctx.params["object"])
        return super()._reached(ctx) and not ctx.world.contacts("gripper", held.name) and \
            ctx.arm.ee_pose().position[2] > held.top_z + place.HAND_CLEAR


class LearnedPush(LearnedPick):
    """push driven by the push policy: goal = the object moved `distance` in `direction` from where it
    started (re-read every step, so "push it further" mid-push moves the goal); done once it has moved
    far enough and the hand is off it, above it. Once the object is there (within LEAD of the distance, or within
    the postcondition's tolerance with the hand off it for LET_GO steps: the policy stops where its training's
    success held), the hand backs off level and rises as the scripted push's does: the policy pushes, but was not
    trained to rise clear (it hovers 1-2 cm above the object, so the push ran to its step limit and the next skill
    started from low over the object). The hand is never sent below the height the scripted push pushes at
    (envs/push.py's kept_above, run in the environment too: its `guarded` option). The distances it takes, and its
    episode limit (which its observation counts towards), are those of the environment its checkpoint was trained
    in (the config's env_options; a policy without one: the push environment's defaults), and so is where the pushes
    it takes may end (`goal_box`)."""

    #: back off this far against the push, level, then rise clear (as skill_lib/skills/push.py ends a push)
    BACK_OFF = 0.02
    turns_back = False  # the push turns the hand to its direction as it goes, as in its environment
    LET_GO = 5

    def __init__(self, agent) -> None:
        from skill_lib.learning.envs.push import episode_steps, trained_distances, trained_goal_box

        super().__init__(agent)
        self.distances = trained_distances(self.env_options)
        self.max_steps = episode_steps(self.distances)
        self.goal_box = trained_goal_box(self.env_options)

    def declines(self, world, params: dict, tool: np.ndarray | None = None) -> str | None:
        from skill_lib.skills import push

        obj = world.object(params["object"])
        (x0, y0), (x1, y1) = self.goal_box
        end = obj.position[:2] + np.asarray(push.DIRECTIONS[params["direction"]]) * params["distance"]
        if not self.distances[0] <= params["distance"] <= self.distances[1]:
            return "learned push trained on pushes of {:.0f}-{:.0f} cm".format(*np.multiply(self.distances, 100))
        if not (x0 <= end[0] <= x1 and y0 <= end[1] <= y1):
            return "the push ends outside the area the learned policy was trained on"
        return _outside_training(obj, "object", self.area, self.objects)

    def reset(self, ctx: SkillContext) -> None:
        from skill_lib.skills import push

        self._direction = np.asarray(push.DIRECTIONS[ctx.params["direction"]])
        self.tool_yaw = push.tool_yaw(self._direction)
        self._start = ctx.world.object(ctx.params["object"]).position.copy()
        ctx.memory["start"] = self._start  # the skill's postcondition measures the push from here
        self._floor = push.push_height(ctx.world.object(ctx.params["object"]))
        self._backed_off_to: np.ndarray | None = None  # where the retreat backs off to, once it has begun
        self._off = 0  # steps in a row the hand has been off the object with the push within tolerance
        super().reset(ctx)

    def _goal(self, ctx: SkillContext) -> np.ndarray:
        return self._start + np.append(self._direction * ctx.params["distance"], 0.0)

    def act(self, ctx: SkillContext) -> np.ndarray:
        self.goal = self._goal(ctx).astype(np.float32)
        return super().act(ctx)

    def _there(self, ctx: SkillContext) -> bool:
        from skill_lib.skills import push

        obj = ctx.world.object(ctx.params["object"])
        if float((self.goal - obj.position)[:2] @ self._direction) <= push.LEAD:  # as the scripted push stops
            return True
        within = P.displaced_as_asked(self._start, obj.position, self.goal[:2] - self._start[:2])
        self._off = self._off + 1 if within and not ctx.world.contacts("gripper", obj.name) else 0
        return self._off >= self.LET_GO

    def _reached(self, ctx: SkillContext) -> bool:
        from skill_lib.skills import push

        # there once is enough: a cube that tipped under the fingers settles back a few mm (the postcondition,
        # and the executor's retry of what is left, judge the distance)
        obj = ctx.world.object(ctx.params["object"])
        return self._backed_off_to is not None and not ctx.world.contacts("gripper", obj.name) and \
            ctx.arm.ee_pose().position[2] > obj.top_z + push.HAND_CLEAR

    def _guarded(self, ctx: SkillContext, action: np.ndarray) -> np.ndarray:
        """The policy's action, never below the push height, until the object is there; then the retreat: back off
        level, then rise."""
        from skill_lib.learning.envs.push import kept_above
        from skill_lib.skills import push

        tcp = ctx.arm.ee_pose().position
        if self._backed_off_to is None:
            if not self._there(ctx):
                return kept_above(self._floor, tcp, action)
            self._backed_off_to = tcp - np.append(self._direction * self.BACK_OFF, 0.0)
        aim = self._backed_off_to.copy()
        if np.linalg.norm((aim - tcp)[:2]) < 0.006:  # backed off: rise clear of the object
            aim[2] = ctx.world.object(ctx.params["object"]).top_z + push.HAND_CLEAR + 0.02
        return towards(aim, tcp, CLOSED, action.dtype)


def as_on_the_robot(env: gym.Env, config: TrainConfig) -> None:
    """Make `env` run a policy trained with `config` as its adapter runs it on the robot (the classes above),
    so that evaluations measure what the skill layer does: the episode limit it was trained with, which its
    observation counts towards (a default push policy in a wider range's environment still sees 150 steps), and
    the guards the adapters run every policy through, trained with them or not: push's floor (kept_above), place's
    ReleaseGuard."""
    from skill_lib.learning.envs.place import PlaceEnv
    from skill_lib.learning.envs.push import PushEnv, episode_steps, trained_distances

    if isinstance(env.unwrapped, PushEnv):
        env.unwrapped.max_steps = episode_steps(trained_distances(config.env_options))
        env.unwrapped.guarded = True
    if isinstance(env.unwrapped, PlaceEnv):
        env.unwrapped.guarded = True


def with_learned_policies(skills: list[SkillSpec], directory: Path = CHECKPOINTS,
                          only: Collection[str] | None = None) -> list[SkillSpec]:
    """The skills, with the policy slot filled wherever the skill is learnable and has a promoted version in the
    registry in `directory` (and, given `only`, the skill is one of those). Raises RegistryError for a promoted
    checkpoint that is missing or changed."""
    from skill_lib.learning import load_entry_point
    from skill_lib.learning.train import load_policy

    registry = PolicyRegistry(directory)
    out = []
    for spec in skills:
        wanted = spec.learning is not None and (only is None or spec.name in only)
        path = registry.promoted_checkpoint(spec.name) if wanted else None
        if path is not None:
            agent = load_policy(path)
            adapter = load_entry_point(spec.learning.adapter)
            spec = dataclasses.replace(spec, policy=lambda agent=agent, adapter=adapter: adapter(agent))
        out.append(spec)
    return out
