"""The experimenter's analyse and propose steps. Small logs written here with the real episode log writer
(planners/episode_log.py) pin each rule; the committed log sets (tests/fixtures/experimenter/, written by
bench/episode_logs.py from real in-process runs) check the whole: `dev` was developed on, `heldout` was kept
unseen until the analyser was done."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from planners.episode_log import EpisodeLog
from skill_lib.learning.experimenter.analyse import AttemptKind, analyse, kind_of, region
from skill_lib.learning.experimenter.logs import LogError, read_logs
from skill_lib.learning.experimenter.propose import TARGET_SUCCESS, propose
from skill_lib.learning.experimenter.recheck import Recheck, promoted_policies, recheck, taken_now
from skill_lib.learning.experimenter.report import write_report
from skill_lib.learning.registry import CHECKPOINTS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "experimenter"
HAND_OUTSIDE = "the hand starts at (0.45, 0.34, 0.16), outside where the learned pick was trained to start from"


def write_run(directory: Path, task: str, calls: list[tuple], scene: str = "default", torn: bool = False) -> None:
    """One run's episode log: each call is (skill, params, policy, fallback, success[, attempt[, corrections]])."""
    with EpisodeLog(directory / "episode.jsonl") as log:
        log.write("run", task=task, scene=scene, seed=0, robot="panda")
        log.write("task_start", task=task, plan=[], notes=[])
        for index, (skill, params, policy, fallback, success, *more) in enumerate(calls):
            attempt = more[0] if more else 0
            if len(more) > 1:
                log.write("corrections_applied", index=index, skill=skill, params=params, corrections=[
                    {"id": 1, "text": text, "target": skill, "applied": True, "change": f"{skill}.{param} 0 -> 1"}
                    for param, text in more[1]])
            log.write("skill_start", index=index, skill=skill, params=params, attempt=attempt, policy=policy,
                      **({"fallback": fallback} if fallback else {}))
            if success is not None:
                log.write("skill_end", index=index, skill=skill, success=success, message="",
                          outcome="succeeded" if success else "postcondition_failed", steps=10, sim_seconds=1.0,
                          policy=policy)
        if success is not None:
            log.write("task_end", success=True, message="", goals=[], object_positions={})
    if torn:
        with (directory / "episode.jsonl").open("a") as f:
            f.write('{"time": 1, "event": "skill_st')


def test_attempts_kinds_and_corrections_are_read_from_episode_logs(tmp_path: Path) -> None:
    write_run(tmp_path / "a", "put the red cube in the tray", [
        ("pick", {"object": "red_cube"}, "learned", None, True),
        ("place", {"object": "red_cube", "target": "tray", "offset_x": 0.0, "offset_y": 0.0}, "scripted",
         "learned place was trained on the table and on cubes, not into a tray", True),
        ("pick", {"object": "red_cube"}, "scripted", HAND_OUTSIDE, True, 0, [("grasp_offset", "grasp it lower")]),
    ])
    write_run(tmp_path / "b", "open the drawer", [("pull", {"object": "drawer", "distance": 0.1}, "scripted",
                                                   "no learned policy", True),
                                                  ("push", {"object": "red_cube", "direction": "left",
                                                            "distance": 0.1}, "scripted", None, True, 1),
                                                  ("pick", {"object": "blue_cube"}, "learned", None, None)],
              scene="drawer", torn=True)
    logs = read_logs([tmp_path])
    assert logs.runs == 2 and logs.skipped_lines == 1
    kinds = [kind_of(a) for a in logs.attempts]
    assert kinds == [AttemptKind.LEARNED_SUCCEEDED, AttemptKind.DECLINED, AttemptKind.DECLINED, AttemptKind.NO_POLICY,
                     AttemptKind.SCRIPTED_RETRY, AttemptKind.LEARNED_FAILED]
    assert logs.attempts[2].corrections == ({"parameter": "grasp_offset", "text": "grasp it lower"},)
    assert logs.attempts[-1].success is None  # the log ended mid-attempt: a crash is not a success
    analysis = analyse(logs.attempts, logs.runs)
    first, place, second = analysis.items[:3]
    assert (first.context.category, first.context.region) == ("cube", "middle right")  # scene: red cube (0.45, -0.15)
    assert (place.context.target_category, place.context.target_is_container) == ("tray", True)
    assert second.context.region == region([0.50, 0.40]) == "middle left"  # the cube is in the tray now
    assert analysis.tables["parameter range"][("pull", "distance 10-15 cm")].attempts == 1
    assert analysis.by_skill["pick"].corrections == 1


def test_each_decline_is_proposed_along_the_axis_it_lies_outside_training(tmp_path: Path) -> None:
    write_run(tmp_path / "a", "mixed", [
        ("pick", {"object": "lego_brick"}, "scripted", "learned policy trained on 3-5 cm cubes, not lego", True),
        ("pick", {"object": "lego_brick"}, "scripted", "learned policy trained on 3-5 cm cubes, not lego", True),
        ("place", {"object": "green_cube", "target": "tray", "offset_x": 0.0, "offset_y": 0.0}, "scripted",
         "not into a tray", True),
        ("push", {"object": "blue_cube", "direction": "left", "distance": 0.22}, "scripted",
         "learned push trained on pushes of 5-15 cm", True),
        ("push", {"object": "yellow_cube", "direction": "right", "distance": 0.1}, "learned", None, False),
        ("push", {"object": "yellow_cube", "direction": "forward", "distance": 0.14}, "scripted",
         "the push ends outside the area the learned policy was trained on", True),
        ("pick", {"object": "small_red_cube"}, "learned", None, True, 0, [("speed", "slower")]),
    ])
    logs = read_logs([tmp_path / "a"])
    proposals = {p.id: p for p in propose(analyse(logs.attempts, logs.runs))}
    assert set(proposals) == {"pick/objects/lego", "place/targets/tray", "push/parameters/distance",
                              "push/regions/far_centre_(where_the_push_ends)", "push/failures/cube",
                              "pick/corrections/cube_(speed)"}  # yellow cube (0.60, 0.12) + 14 cm: x 0.74 > 0.72
    lego = proposals["pick/objects/lego"]
    assert lego.gain == pytest.approx(2 / 7) and lego.task.objects == ("cube", "lego")
    assert lego.evidence[0] == "2 of 3 pick attempts in 1 runs: 2 declined"
    assert proposals["place/targets/tray"].task.targets == ("cube", "table", "tray")
    assert proposals["push/parameters/distance"].task.parameter_ranges["distance"] == (0.05, 0.22)
    assert proposals["pick/corrections/cube_(speed)"].gain == pytest.approx(0.5 / 7)
    ranked = propose(analyse(logs.attempts, logs.runs))
    assert ranked[0].id == "pick/objects/lego" and [p.gain for p in ranked] == sorted((p.gain for p in ranked),
                                                                                        reverse=True)


def test_an_evaluation_below_target_is_proposed(tmp_path: Path) -> None:
    write_run(tmp_path / "runs" / "a", "pick up the red cube", [("pick", {"object": "red_cube"}, "learned", None, True)])
    (tmp_path / "eval.jsonl").write_text("pick: success 0.80 over 50 episodes\n" + json.dumps(
        {"skill": "pick", "episodes": 50, "success_rate": 0.8, "policy": "checkpoints/pick/policy.pt", "seed": 0}))
    logs = read_logs([tmp_path / "runs", tmp_path / "eval.jsonl"])
    assert [(e.skill, e.success_rate) for e in logs.evaluations] == [("pick", 0.8)]
    (proposal,) = propose(analyse(logs.attempts, logs.runs), logs.evaluations)
    assert proposal.id == "pick/evaluation" and f"< {TARGET_SUCCESS}" in proposal.what
    with pytest.raises(LogError, match="no such log"):
        read_logs([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(LogError, match="no episode logs"):
        read_logs([tmp_path / "empty"])


def _starts(directory: Path) -> list[dict]:
    """Every skill_start record, read straight from the JSON lines."""
    return [record for path in directory.rglob("episode.jsonl") for line in path.read_text().splitlines()
            if (record := json.loads(line))["event"] == "skill_start"]


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_the_weak_spots_of_issue_18_are_proposed_from_real_logs(split: str, tmp_path: Path) -> None:
    """What falls back today (issue #18: pull, picks of non-cubes, places into containers, pushes outside
    5-15 cm) must be proposed, each with evidence that matches a count taken straight from the logs."""
    logs = read_logs([FIXTURES / split])
    analysis = analyse(logs.attempts, logs.runs)
    proposals = {p.id: p for p in propose(analysis)}
    starts = _starts(FIXTURES / split)
    pulls = sum(1 for r in starts if r["skill"] == "pull")
    assert proposals["pull/new_policy"].evidence[0].startswith(f"{pulls} of {pulls} pull attempts")
    assert {"pick/objects/lego", "pick/objects/mug"} & set(proposals)
    cubes_into_tray = sum(1 for r in starts if r["skill"] == "place" and r["params"]["target"] == "tray"
                          and r["params"]["object"].endswith("_cube") and r.get("fallback"))
    assert proposals["place/targets/tray"].evidence[0].startswith(f"{cubes_into_tray} of ")
    assert "push/parameters/distance" in proposals
    assert len(analysis.items) == len(starts)
    ranked = propose(analysis)
    assert ranked[0].gain >= ranked[-1].gain and ranked == propose(analyse(logs.attempts, logs.runs))
    report = write_report(tmp_path, logs, [FIXTURES / split], analysis, ranked, "the deterministic proposer")
    text = report.read_text()
    assert "a dry run: nothing was trained" in text and all(p.what in text for p in ranked)
    assert (tmp_path / "attempts.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_logged_declines_are_asked_again_of_the_promoted_policies(tmp_path: Path) -> None:
    """A decline made by an older policy is no weak spot once the promoted one takes the context (the committed
    place takes trays, the committed push 2-25 cm); one it still declines, or one that rests on what the log does
    not hold (where the hand started, what it held), stays proposed."""
    write_run(tmp_path / "a", "mixed", [
        ("place", {"object": "green_cube", "target": "tray", "offset_x": 0.0, "offset_y": 0.0}, "scripted",
         "learned place was trained on the table and on cubes, not into a tray", True),
        ("push", {"object": "blue_cube", "direction": "left", "distance": 0.2}, "scripted",
         "learned push trained on pushes of 5-15 cm", True),
        ("push", {"object": "red_cube", "direction": "right", "distance": 0.22}, "scripted",
         "learned push trained on pushes of 5-15 cm", True),
        ("pick", {"object": "yellow_cube"}, "scripted", HAND_OUTSIDE, True),
        ("move_to", {"target": "tray", "height": 0.1}, "scripted",
         "the learned move_to was trained with an empty gripper, and it holds the yellow_cube", True),
        ("place", {"object": "green_cube", "target": "yellow_cube", "offset_x": 0.0, "offset_y": 0.0}, "scripted",
         "object green_cube is outside the area the learned policy was trained on", True),
    ])
    logs = read_logs([tmp_path / "a"])
    analysis = analyse(logs.attempts, logs.runs)
    policies = promoted_policies(CHECKPOINTS)
    assert [recheck(item, policies) for item in analysis.items] == [
        Recheck.TAKEN_NOW, Recheck.TAKEN_NOW, Recheck.STILL_DECLINED, Recheck.CANNOT_TELL, Recheck.CANNOT_TELL,
        Recheck.STILL_DECLINED]
    assert taken_now(analysis, policies) == {"place": 1, "push": 1}
    before = {p.id for p in propose(analysis)}
    after = {p.id: p for p in propose(analysis, policies=policies)}
    assert {"place/targets/tray", "push/parameters/distance"} <= before
    # the push that would end off the table's right side, the hand's start, what the hand held (move_to has no
    # area); the green cube comes out of the tray
    assert set(after) == {"push/parameters/distance", "pick/start_states/other_contexts",
                          "move_to/start_states/other_contexts",
                          "place/regions/middle_left_(where_the_cube_is_taken_from)"}
    assert after["push/parameters/distance"].evidence[0].startswith("1 of 2 push attempts")


def test_pushes_that_end_outside_the_learned_push_area_train_a_goal_box_that_covers_them(tmp_path: Path) -> None:
    """Declined pushes towards the robot (the learned push's goals end at x 0.28) become one region proposal whose
    candidate trains the push recipe with the `goal_box` option over the logged ends; ends beyond the push skill's
    reach are not trainable (the skill refuses them)."""
    from dataclasses import replace

    from skill_lib.learning.envs.push import GOAL_BOX
    from skill_lib.learning.experimenter.trainable import PUSH_END_MARGIN, env_options, why_not_trainable

    declined = "the push ends outside the area the learned policy was trained on"
    for run, distance in (("a", 0.08), ("b", 0.1)):  # the small red cube stands at (0.35, -0.25) in the scene file
        write_run(tmp_path / run, f"push {run}", [("push", {"object": "small_red_cube", "direction": "backward",
                                                            "distance": distance}, "scripted", declined, True)])
    logs = read_logs([tmp_path / "a", tmp_path / "b"])
    (proposal,) = [p for p in propose(analyse(logs.attempts, logs.runs)) if p.skill == "push"]
    assert proposal.id == "push/regions/near_right_(where_the_push_ends)", proposal.id
    (x0, y0), (x1, y1) = proposal.task.push_ends
    assert (x0, x1, y0, y1) == pytest.approx((0.25, 0.27, -0.25, -0.25))
    assert why_not_trainable(proposal) is None
    box = env_options(proposal)["goal_box"]
    assert box[0][0] == pytest.approx(x0 - PUSH_END_MARGIN) and box[1] == list(GOAL_BOX[1])  # the rest: the recipe's
    beyond = replace(proposal, task=replace(proposal.task, push_ends=((0.15, -0.2), (0.2, -0.1))))
    assert "beyond the push skill's reach" in str(why_not_trainable(beyond))
