"""PyBulletArm.save_state / restore_state: a restored world runs on exactly as it did after the save."""
from __future__ import annotations

import pybullet as pb
import pytest

from hardware.pybullet import PyBulletArm
from hardware.safety import EStopActive


def _bullet_state(arm: PyBulletArm) -> list[tuple]:
    """Every body's base pose and velocity and every joint's position and velocity, as Bullet holds them."""
    c = arm.physics_client
    state: list[tuple] = []
    for body in range(pb.getNumBodies(physicsClientId=c)):
        state += [pb.getBasePositionAndOrientation(body, physicsClientId=c),
                  pb.getBaseVelocity(body, physicsClientId=c)]
        state += [pb.getJointState(body, j, physicsClientId=c)[:2]
                  for j in range(pb.getNumJoints(body, physicsClientId=c))]
    return state


def _reach_and_grasp(arm: PyBulletArm) -> list[list[tuple]]:
    """Steps on the motor targets as they are, then down onto the red cube and close the hand (motors, contacts
    and a sleeping or resting object all count); the world after every step."""
    seen = []
    for _ in range(3):
        arm.step()
        seen.append(_bullet_state(arm))
    goal = arm.object("red_cube").position + [0.0, 0.0, 0.01]
    for _ in range(20):
        arm.command_ee(goal)
        arm.step()
        seen.append(_bullet_state(arm))
    arm.command_gripper(0.0)
    for _ in range(8):
        arm.step()
        seen.append(_bullet_state(arm))
    return seen


@pytest.mark.parametrize("scene", ["default", "drawer"])
def test_restore_state_puts_the_world_back_exactly(make_arm, sweep, scene):
    arm = make_arm(0, scene=scene)
    for _ in range(50):  # past two seconds at rest: the objects sleep when saved
        arm.step()
    arm.command_ee([0.4, 0.1, 0.25])  # saved mid-motion, toward a target away from home
    arm.command_gripper(0.05)
    arm.step()
    saved = _bullet_state(arm)
    snapshot = arm.save_state()
    assert _bullet_state(arm) == saved
    after_save = _reach_and_grasp(arm)
    # Another history: objects swept around and left to sleep, and an e-stop.
    sweep(arm)
    arm.estop()
    for _ in range(50):
        arm.step()
    arm.restore_state(snapshot)
    assert _bullet_state(arm) == saved
    assert arm.sim_time == snapshot.sim_time and not arm.estopped
    assert _reach_and_grasp(arm) == after_save  # bit for bit, step by step


def test_restore_state_restores_an_estop(make_arm):
    arm = make_arm(0)
    arm.estop()
    snapshot = arm.save_state()
    arm.reset_estop()
    arm.restore_state(snapshot)
    assert arm.estopped
    with pytest.raises(EStopActive):
        arm.command_gripper(0.0)
