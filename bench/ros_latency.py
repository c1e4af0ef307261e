"""ROS 2 figures beside their in-process references, on real rclpy (Fast DDS, loopback discovery).

Starts the simulated graph (`skillstack launch launch/sim.launch.yaml`) and a trajectory sink in their own
ROS domain, then measures:
  * action round trip: ExecuteTask goal -> result for a refused (empty) goal and a dry run (plan only),
    against Scheduler.plan() called in-process;
  * command transport scheduler -> hardware: JointTrajectory publish -> subscriber callback latency in
    another process, and the burst rate received, against PyBulletArm.command_joints() in-process;
  * the control loop of the ROS arm backend driving the simulated robot (real time, 20 Hz): step period
    and jitter, and command_ee cost (IK + safety), against PyBulletArm in-process (as fast as it can);
  * one task end to end over ROS (real time) against the same task in-process.

    python bench/ros_latency.py [--goals 30] [--commands 2000] [--steps 100]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SINK = """
import sys, time, rclpy
from trajectory_msgs.msg import JointTrajectory
from hardware.ros.common import COMMAND_QOS
rclpy.init()
node = rclpy.create_node("bench_sink")
lat = []
def on(msg):
    sent = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    lat.append(time.time() - sent)
node.create_subscription(JointTrajectory, "bench_trajectory", on, COMMAND_QOS)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.05)
print(" ".join(f"{v:.6f}" for v in lat), flush=True)
"""


def stats_ms(values: list[float]) -> str:
    ms = sorted(1e3 * v for v in values)
    return (f"median {statistics.median(ms):7.3f} ms   p95 {ms[int(0.95 * (len(ms) - 1))]:7.3f} ms   "
            f"(n={len(ms)})")


def row(name: str, ros: str, local: str) -> None:
    print(f"  {name:<34} ROS: {ros}\n  {'':<34} in-process: {local}")


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def done(future, timeout: float, what: str):
    """Block on an rclpy future without polling (polling would add its period to every figure)."""
    event = threading.Event()
    future.add_done_callback(lambda _: event.set())
    if not event.wait(timeout):
        raise TimeoutError(f"timed out waiting for {what}")
    return future.result()


def result_of(client, goal, timeout: float = 120.0):
    handle = done(client.send_goal_async(goal), 20, "goal response")
    return done(handle.get_result_async(), timeout, "result").result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--goals", type=int, default=30)
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, load {os.getloadavg()[0]:.2f}")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    domain = 100 + os.getpid() % 30
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    os.environ.update(ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    print(f"ROS 2 rclpy {_rclpy_version()}, rmw {os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')}, "
          f"domain {domain}, graph: launch/sim.launch.yaml (hardware node, skill server, scheduler)\n")
    graph = subprocess.Popen([sys.executable, "-m", "skill_stack_apps.cli", "launch", "launch/sim.launch.yaml"],
                             cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        run(args, domain, env)
    finally:
        os.killpg(graph.pid, signal.SIGINT)
        try:
            graph.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(graph.pid, signal.SIGKILL)


def _rclpy_version() -> str:
    from importlib import metadata
    try:
        return metadata.version("ros-rclpy")
    except metadata.PackageNotFoundError:
        return "?"


def run(args: argparse.Namespace, domain: int, env: dict) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from skill_stack_interfaces.action import ExecuteTask
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from hardware.ros.backend import RosArm
    from hardware.ros.common import COMMAND_QOS, ActionClient
    from hardware.ros.config import RosArmConfig
    from hardware.ros.world import RosWorldView
    from planners.scheduler import Scheduler
    from skill_lib.runner import apply_action

    rclpy.init(domain_id=domain)
    node = rclpy.create_node("bench")
    executor = SingleThreadedExecutor()  # as the nodes: rclpy's multi-threaded one delivered messages late
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    client = ActionClient(node, ExecuteTask, "execute_task")
    wait(lambda: client.wait_for_server(timeout_sec=0.2), 90, "execute_task server")
    scheduler = Scheduler()
    local_arm = PyBulletArm(PyBulletConfig(seed=0))
    try:
        # 1. action round trip
        print("action round trip (goal sent -> result received)")
        for label, goal, local in (
                ("refused goal (empty task)", ExecuteTask.Goal(task=""), lambda: None),
                ("dry run (plan only, 2 skills)",
                 ExecuteTask.Goal(task="put the red cube in the tray", dry_run=True),
                 lambda: scheduler.plan("put the red cube in the tray", local_arm))):
            result_of(client, goal)  # warm-up
            ros, here = [], []
            for _ in range(args.goals):
                t0 = time.perf_counter()
                result_of(client, goal)
                ros.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                local()
                here.append(time.perf_counter() - t0)
            row(label, stats_ms(ros), stats_ms(here) + ("  (a function call)" if goal.task else "  (nothing to do)"))

        # 2. command transport to another process
        sink = subprocess.Popen([sys.executable, "-c", SINK, "8"], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        pub = node.create_publisher(JointTrajectory, "bench_trajectory", COMMAND_QOS)
        wait(lambda: pub.get_subscription_count() > 0, 10, "sink")
        names, q = list(local_arm.robot_config.arm_joints), list(local_arm.robot_config.home)
        t0 = time.perf_counter()
        for _ in range(args.commands):
            msg = JointTrajectory(joint_names=names, points=[JointTrajectoryPoint(positions=q)])
            now = time.time()
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(now), int((now % 1) * 1e9)
            pub.publish(msg)
            time.sleep(0.0005)  # paced, so latency is not queueing
        sent = time.perf_counter() - t0
        latencies = [float(v) for v in sink.communicate(timeout=30)[0].split()]
        local_cmd = []
        for _ in range(200):
            t0 = time.perf_counter()
            local_arm.command_joints(q)
            local_cmd.append(time.perf_counter() - t0)
        print("commands scheduler -> hardware (JointTrajectory, 7 joints)")
        row("latency publish -> callback", stats_ms(latencies),
            stats_ms(local_cmd) + "  (command_joints incl. safety filter)")
        print(f"  {'rate':<34} ROS: {len(latencies)}/{args.commands} received at {args.commands / sent:.0f} msg/s "
              f"(paced sender)")

        # 3. the ROS arm backend's control loop against the simulated robot
        arm = RosArm(node, RosArmConfig())
        world = RosWorldView(node)
        wait(lambda: arm.wait_ready(0.1) and world.age() is not None, 20, "joint and object states")
        rng = np.random.default_rng(0)
        periods, cmd_ros = [], []
        t_prev = time.perf_counter()
        for _ in range(args.steps):
            t0 = time.perf_counter()
            apply_action(arm, rng.uniform(-0.3, 0.3, size=4))
            cmd_ros.append(time.perf_counter() - t0)
            arm.step()
            now = time.perf_counter()
            periods.append(now - t_prev)
            t_prev = now
        arm.forget_targets()
        local_periods, cmd_local = [], []
        t_prev = time.perf_counter()
        for _ in range(args.steps):
            t0 = time.perf_counter()
            apply_action(local_arm, rng.uniform(-0.3, 0.3, size=4))
            cmd_local.append(time.perf_counter() - t0)
            local_arm.step()
            now = time.perf_counter()
            local_periods.append(now - t_prev)
            t_prev = now
        print(f"control loop, {args.steps} random policy actions (apply_action -> step)")
        row("step period (target 50 ms)", stats_ms(periods), stats_ms(local_periods) + "  (as fast as it can)")
        late = sum(p > 0.075 for p in periods)
        print(f"  {'':<34} ROS: {late}/{len(periods)} steps over 75 ms, longest {1e3 * max(periods):.0f} ms")
        row("apply_action (IK + safety)", stats_ms(cmd_ros), stats_ms(cmd_local))

        # 4. a task end to end
        task = "put the red cube in the tray"
        t0 = time.perf_counter()
        result = result_of(client, ExecuteTask.Goal(task=task))
        ros_wall = time.perf_counter() - t0
        with PyBulletArm(PyBulletConfig(seed=0)) as fresh:
            t0 = time.perf_counter()
            report = scheduler.execute(scheduler.plan(task, fresh), fresh, fresh)
            local_wall = time.perf_counter() - t0
        print(f"task '{task}'")
        row("wall time", f"{ros_wall:6.2f} s, success {result.success} (simulator runs in real time)",
            f"{local_wall:6.2f} s, success {report.success} ({report.sim_seconds:.1f} s simulated)")
        world.close()
        arm.close()
    finally:
        local_arm.close()
        executor.shutdown(timeout_sec=2)
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
