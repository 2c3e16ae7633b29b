"""Which CPUs the processes of a measurement run on, and at what priority.

CPU affinity and the scheduling policy are per thread on Linux and a child
inherits both from the thread that forks it, so a server started from a
pinned thread, and every thread it starts, stays pinned."""

import contextlib
import os


def parse_cpu_list(text):
    """The CPUs of a list like taskset's: 0,1 or 0-3 or 1,4-5."""
    cpus = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"not a CPU list: {text!r}")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"not a CPU list: {text!r}")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def format_cpu_list(cpus):
    return ",".join(str(cpu) for cpu in sorted(cpus))


def allowed_cpus():
    """The CPUs this process may run on."""
    return frozenset(os.sched_getaffinity(0))


def on_cpus(cpus):
    """A subprocess preexec_fn that runs the child on `cpus`."""
    cpus = frozenset(cpus)
    return lambda: os.sched_setaffinity(0, cpus)


def run_here_on(cpus, idle=False):
    """Moves the calling thread to `cpus`, and under SCHED_IDLE if idle."""
    os.sched_setaffinity(0, cpus)
    if idle:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def _threads(pid):
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        raise ProcessLookupError(f"no process {pid}") from None


def pin_threads(pid, cpus):
    """Moves every thread of a running process to `cpus` (threads it starts
    later inherit that)."""
    for tid in _threads(pid):
        with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
            os.sched_setaffinity(tid, cpus)


def make_idle(pid):
    """Puts every thread of a running process under SCHED_IDLE: it then runs
    only when its CPU would otherwise be idle."""
    for tid in _threads(pid):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
