"""Real-time scheduling for a control loop: Linux SCHED_FIFO for the calling thread, as ros2_control gives its
controller manager, with a clear word where the OS refuses it.

A periodic loop at SCHED_FIFO runs as soon as its sleep ends, ahead of every normal process, so a busy machine
no longer delays its commands. It needs the right to raise priority: root or CAP_SYS_NICE, or an `rtprio` limit
(e.g. `@realtime - rtprio 98` in /etc/security/limits.conf, the usual set-up on a robot computer). The kernel
keeps 5 % of each second for normal processes (sched_rt_runtime_us), so a runaway loop cannot lock the machine.
"""
from __future__ import annotations

import os

#: SCHED_FIFO priority of control loops (1-99; ros2_control's controller manager uses 50)
DEFAULT_PRIORITY = 50


def make_realtime(priority: int = DEFAULT_PRIORITY) -> str:
    """Run the calling thread (and the threads it starts later) at SCHED_FIFO `priority`; 0 leaves it alone.
    Only the loop's thread: an rclpy executor at the same priority would compete with it for the cores.

    Returns a line for the log that says what was set, or why it was not: the loop then runs at normal
    priority, which works but keeps its period only on an unloaded machine."""
    if priority <= 0:
        return "real-time scheduling off (realtime_priority 0): the control loop runs at normal priority"
    if not hasattr(os, "sched_setscheduler"):
        return "real-time scheduling is not available on this OS: the control loop runs at normal priority"
    if not 1 <= priority <= 99:
        raise ValueError(f"real-time priority must be 0 (off) or 1-99, got {priority}")
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))  # 0: the calling thread
    except PermissionError:
        return (f"real-time scheduling refused (SCHED_FIFO {priority} needs root, CAP_SYS_NICE or an rtprio "
                "limit in /etc/security/limits.conf): the control loop runs at normal priority and may miss "
                "its period when the machine is busy")
    except OSError as err:
        return f"real-time scheduling failed ({err}): the control loop runs at normal priority"
    return f"the control loop at real-time priority (SCHED_FIFO {priority})"


def is_realtime() -> bool:
    """True if the calling thread runs under a real-time policy."""
    return hasattr(os, "sched_getscheduler") and os.sched_getscheduler(0) in (os.SCHED_FIFO, os.SCHED_RR)
