"""`skillstack skills [QUERY]`: list the skill library or search it by meaning."""
from __future__ import annotations

import argparse

from skill_stack_apps.commands import EXIT_OK, error


def register(sub: argparse._SubParsersAction) -> None:
    skills = sub.add_parser("skills", help="list the skill library, or search it")
    skills.add_argument("query", nargs="?", help="text to search for")
    skills.add_argument("-k", type=int, default=3, help="how many results to show for a query")
    skills.set_defaults(handler=cmd_skills)


def cmd_skills(args: argparse.Namespace) -> int:
    from skill_lib.library import SkillLibrary
    from skill_lib.skills import default_skills

    library = SkillLibrary(default_skills())
    if args.query is None:
        for skill in library:
            params = ", ".join(f"{p.name}{'' if p.required else '=' + repr(p.default)}" for p in skill.params)
            print(f"{skill.name}({params})\n    {skill.description}")
        return EXIT_OK
    if not args.query.strip():
        return error("empty query")
    for match in library.search(args.query, k=args.k):
        print(f"{match.score:.3f}  {match.skill.name:<14} {match.skill.description}")
    return EXIT_OK
