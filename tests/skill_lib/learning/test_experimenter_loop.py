"""The experimenter's plan before anything trains (skill_lib/learning/experimenter/trainable.py, loop.py): which
proposals of the held-out log set can be trained today and why the others cannot, the budget, proposals that
share a training, and held-out seeds that a run would have trained on. Nothing here trains (the end to end runs
are in tests/apps/test_experiment_cli.py)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from skill_lib.learning import recipes
from skill_lib.learning.experimenter.analyse import analyse
from skill_lib.learning.experimenter.logs import Evaluation, read_logs
from skill_lib.learning.experimenter.loop import LoopConfig, TrialOutcome, check_held_out, plan
from skill_lib.learning.experimenter.propose import Proposal, TrainingTask, WeakSpot, propose
from skill_lib.learning.experimenter.trainable import env_options, why_not_trainable
from skill_lib.learning.registry import PolicyRegistry

HELDOUT = Path(__file__).resolve().parents[2] / "fixtures" / "experimenter" / "heldout"


@pytest.fixture(scope="module")
def proposals() -> list[Proposal]:
    logs = read_logs([HELDOUT])
    evaluations = [Evaluation("move_to", 100, 0.5, "v1", "eval.json"), Evaluation("pick", 100, 0.9, "v1", "eval.json")]
    return propose(analyse(logs.attempts, logs.runs), evaluations)


def by_id(proposals: list[Proposal]) -> dict[str, Proposal]:
    return {p.id: p for p in proposals}


def test_only_what_a_skills_own_environment_trains_is_trainable(proposals: list[Proposal]) -> None:
    trainable = sorted(p.id for p in proposals if why_not_trainable(p) is None)
    assert trainable == ["move_to/evaluation", "pick/evaluation", "pick/failures/cube", "pick/objects/lego",
                         "pick/objects/mug", "place/objects/lego", "place/targets/table_beside_an_object",
                         "place/targets/tray",
                         "pull/new_policy", "push/parameters/distance"]
    assert env_options(by_id(proposals)["pull/new_policy"]) == {}  # the pull recipe in the pull environment
    assert env_options(by_id(proposals)["pick/objects/lego"]) == {"objects": ["cube", "lego"]}
    assert env_options(by_id(proposals)["pick/objects/lego"], objects={"pick": ("cube", "lego")}) == \
        {"objects": ["cube", "lego"]}  # a current policy trained on both: the same again
    why = {p.id: why_not_trainable(p) for p in proposals}
    assert env_options(by_id(proposals)["pick/objects/mug"], objects={"pick": ("cube", "lego")}) == \
        {"objects": ["cube", "lego", "mug"]}
    assert "cubes and the Lego brick only, with no option for mug objects" in why["place/objects/mug"]
    gripper = Proposal("close_gripper/new_policy", "close_gripper", "learn a close_gripper policy", ("2 of 2",), 0.1,
                       TrainingTask("close_gripper"), WeakSpot.NEW_POLICY)
    assert "close_gripper has no learning environment" in str(why_not_trainable(gripper))
    assert "no option for the middle left" in why["pick/regions/middle_left"]
    assert "start states" in why["pick/start_states/other_contexts"]
    assert "training the policy does not learn them" in why["move_to/corrections/cube_(height)"]


def test_a_trainable_kind_of_proposal_on_what_the_environment_lacks_is_not_trainable() -> None:
    failures = Proposal("pick/failures/bowl", "pick", "fine-tune pick on bowl", ("1 of 1",), 0.1,
                        TrainingTask("pick", objects=("bowl",)), WeakSpot.FAILURES)
    assert "no option for bowl objects" in str(why_not_trainable(failures))
    new_push = Proposal("push/new_policy", "push", "learn a push policy", ("3 of 3",), 0.1,
                        TrainingTask("push", objects=("cube",), parameter_ranges={"distance": (0.02, 0.25)}),
                        WeakSpot.NEW_POLICY)
    assert why_not_trainable(new_push) is None  # the distances option gives 2-25 cm
    assert env_options(new_push) == {"distances": (0.02, 0.25)}
    assert env_options(replace(new_push, task=TrainingTask("push", parameter_ranges={"distance": (0.06, 0.1)}))) == {}
    offsets = Proposal("place/parameters/offset_x", "place", "widen place's offset_x", ("1 of 1",), 0.1,
                       TrainingTask("place", parameter_ranges={"offset_x": (-0.1, 0.1)}), WeakSpot.PARAMETERS)
    assert "no option for the parameter ranges offset_x" in str(why_not_trainable(offsets))


def test_a_push_distance_proposal_trains_the_push_recipe_on_the_merged_range(proposals: list[Proposal],
                                                                           tmp_path: Path) -> None:
    wider = by_id(proposals)["push/parameters/distance"]
    assert wider.task.parameter_ranges["distance"] == (0.05, 0.23)  # observed 16-23 cm, merged with 5-15
    assert env_options(wider) == {"distances": (0.05, 0.23)}
    # merged with what the current policy was trained on (never narrower), clipped to the skill's 2-25 cm
    assert env_options(wider, {("push", "distance"): (0.05, 0.25)}) == {"distances": (0.05, 0.25)}
    asked = replace(wider, task=TrainingTask("push", parameter_ranges={"distance": (0.01, 0.3)}))
    assert env_options(asked) == {"distances": (0.02, 0.25)}
    trials = {t.proposal.id: t for t in plan([wider, by_id(proposals)["pick/evaluation"]],
                                             LoopConfig(max_proposals=2, seeds=(3,)), tmp_path)}
    (run,) = trials["push/parameters/distance"].runs
    assert run.job.config.env_options == {"distances": (0.05, 0.23)}
    assert run.job.config.demo_episodes == recipes.WARM_STARTS["push"]["demo_episodes"]  # the push recipe otherwise
    assert trials["pick/evaluation"].runs[0].job.config.env_options == recipes.ENVIRONMENTS["pick"]  # the recipe's


def test_held_out_counts_what_the_current_policy_would_decline_as_its_failures(tmp_path: Path) -> None:
    from skill_lib.learning.experimenter.heldout import run_held_out
    from skill_lib.learning.mcsac import MultiCriticSAC, TrainConfig
    from skill_lib.learning.train import save_policy

    save_policy(MultiCriticSAC(TrainConfig(skill="push", hidden=8), 19, 3, 4), tmp_path / "default.pt")
    held = run_held_out("push", tmp_path / "default.pt", (11, 12, 13), {"distances": (0.2, 0.25)})
    assert held.declined == (True, True, True) and held.successes == (False, False, False)
    assert held.returns == ((-150.0, 0.0, 0.0),) * 3  # its own episode limit, no safety cost, no effort


def test_the_budget_and_shared_trainings(proposals: list[Proposal], tmp_path: Path) -> None:
    # trainable, in the curriculum's order: place/targets/tray (gain 0.297), pick/evaluation (0.044),
    # move_to/evaluation, push/parameters/distance, place/targets/table_beside_an_object, pick/failures/cube
    trials = {t.proposal.id: t for t in plan(proposals, LoopConfig(max_proposals=1), tmp_path)}
    assert list(trials) == [p.id for p in proposals]  # a trial per proposal, in order
    assert [i for i, t in trials.items() if t.trained] == ["place/targets/tray"]
    assert trials["pick/evaluation"].outcome is TrialOutcome.NOT_TRIED
    assert "--max-proposals" in trials["pick/evaluation"].why
    assert all(t.outcome is TrialOutcome.NOT_TRAINABLE for i, t in trials.items()
               if why_not_trainable(by_id(proposals)[i]) is not None)
    assert [r.job.config.seed for r in trials["place/targets/tray"].runs] == [0, 1, 2]  # the default seeds
    trials = {t.proposal.id: t for t in plan(proposals, LoopConfig(max_proposals=2, seeds=(3, 4)), tmp_path)}
    assert [i for i, t in trials.items() if t.trained] == ["place/targets/tray", "pick/evaluation"]
    assert [(r.job.config.skill, r.job.config.seed, r.job.run_dir) for r in trials["pick/evaluation"].runs] == [
        ("pick", seed, tmp_path / "train" / f"pick-evaluation-seed{seed}") for seed in (3, 4)]
    assert trials["move_to/evaluation"].outcome is TrialOutcome.NOT_TRIED
    # pick's failures need the same training as pick's evaluation: one pick training serves both
    assert trials["pick/failures/cube"].outcome is TrialOutcome.SAME_TRAINING
    assert "its training is pick/evaluation's" in trials["pick/failures/cube"].why


def test_held_out_seeds_a_run_trained_or_chose_its_policy_on_are_refused(proposals: list[Proposal],
                                                                         tmp_path: Path) -> None:
    registry = PolicyRegistry(tmp_path / "registry")  # empty: the scripted controllers are the current policies
    trials = plan(proposals, LoopConfig(seeds=(7,), eval_seed=7), tmp_path)
    with pytest.raises(ValueError, match=r"held-out seed 1070000 \(--eval-seed 7\) is one the .* run of seed 7 was "
                                         r"trained or chosen on"):
        check_held_out(trials, {}, registry, LoopConfig(seeds=(7,), eval_seed=7))
    # training episodes: a seed-10 run's demonstrations are seeded 1_000_000 on, evaluation seed 0's episodes too
    config = LoopConfig(seeds=(10,), eval_seed=0, overrides={"demo_episodes": 5})
    with pytest.raises(ValueError, match="seed 10 was trained or chosen on"):
        check_held_out(plan(proposals, config, tmp_path), {}, registry, config)
    config = LoopConfig(seeds=(0, 1, 2), eval_seed=7)
    check_held_out(plan(proposals, config, tmp_path), {}, registry, config)


def test_the_promoted_push_range_is_read_from_its_checkpoint(tmp_path: Path) -> None:
    from skill_lib.learning.experimenter.trainable import trained_parameters
    from skill_lib.learning.mcsac import MultiCriticSAC, TrainConfig
    from skill_lib.learning.train import save_policy

    registry = PolicyRegistry(tmp_path / "registry")
    assert trained_parameters(registry) == {("push", "distance"): (0.05, 0.15)}  # none promoted: the default
    config = TrainConfig(skill="push", hidden=8, env_options={"distances": (0.05, 0.25)})
    save_policy(MultiCriticSAC(config, 19, 3, 4), tmp_path / "policy.pt")
    registry.promote("push", registry.register("push", tmp_path / "policy.pt").version)
    assert trained_parameters(registry) == {("push", "distance"): (0.05, 0.25)}


def test_a_place_target_proposal_trains_the_place_environment_on_it_and_what_the_policy_had(
        proposals: list[Proposal], tmp_path: Path) -> None:
    tray, beside = (by_id(proposals)[f"place/targets/{t}"] for t in ("tray", "table_beside_an_object"))
    assert env_options(tray) == {"targets": ["table", "cube", "container"]}
    assert env_options(beside, place_targets=("table", "cube", "container")) == \
        {"targets": ["table", "cube", "beside", "container"]}  # never less than the current policy's
    bowl = replace(tray, task=TrainingTask("place", targets=("cube", "table", "bowl")))
    assert "no option for bowl as the target" in str(why_not_trainable(bowl))
    (trial,) = plan([tray], LoopConfig(max_proposals=1, seeds=(3,)), tmp_path)
    # the recipe's environment otherwise (its objects and where they start), and never fewer targets than the recipe's
    assert trial.runs[0].job.config.env_options == recipes.ENVIRONMENTS["place"]
    mug = by_id(proposals)["pick/objects/mug"]  # with no pick promoted: the recipe's objects and the mug
    (trial,) = plan([mug], LoopConfig(max_proposals=1, seeds=(3,)), tmp_path)
    assert trial.runs[0].job.config.env_options["objects"] == ["cube", "lego", "mug"]
    # a place trained on every target takes trays: the same declines are not proposed again
    logs = read_logs([HELDOUT])
    again = propose(analyse(logs.attempts, logs.runs), place_targets=("table", "cube", "beside", "container"))
    assert not any(p.id.startswith("place/targets") for p in again)
