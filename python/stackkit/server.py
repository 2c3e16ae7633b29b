"""A server process that belongs to one state directory.

Every file of it lives in that directory: its configuration, NAME.pid,
NAME.stdout, NAME.stderr and state.json (what start() returned: ports, URLs,
the pid). ManagedServer holds what MariaDB, Prometheus, Alertmanager and
Jaeger have in common: telling whether the pid in the pid file is still our
server, starting it detached and waiting until it is ready (or failing with
its log), stopping it with a grace period, removing the directory, and the
command line

    NAME start  --state-dir DIR ...      print the state as JSON
    NAME stop   --state-dir DIR [--remove]
    NAME status --state-dir DIR          exit 0 if ready, 1 otherwise

A subclass says how its server is recognised, started and asked whether it
is ready; the modules expose its methods as their functions.
"""

import argparse
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request

from stackkit import processes
from stackkit.processes import FixtureError

# Loopback only: never through an HTTP proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_request(url, method=None, body=None, headers=None, timeout=10):
    """(status, body bytes) of one request; status 0 if nothing answered.
    A body that is not bytes is sent as JSON; with a body the method defaults to POST."""
    headers = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def write_state(path, state):
    """Writes a fixture's state as JSON to `path` atomically (a reader sees
    the old file or the new one, never half of one); returns the state."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    return state


def wait_for_value(fetch, accept, timeout, interval, failure):
    """fetch() again every `interval` seconds until accept(value); that value.
    After `timeout` seconds, FixtureError(failure(the last value))."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if accept(value):
            return value
        if time.monotonic() >= deadline:
            raise FixtureError(failure(value))
        time.sleep(interval)


class ServerFiles:
    """The files of one server in its state directory."""

    def __init__(self, state_dir, name, config_name=None, log_name=None):
        self.dir = os.path.abspath(state_dir)
        self.config = os.path.join(self.dir, config_name) if config_name else None
        self.pidfile = os.path.join(self.dir, name + ".pid")
        self.stdout = os.path.join(self.dir, (log_name or name) + ".stdout")
        self.stderr = os.path.join(self.dir, (log_name or name) + ".stderr")
        self.state = os.path.join(self.dir, "state.json")
        self.logs = [self.stderr, self.stdout]

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def log_tail(self, lines=30):
        return processes.log_tail(self.logs, self.dir, lines)


class ManagedServer:
    """One kind of server run from a state directory. Subclasses set `name`
    and `config_name` and define identity() and ready(); start() is theirs."""

    name = None  # NAME.pid, NAME.stdout, NAME.stderr; "NAME fixture: ..." in CLI errors
    config_name = None  # its configuration file in the state directory, if any
    ready_timeout = 60
    stop_grace = 30
    poll_interval = 0.2

    def files(self, state_dir):
        return ServerFiles(state_dir, self.name, self.config_name)

    def identity(self, files):
        """An argument only our server of this directory has on its command line."""
        raise NotImplementedError

    def ready(self, files, state):
        """True once the server answers as it should."""
        raise NotImplementedError

    def marker_files(self, files):
        """Names, one of which a state directory of this server holds: remove
        refuses a directory with none of them."""
        names = {"state.json", os.path.basename(files.pidfile)}
        if files.config:
            names.add(os.path.basename(files.config))
        return names

    # ------------------------------------------------------------ the process

    def pid(self, files):
        """Pid of our running server, or None."""
        return processes.running_pid(files.pidfile, self.identity(files))

    def launch(self, files, command, state=None, ports=()):
        """Start `command` detached, its output in the server's log files;
        record its pid (in the pid file and, if given, in state["pid"]) and
        wait until ready(files, state). The pid; FixtureError with the log's
        tail if the server exits or is not ready in time."""
        busy = [port for port in ports if not processes.port_free(port)]
        if busy:
            raise FixtureError("port%s already in use: %s" % ("s" if len(busy) > 1 else "",
                                                              ", ".join(map(str, busy))))
        program = os.path.basename(command[0])
        pid = processes.spawn_detached(command, files.stdout, files.stderr)
        with open(files.pidfile, "w") as f:
            f.write("%d\n" % pid)
        if state is not None:
            state["pid"] = pid
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if not processes.alive(pid):
                raise FixtureError("%s exited during startup:\n%s" % (program, files.log_tail()))
            if self.ready(files, state):
                return pid
            if time.monotonic() >= deadline:
                processes.terminate(pid, self.stop_grace)
                raise FixtureError("%s not ready after %ds:\n%s" % (program, self.ready_timeout, files.log_tail()))
            time.sleep(self.poll_interval)

    def launch_and_save(self, files, command, state, ports=()):
        """launch(), stopping whatever started if it fails; the state, saved."""
        try:
            self.launch(files, command, state, ports)
        except BaseException:
            self.stop(files.dir)
            raise
        return self.save_state(files, state)

    # ------------------------------------------------------------- the state

    def load_state(self, state_dir):
        """Contents of DIR/state.json (raises FixtureError if absent)."""
        files = self.files(state_dir)
        try:
            with open(files.state) as f:
                return json.load(f)
        except FileNotFoundError:
            raise FixtureError("no fixture state in %s (run start first)" % files.dir) from None

    def save_state(self, files, state):
        return write_state(files.state, state)

    def state_of(self, state):
        """The state dict itself, or loaded from a state directory."""
        return self.load_state(state) if isinstance(state, (str, os.PathLike)) else state

    # ------------------------------------------------------------------ verbs

    def is_ready(self, state_dir):
        """True if our server runs and answers."""
        files = self.files(state_dir)
        try:
            state = self.load_state(state_dir)
        except FixtureError:
            return False
        return self.pid(files) is not None and self.ready(files, state)

    def stop(self, state_dir, remove=False):
        """Stop the server (SIGTERM, SIGKILL after the grace period). No-op if
        it is not running. With remove=True, delete the state directory too."""
        files = self.files(state_dir)
        pid = self.pid(files)
        if pid is not None:
            processes.terminate(pid, self.stop_grace)
        if remove and os.path.isdir(files.dir):
            entries = os.listdir(files.dir)
            if entries and not self.marker_files(files) & set(entries):
                raise FixtureError("refusing to remove %s: does not look like a fixture dir" % files.dir)
            shutil.rmtree(files.dir)

    # ------------------------------------------------------------ command line

    def add_start_arguments(self, parser):
        """The options of `start` besides --state-dir."""

    def start_from_arguments(self, args):
        """start() with the parsed options; the state."""
        raise NotImplementedError

    def add_commands(self, command):
        """More commands: command(name, run, configure=None, state_dir=True)
        adds one; run(args) returns the exit status (None for 0)."""

    def main(self, argv=None, description=None):
        parser = argparse.ArgumentParser(description=description)
        subcommands = parser.add_subparsers(dest="cmd", required=True)
        handlers = {}

        def command(name, run, configure=None, state_dir=True):
            sub = subcommands.add_parser(name)
            if state_dir:
                sub.add_argument("--state-dir", required=True)
            if configure is not None:
                configure(sub)
            handlers[name] = run

        command("start", lambda a: print(json.dumps(self.start_from_arguments(a), indent=2)),
                self.add_start_arguments)
        command("stop", lambda a: self.stop(a.state_dir, a.remove),
                lambda sub: sub.add_argument("--remove", action="store_true"))
        command("status", lambda a: 0 if self.is_ready(a.state_dir) else 1)
        self.add_commands(command)
        args = parser.parse_args(argv)
        try:
            return handlers[args.cmd](args) or 0
        except FixtureError as e:
            print("%s fixture: %s" % (self.name, e), file=sys.stderr)
            return 1
