"""Which run of the compose test owns a stack on the Docker engine. The test
labels everything it creates with its run (`this_run()`); a later run takes
down a stack only when every part of it carries the label of a run that is no
longer alive, and refuses anything else: a user's stack, or a live run's."""

import os
import pathlib

PROC = pathlib.Path("/proc")


def boot_id():
    return (PROC / "sys/kernel/random/boot_id").read_text().strip()


def process_start_ticks(pid):
    """The process's start time in clock ticks since boot (field 22 of
    /proc/PID/stat): with the pid and the boot, it names one process for good."""
    stat = (PROC / str(pid) / "stat").read_text()
    return stat.rsplit(")", 1)[1].split()[19]


def run_of(pid):
    """`<boot id>/<pid>/<start ticks>` of a live process."""
    return "%s/%d/%s" % (boot_id(), pid, process_start_ticks(pid))


def this_run():
    return run_of(os.getpid())


def run_is_alive(owner):
    """Whether the process `owner` names still runs: same boot, and the pid
    not since reused by another process. A label not of that form names no run."""
    if not is_a_run(owner):
        return False
    boot, pid, start = owner.split("/")
    try:
        return boot == boot_id() and process_start_ticks(int(pid)) == start
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def is_a_run(owner):
    """Whether a label has the form run_of() gives it."""
    parts = owner.split("/")
    return len(parts) == 3 and parts[1].isdigit() and bool(parts[0]) and bool(parts[2])


def refusal(owners, project):
    """Why a stack whose parts carry these owner labels ('' for a part without
    one) must be left alone, or None when killed runs of the test left all of
    it and it may be taken down."""
    owners = set(owners)
    foreign = sorted(owner for owner in owners if not is_a_run(owner))
    if foreign:
        return ("a compose project named %s, not started by this test, exists on this engine: stop it "
                "(docker compose down) and run the test again; the test never touches a stack it did not start"
                % project)
    running = sorted(owner for owner in owners if run_is_alive(owner))
    if running:
        return "another run of this test (%s) is using the compose project %s" % (", ".join(running), project)
    return None
