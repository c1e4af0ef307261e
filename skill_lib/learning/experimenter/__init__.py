"""The experimenter (issue #18, the Game On idea): read what the robot did, find where its learned skills do not
deliver, propose training tasks for them, train what can be trained today, judge it and promote what is better.

`logs` reads episode logs and evaluations, `analyse` classifies every skill attempt and tallies them per skill,
object category, region and parameter range, `recheck` asks the promoted policies again about each logged decline
(one they take now is no weak spot), `propose` turns the weak spots into a curriculum ordered by expected
gain (deterministic; `llm` lets an OpenAI-compatible model order and justify it, checked). `trainable` says which
proposals a skill's own environment can train, with which options (a wider push range; the others are reported, not
trained), `loop` trains their candidates (Ray, skill_lib/learning/distributed.py), `heldout` runs a policy's
held-out episodes, `judge` holds the stated tests (learning-curve trend; candidate against the current policy on
success, effort and safety), and `loop` promotes kept candidates in the policy registry
(skill_lib/learning/registry.py).
`report` writes the markdown report and its plots.
"""
