"""The default skills, one module each."""
from skill_lib.spec import SkillSpec
from skill_lib.skills import gripper, move_to, pick, place, pull, push


def default_skills() -> list[SkillSpec]:
    return [move_to.SKILL, pick.SKILL, place.SKILL, push.SKILL, pull.SKILL, gripper.OPEN_GRIPPER,
            gripper.CLOSE_GRIPPER]


__all__ = ["default_skills"]
