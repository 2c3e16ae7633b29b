"""Starting, watching and stopping the processes a measurement runs. Each
runs in a session of its own, so that a Ctrl-C reaches the bench alone and
stopping a process stops what it started too.

A process is reaped only by stop(): until then its pid names its session and
no other process can take that pid, so signalling the session is safe."""

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time

from stackkit.bench import pinning
from stackkit.server import http_request

STOP_GRACE = 10


def start(argv, output, cpus, env=None, errors=subprocess.STDOUT):
    """Starts argv on `cpus` (None: wherever the scheduler likes) with stdout to
    the open file `output`, and stderr there too unless `errors` is another."""
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=errors, env=env,
                            preexec_fn=pinning.on_cpus(cpus) if cpus else None, start_new_session=True)


def running(process):
    """True while the process has not exited (it is not reaped here)."""
    return process.returncode is None and not wait_exit(process, 0)


def wait_exit(process, seconds):
    """True if the process exits within `seconds`; it is not reaped."""
    if process.returncode is not None:
        return True
    descriptor = os.pidfd_open(process.pid)
    try:
        return bool(select.select([descriptor], [], [], seconds)[0])
    finally:
        os.close(descriptor)


def stop(process, grace=STOP_GRACE):
    """SIGTERM to the process's session, SIGKILL to what is left of it after
    `grace` seconds; reaps the process."""
    if process.returncode is not None:
        return
    _signal_session(process, signal.SIGTERM)
    wait_exit(process, grace)
    _signal_session(process, signal.SIGKILL)
    process.wait()


def _signal_session(process, signum):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def run(argv, output, cpus, timeout, env=None, errors=subprocess.STDOUT):
    """Runs argv to its end, bounded by `timeout` seconds; its exit status, or
    None if it had to be stopped."""
    process = start(argv, output, cpus, env, errors)
    try:
        finished = wait_exit(process, timeout)
    finally:
        stop(process)
    return process.returncode if finished else None


def log_tail(path, lines=5):
    """The last `lines` lines of a server's log on one line, for an error message."""
    try:
        with open(path, errors="replace") as f:
            return " ".join(line.rstrip("\n") for line in f.readlines()[-lines:])
    except OSError:
        return ""


def wait_http(url, process, seconds):
    """True once `url` answers below 400 within `seconds`, False if it does not
    or the process exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not running(process):
            return False
        if 0 < http_request(url, timeout=2)[0] < 400:
            return True
        time.sleep(0.1)
    return False


class SessionCallFailed(RuntimeError):
    pass


def call_in_session(function, timeout, cpus=None, idle=False):
    """function() run in a forked child that leads a session of its own, on
    `cpus` (and under SCHED_IDLE if idle) so that the processes it starts
    inherit both; returns its result, which must be JSON-serialisable. When it
    raises, times out or the caller is interrupted, the child and everything
    in its session are stopped, and SessionCallFailed or the interruption is
    raised here."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child never returns into the caller's code
        code = 1
        try:
            os.close(read_end)
            os.setsid()
            if cpus:
                pinning.run_here_on(cpus, idle)
            outcome = {"result": function()}
            code = 0
        except BaseException as error:  # even an interruption is reported, then the child ends
            outcome = {"error": str(error) or type(error).__name__}
        try:
            with os.fdopen(write_end, "w") as pipe:
                json.dump(outcome, pipe)
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            if not select.select([pipe], [], [], timeout)[0]:
                raise SessionCallFailed(f"no answer after {timeout} s")
            answer = pipe.read()
    except BaseException:
        _end_session(pid)
        raise
    os.waitpid(pid, 0)
    outcome = json.loads(answer) if answer else {"error": "ended without an answer"}
    if "error" in outcome:
        raise SessionCallFailed(outcome["error"])
    return outcome["result"]


def _end_session(leader, grace=STOP_GRACE):
    """SIGTERM to a forked session, SIGKILL to what is left of it after
    `grace` seconds; returns once the leader is reaped and the session empty."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while os.waitpid(leader, os.WNOHANG)[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(leader, 0)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(leader, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
