"""Applying retrieved corrections: plan rules to a Plan, parameter corrections to a SkillCall. Pure
functions; each returns what it changed (and what it could not), for the episode log."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace

from hardware.types import ObjectState
from planners.corrections.context import CorrectionError, object_context, phrase_context
from planners.grounding import ground
from planners.plan import Goal, Plan, SkillCall, TaskError
from planners.corrections.memory.record import CorrectionRecord, ObjectContext
from skill_lib.skills import default_skills
from skill_lib.spec import SkillSpec

_SPECS = {s.name: s for s in default_skills()}


@dataclass(frozen=True)
class AppliedCorrection:
    id: int | None
    text: str
    #: what it was applied to: "plan" or a call such as "place(object=red_cube, target=tray)"
    target: str
    applied: bool
    #: what changed ("place.offset_y 0 -> 0.02 (delta +0.02)") or why nothing did
    change: str

    def to_dict(self) -> dict:
        return asdict(self)


def _attrs_of(name: str, objects: Mapping[str, ObjectState] | None) -> ObjectContext:
    if objects and name in objects:
        return object_context(objects[name])
    try:
        return phrase_context(name, None)
    except CorrectionError:
        return ObjectContext(name=name)


def _matches(want: Mapping | None, obj: ObjectContext) -> bool:
    return want is not None and all(not want.get(k) or want.get(k) == getattr(obj, k)
                                    for k in ("category", "color", "size"))


# ----- skill level --------------------------------------------------------------------------------------
def apply_to_call(call: SkillCall, records: Iterable[CorrectionRecord],
                  spec: SkillSpec | None = None) -> tuple[SkillCall, list[AppliedCorrection]]:
    """Parameter corrections for this call: value records set (the newest wins), then deltas add up;
    results are clamped to the parameter's range. Records for other skills are ignored."""
    spec = spec or _SPECS.get(call.skill)
    params_by_name = {p.name: p for p in spec.params} if spec is not None else {}
    mine = [r for r in records if r.kind == "skill" and r.skill in (call.skill, None)
            and (r.skill is not None or r.parameter in params_by_name)]
    params = dict(call.params)
    report: list[AppliedCorrection] = []
    for record in mine:
        if not record.applicable or record.parameter not in params_by_name:
            report.append(AppliedCorrection(record.id, record.text, str(call), False,
                                            f"recorded only: {call.skill} has no parameter {record.parameter}"))
    usable = [r for r in mine if r.applicable and r.parameter in params_by_name]
    values = sorted((r for r in usable if r.mode == "value"), key=lambda r: (r.created_at, r.id or 0))
    for record in values:
        spec_param = params_by_name[record.parameter]
        old = params.get(record.parameter, spec_param.default)
        new = _clamp(spec_param, record.value)
        params[record.parameter] = new
        report.append(AppliedCorrection(record.id, record.text, str(call), True,
                                        f"{call.skill}.{record.parameter} {_fmt(old)} -> {_fmt(new)} (value)"))
    for record in (r for r in usable if r.mode == "delta"):
        spec_param = params_by_name[record.parameter]
        old = params.get(record.parameter, spec_param.default)
        wanted = float(old) + float(record.value)
        new = _clamp(spec_param, wanted)
        params[record.parameter] = new
        clamped = f", clamped to [{spec_param.low:g}, {spec_param.high:g}]" if new != round(wanted, 6) else ""
        report.append(AppliedCorrection(record.id, record.text, str(call), True,
                                        f"{call.skill}.{record.parameter} {_fmt(old)} -> {_fmt(new)} "
                                        f"(delta {float(record.value):+g}{clamped})"))
    return (SkillCall(call.skill, params) if params != call.params else call), report


def _clamp(param, value):
    if param.kind != "float":
        return value
    value = float(value)
    low = param.low if param.low is not None else value
    high = param.high if param.high is not None else value
    return round(min(max(value, low), high), 6)


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# ----- plan level -----------------------------------------------------------------------------------------
def _steps(calls: tuple[SkillCall, ...]) -> list[list[SkillCall]]:
    """Consecutive calls about the same object form one step (pick X, place X)."""
    steps: list[list[SkillCall]] = []
    for call in calls:
        obj = call.params.get("object") or call.params.get("target")
        previous = steps[-1][0].params if steps else {}
        if obj is not None and (previous.get("object") or previous.get("target")) == obj:
            steps[-1].append(call)
        else:
            steps.append([call])
    return steps


def _step_does(step: list[SkillCall], action: Mapping | None, objects) -> bool:
    if action is None:
        return False
    for call in step:
        if call.skill != action["verb"]:
            continue
        name = call.params.get("object") or call.params.get("target")
        if action.get("object") is None or (name is not None and _matches(action["object"], _attrs_of(name, objects))):
            return True
    return False


def _apply_before(plan: Plan, record: CorrectionRecord, objects) -> tuple[Plan, AppliedCorrection]:
    first, then = record.rule.args.get("first"), record.rule.args.get("then")
    steps = _steps(plan.calls)
    i_first = next((i for i, s in enumerate(steps) if _step_does(s, first, objects)), None)
    i_then = 0 if then is None else next((i for i, s in enumerate(steps) if _step_does(s, then, objects)), None)
    if i_first is None or i_then is None:
        missing = first["phrase"] if i_first is None else then["phrase"]
        return plan, AppliedCorrection(record.id, record.text, "plan", False, f"no step of the plan does '{missing}'")
    if i_first <= i_then:
        return plan, AppliedCorrection(record.id, record.text, "plan", False, "the plan already keeps this order")
    moved = steps.pop(i_first)
    steps.insert(i_then, moved)
    calls = tuple(c for s in steps for c in s)
    change = f"moved {', '.join(map(str, moved))} before step {i_then + 1}"
    return replace(plan, calls=calls), AppliedCorrection(record.id, record.text, "plan", True, change)


def _apply_destination(plan: Plan, record: CorrectionRecord, objects) -> tuple[Plan, AppliedCorrection]:
    args = record.rule.args
    container = args.get("container")
    if not objects or container not in objects:
        try:
            container, _ = ground(args.get("container_ref") or str(container), objects or {})
        except TaskError:
            return plan, AppliedCorrection(record.id, record.text, "plan", False,
                                           f"no {args.get('container_ref')} in this scene")
    calls, goals, changes = list(plan.calls), list(plan.goals), []
    for i, call in enumerate(calls):
        obj = call.params.get("object")
        if call.skill != "place" or obj == container or call.params.get("target") == container \
                or not _matches(args.get("match"), _attrs_of(obj, objects)):
            continue
        old = call.params["target"]
        calls[i] = SkillCall("place", {**call.params, "target": container})
        goals = [Goal("in", obj=obj, target=container) if g.obj == obj and g.target == old and g.kind in ("in", "on")
                 else g for g in goals]
        changes.append(f"{obj}: {old} -> {container}")
    if not changes:
        return plan, AppliedCorrection(record.id, record.text, "plan", False, "no place step to redirect")
    new = replace(plan, calls=tuple(calls), goals=tuple(goals))
    return new, AppliedCorrection(record.id, record.text, "plan", True, "destination " + ", ".join(changes))


def apply_to_plan(plan: Plan, records: Iterable[CorrectionRecord],
                  objects: Mapping[str, ObjectState] | None = None) -> tuple[Plan, list[AppliedCorrection]]:
    """Destination rules redirect place steps (and their goals); ordering rules move a step earlier.
    `objects` (the scene) lets rules match objects by category/colour; without it, names are read."""
    report = []
    for record in records:
        if record.kind != "plan" or record.rule is None:
            continue
        apply = _apply_destination if record.rule.type == "destination" else _apply_before
        plan, applied = apply(plan, record, objects)
        report.append(applied)
    if any(a.applied for a in report):
        notes = tuple(f"correction {a.id}: {a.change}" for a in report if a.applied)
        plan = replace(plan, notes=plan.notes + notes)
    return plan, report
