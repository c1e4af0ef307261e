"""`skillstack skills [QUERY]`: list the skill library (with each skill's policy versions) or search it by
meaning."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from skill_stack_apps.commands import EXIT_OK, error

if TYPE_CHECKING:
    from skill_lib.learning.registry import PolicyRegistry


def register(sub: argparse._SubParsersAction) -> None:
    skills = sub.add_parser("skills", help="list the skill library, or search it")
    skills.add_argument("query", nargs="?", help="text to search for")
    skills.add_argument("-k", type=int, default=3, help="how many results to show for a query")
    skills.set_defaults(handler=cmd_skills)


def policy_line(registry: PolicyRegistry, skill: str) -> str:
    """Which policy the skill runs: the promoted version and its held-out metrics, or the scripted controller."""
    from skill_stack_apps.commands.policies import describe

    promoted = registry.promoted(skill)
    if promoted is None:
        return "policy: scripted controller (no learned policy)"
    others = len(registry.versions(skill)) - 1
    more = f" ({others} other version{'s' if others != 1 else ''}: skillstack policies list {skill})" if others else ""
    return f"policy: learned {describe(promoted, True)}{more}"


def cmd_skills(args: argparse.Namespace) -> int:
    from skill_lib.learning.registry import PolicyRegistry, RegistryError
    from skill_lib.library import SkillLibrary
    from skill_lib.skills import default_skills

    library = SkillLibrary(default_skills())
    if args.query is None:
        registry = PolicyRegistry()
        for skill in library:
            params = ", ".join(f"{p.name}{'' if p.required else '=' + repr(p.default)}" for p in skill.params)
            try:
                policy = policy_line(registry, skill.name)
            except RegistryError as err:
                return error(str(err))
            print(f"{skill.name}({params})\n    {skill.description}\n    {policy}")
        return EXIT_OK
    if not args.query.strip():
        return error("empty query")
    for match in library.search(args.query, k=args.k):
        print(f"{match.score:.3f}  {match.skill.name:<14} {match.skill.description}")
    return EXIT_OK
