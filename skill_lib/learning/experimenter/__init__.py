"""The experimenter (issue #18, the Game On idea): read what the robot did, find where its learned skills do not
deliver, and propose training tasks for them.

What exists: `logs` reads episode logs and evaluations, `analyse` classifies every skill attempt and tallies
them per skill, object category, region and parameter range, `propose` turns the weak spots into a curriculum
ordered by expected gain (deterministic; `llm` lets an OpenAI-compatible model order and justify it, checked),
`report` writes the markdown report and its plot. Training, judging convergence and promotion from here are
not built yet; the policy registry they will promote into is skill_lib/learning/registry.py.
"""
