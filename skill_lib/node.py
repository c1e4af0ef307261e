"""Skill server node: the skill library on ROS 2.

`~/catalogue` (skill_stack_interfaces/SkillCatalogue, transient-local): every skill, published once, so a
late subscriber still gets it. `~/search` (skill_stack_interfaces/SearchSkills): retrieval by meaning
(MiniLM + FAISS). The embedding model loads on the first search, or at start-up with `preload_model`.
Parameters: skill_lib.node_config.SkillServerConfig (`skill_server --help` lists them).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from rclpy.node import Node

from hardware.ros.common import LATCHED_QOS, declare_config, spin_node
from skill_lib.library import SkillLibrary
from skill_lib.node_config import SkillServerConfig
from skill_lib.skills import default_skills
from skill_lib.spec import SkillSpec

MAX_QUERY_CHARS = 500


def _describe_param(p) -> str:
    need = "required" if p.required else f"default {p.default!r}"
    return f"{p.name}: {p.kind} ({need}) - {p.doc}"


class SkillServerNode(Node):
    def __init__(self, node_name: str = "skill_server", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        from skill_stack_interfaces.msg import SkillCatalogue
        from skill_stack_interfaces.srv import SearchSkills

        self.config = declare_config(self, SkillServerConfig)
        index_dir = self.config.index_dir
        self.library = SkillLibrary(default_skills(), index_dir=Path(index_dir) if index_dir else None)
        self._search_lock = threading.Lock()
        catalogue = self.create_publisher(SkillCatalogue, "~/catalogue", LATCHED_QOS)
        msg = SkillCatalogue(stamp=self.get_clock().now().to_msg(), skills=[self._info(s) for s in self.library])
        catalogue.publish(msg)
        self.create_service(SearchSkills, "~/search", self._on_search)
        if self.config.preload_model:
            threading.Thread(target=lambda: self.library.embedder, daemon=True).start()
        self.get_logger().info(f"{len(self.library)} skills: {', '.join(self.library.names())}")

    @staticmethod
    def _info(spec: SkillSpec):
        from skill_stack_interfaces.msg import SkillInfo

        return SkillInfo(name=spec.name, description=spec.description, phrasings=list(spec.phrasings),
                         parameters=[_describe_param(p) for p in spec.params])

    def _on_search(self, request, response):
        query = " ".join(request.query.split())
        if not query or len(query) > MAX_QUERY_CHARS or not query.isprintable():
            response.success = False
            response.message = f"the query must be non-empty plain text of at most {MAX_QUERY_CHARS} characters"
            return response
        k = min(request.k or 3, self.config.max_results, len(self.library))
        with self._search_lock:  # the embedder is not safe to call from several threads at once
            matches = self.library.search(query, k=k)
        response.success, response.message = True, f"{len(matches)} skill(s), best first"
        response.skills = [self._info(m.skill) for m in matches]
        response.scores = [float(m.score) for m in matches]
        return response


def main(args: list[str] | None = None) -> int:
    return spin_node(SkillServerNode, SkillServerConfig, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
