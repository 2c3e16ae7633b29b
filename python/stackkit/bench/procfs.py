"""What /proc says about the processes and the CPU under measurement."""

import os
import resource
import time

from stackkit.bench import stats

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    """User and system time of all threads of a process (or of all the
    processes of a tuple, such as gunicorn's), in clock ticks; None if there
    is no such process."""
    if pid is None:
        return None
    if isinstance(pid, tuple):
        ticks = [cpu_ticks(one) for one in pid]
        return None if None in ticks else sum(ticks)
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime


def busy_ticks(cpu):
    """Clock ticks one CPU spent on anything (user, nice, system, irq,
    softirq, steal), from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            fields = line.split()
            if fields[0] == f"cpu{cpu}":
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
                return user + nice + system + irq + softirq + steal
    raise ValueError(f"no cpu{cpu} in /proc/stat")


def rss_kib(pid):
    """VmRSS of a process in KiB (summed over a tuple of processes), None if
    it is gone."""
    if isinstance(pid, tuple):
        sizes = [rss_kib(one) for one in pid]
        return None if None in sizes else sum(sizes)
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def threads(pid):
    """The number of threads of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def open_fds(pid):
    """The number of open file descriptors of a process, None if it is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def child_pids(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


def reaped_children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuWindow:
    """The CPU time some processes and one CPU used over a stretch of wall
    time: open it, run the load, close it, then read the shares."""

    def __init__(self, cpu, **pids):
        self.cpu = cpu
        self.pids = pids
        self.before = {name: cpu_ticks(pid) for name, pid in pids.items()}
        self.busy_before = busy_ticks(cpu)
        self.started = time.monotonic()
        self.after = None

    def close(self):
        self.after = {name: cpu_ticks(pid) for name, pid in self.pids.items()}
        self.busy_after = busy_ticks(self.cpu)
        self.seconds = time.monotonic() - self.started

    def percent(self, name):
        """The process's CPU use as a whole per cent of one core."""
        return stats.cpu_percent(self.before[name], self.after[name], self.seconds, CLOCK_TICKS_PER_SECOND)

    def cpu_seconds(self, name):
        """The process's CPU time in seconds, None if it was not measured."""
        if self.before[name] is None or self.after[name] is None:
            return None
        return (self.after[name] - self.before[name]) / CLOCK_TICKS_PER_SECOND

    def noise(self, *measured, measured_seconds=0.0):
        """The share of the CPU that processes other than the named ones (and
        than `measured_seconds` of CPU time counted elsewhere) took."""
        used = sum(self.after[name] - self.before[name] for name in measured
                   if self.before[name] is not None and self.after[name] is not None)
        return stats.noise_percent((self.busy_after - self.busy_before) / CLOCK_TICKS_PER_SECOND,
                                   used / CLOCK_TICKS_PER_SECOND + measured_seconds, self.seconds)
