"""Stacking a set of cubes the task does not order ("stack three cubes", "stack the large cubes", "stack the red
and the blue cube"): the order is chosen here and spelled out as pairs the parser reads ("stack X on Y")."""
from __future__ import annotations

import re
from collections.abc import Mapping

from hardware.types import ObjectState
from planners.grounding import describe_object, ground_set, is_set_reference
from planners.language import NUMBER_WORDS
from planners.plan import TaskError
from planners.task_phrases import PUT, SUPPORTED

_STACK = re.compile(r"^(?:stack|pile)(?: up)? (?P<what>.+?)"
                    r"(?: (?:on top of|on|onto) each other|(?: up)? in(?:to)? a (?:tower|pile|stack))?$")
_STACK_N = re.compile(r"^(?:the )?(?P<n>two|three|2|3) (?:large |big )?(?:cubes|blocks)$")


def stack_order(cubes: list[ObjectState]) -> list[ObjectState]:
    """Bottom first: large cubes under small ones; the base nearest the table's centre line, then each
    next the nearest to the base."""
    def small(o: ObjectState) -> bool:
        return o.size == "small"
    base = min(cubes, key=lambda o: (small(o), abs(o.position[1]), o.name))
    rest = sorted((o for o in cubes if o is not base),
                  key=lambda o: (small(o), float(((o.position - base.position)[:2] ** 2).sum()), o.name))
    return [base] + rest


def spell_stack(clause: str, objects: Mapping[str, ObjectState], notes: list[str]) -> str | None:
    """'stack three cubes' (the large cubes, chosen), 'stack the large cubes', 'stack the red and the blue
    cube' name no base: choose the order (stack_order) and spell the stack out as pairs (the plan notes say
    which). None for a clause that is no such stack ('stack X on Y' is a put)."""
    m = _STACK.match(clause)
    if not m or PUT.match(m["what"]):
        return None
    count = _STACK_N.match(m["what"])
    if count:
        n = int(NUMBER_WORDS[count["n"]]) if count["n"] in NUMBER_WORDS else int(count["n"])
        cubes = [o for o in objects.values() if o.category == "cube" and o.size != "small"]
        if len(cubes) < n:
            raise TaskError(f"there are only {len(cubes)} large cubes to stack; {SUPPORTED}")
        order = stack_order(cubes)[:n]
    elif is_set_reference(m["what"], objects):
        order = stack_order([objects[n] for n in ground_set(m["what"], objects)])
        if any(o.category != "cube" for o in order) or len(order) < 2:
            raise TaskError(f"I can stack two or more cubes; '{m['what']}' names "
                            f"{', '.join(describe_object(o, objects) for o in order)}; {SUPPORTED}")
    else:
        return None
    labels = [describe_object(o, objects) for o in order]
    spelled = ", then ".join(f"stack the {labels[i]} on the {labels[i - 1]}" for i in range(1, len(order)))
    notes.append(f"'{clause}' taken as: {spelled}")
    return spelled
