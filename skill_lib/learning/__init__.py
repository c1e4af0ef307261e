"""Learned skills: goal-conditioned environments per skill, registered with gymnasium."""
import gymnasium as gym

ENVIRONMENTS = {
    "move_to": ("SkillStack/Reach-v0", "skill_lib.learning.envs.reach:ReachEnv"),
    "push": ("SkillStack/Push-v0", "skill_lib.learning.envs.push:PushEnv"),
    "pick": ("SkillStack/Pick-v0", "skill_lib.learning.envs.pick:PickEnv"),
    "place": ("SkillStack/Place-v0", "skill_lib.learning.envs.place:PlaceEnv"),
}

for _env_id, _entry in ENVIRONMENTS.values():
    if _env_id not in gym.registry:
        gym.register(id=_env_id, entry_point=_entry)
