"""Narrowing: when a correction contradicts what memory applied, learn which attribute matters.

A correction is stored for the object's category by default ("5 cm to the left" on a red cube is about
cubes). If a later correction on another object of that category undoes what such a record applied
("10 cm to the right" on a small cube that memory had placed 5 cm left), the two objects want
different things, and the attribute they differ in (size, else colour) is what decides: the applied
records are narrowed to their own objects' value of it (category+size: large cubes), and the new record
takes this object's (small cubes), re-expressed from the default, since the narrowed records no longer
apply here. Nothing else changes: a correction that refines in the same direction stays category-wide.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from planners.corrections.memory.record import CorrectionRecord

#: attributes tried in order: the first one the two objects differ in becomes the scope
ATTRIBUTES = ("size", "color")


def _opposes(new: float, applied: float) -> bool:
    """The new delta undoes at least half of what was applied (not a refinement in the same direction)."""
    return new * applied < 0 and abs(new) >= 0.5 * abs(applied)


def narrow_on_conflict(new: Sequence[CorrectionRecord], applied: Sequence[CorrectionRecord]
                       ) -> tuple[list[CorrectionRecord], list[CorrectionRecord]]:
    """(records to store, applied records they replace). `applied`: the stored records that were applied
    to the skill call being corrected."""
    out: list[CorrectionRecord] = []
    replaced: dict[int, CorrectionRecord] = {}
    for record in new:
        obj = record.object
        if record.kind != "skill" or record.mode != "delta" or record.scope != "category" or obj is None:
            out.append(record)
            continue
        same = [a for a in applied if a.kind == "skill" and a.mode == "delta" and a.id not in replaced
                and a.skill == record.skill and a.parameter == record.parameter and a.scope == "category"
                and a.object is not None and a.object.category == obj.category]
        attribute = next((k for k in ATTRIBUTES if any(getattr(a.object, k) and getattr(obj, k)
                                                       and getattr(a.object, k) != getattr(obj, k) for a in same)),
                         None)
        others = [a for a in same if attribute and getattr(a.object, attribute) != getattr(obj, attribute)]
        total = sum(float(a.value) for a in others)
        if not others or not _opposes(float(record.value), total):
            out.append(record)
            continue
        scope = f"category+{attribute}"
        for a in others:
            replaced[a.id] = replace(a, scope=scope, note=_note(a.note, f"narrowed to {attribute} "
                                                                        f"{getattr(a.object, attribute)}"))
        out.append(replace(record, scope=scope, value=round(total + float(record.value), 6),
                           note=_note(record.note, f"for {attribute} {getattr(obj, attribute)}; "
                                                   f"{total:+g} applied from other {attribute}s folded in")))
    narrowed = [replace(r, id=None) for r in replaced.values()]
    return narrowed + out, list(replaced.values())


def _note(old: str | None, new: str) -> str:
    return f"{old}; {new}" if old else new
