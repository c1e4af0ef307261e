"""Parameters of the skill server node (skill_lib.node), as a dataclass: plain Python, importable without ROS."""
from __future__ import annotations

from dataclasses import dataclass

from hardware.params import documented


@dataclass
class SkillServerConfig:
    """The skill server: the skill catalogue (~/catalogue, latched) and retrieval by meaning (~/search)."""

    index_dir: str = documented("", "where the FAISS index is cached; empty: the data directory")
    max_results: int = documented(10, "most skills one search returns")
    preload_model: bool = documented(False, "load the embedding model at start-up, not on the first search "
                                     "(costs ~7 s of CPU at start)")
