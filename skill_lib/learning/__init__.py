"""Learned skills: every skill whose spec says how it is learned (SkillSpec.learning) has its goal-conditioned
environment registered with gymnasium here."""
from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

from skill_lib.skills import default_skills
from skill_lib.spec import LearningSpec

#: skill name -> how it is learned, for the library's learnable skills (in library order)
LEARNABLE: dict[str, LearningSpec] = {s.name: s.learning for s in default_skills() if s.learning is not None}

for _learning in LEARNABLE.values():
    if _learning.env_id not in gym.registry:
        gym.register(id=_learning.env_id, entry_point=_learning.env_entry_point)


def learning_spec(skill: str) -> LearningSpec:
    """Raises ValueError naming the learnable skills if `skill` is not one."""
    if skill not in LEARNABLE:
        raise ValueError(f"no learning environment for skill {skill!r}; learnable: {', '.join(LEARNABLE)}")
    return LEARNABLE[skill]


def load_entry_point(entry: str) -> Any:
    """The object a "module:name" entry point names."""
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)
