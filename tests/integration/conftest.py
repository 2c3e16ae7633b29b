"""Shared helpers for the integration suites: run apimon as a real process on a
free loopback port and talk HTTP/1.1 to it."""
import http.client
import json
import os
import pathlib
import signal
import socket
import sqlite3
import subprocess
import time

import pytest

from stackkit.processes import sanitizer_report

REPO = pathlib.Path(__file__).resolve().parents[2]


def apimon_binary() -> str:
    binary = os.environ.get("APIMON_BIN") or str(REPO / "build/ci/services/apimon/apimon")
    assert os.access(binary, os.X_OK), f"apimon binary not found at {binary}; build first or set APIMON_BIN"
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Apimon:
    """One apimon process. Stopping it with SIGTERM must end in exit code 0."""

    def __init__(self, *args, env=None):
        self.port = free_port()
        self.log_path = pathlib.Path(os.environ.get("POKEDEX_STATE_DIR", "/tmp")) / f"apimon-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (open while the process runs; stop() closes it)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("APIMON_", "OTEL_"))}
        # Spans are made (logs and exemplars carry trace ids) but go nowhere
        # unless a test points them at a collector.
        full_env["OTEL_TRACES_EXPORTER"] = "none"
        full_env.update(env or {})
        binary = getattr(self, "_binary", None) or apimon_binary()
        self.process = subprocess.Popen(
            [binary, "--listen-address", "127.0.0.1", "--port", str(self.port), *args],
            stdout=self.log, stderr=subprocess.STDOUT, env=full_env)
        self._wait_until_listening()

    def _wait_until_listening(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"apimon exited with {self.process.returncode}: {self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"apimon did not listen within {timeout}s: {self.output()}")

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def get(self, path, connection=None, headers=None):
        conn = connection or self.connection()
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        if connection is None:
            conn.close()
        return response.status, dict(response.getheaders()), body

    def get_json(self, path, connection=None):
        status, headers, body = self.get(path, connection)
        return status, headers, json.loads(body)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=15.0) -> int:
        """Stops the process and returns its exit status. A sanitizer report
        in its output (a sanitized build: scripts/test's sanitize preset)
        fails the test whatever the status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=timeout)
        self.log.close()
        report = sanitizer_report(self.output())
        assert report is None, f"{pathlib.Path(self.process.args[0]).name}: {report}\n{self.output()[-4000:]}"
        return self.process.returncode


@pytest.fixture
def start_apimon():
    started = []

    def start(*args, env=None):
        server = Apimon(*args, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        code = server.stop()
        assert code == 0, f"apimon exited with {code} on SIGTERM: {server.output()[-2000:]}"


class ApiPrometheus(Apimon):
    """The same process handling as apimon's, for the other binary."""

    def __init__(self, apimon_port, *args, env=None):
        binary = os.environ.get("API_PROMETHEUS_BIN") or str(REPO / "build/ci/services/api-prometheus/api-prometheus")
        self._binary = binary
        super().__init__("--apimon-url", f"http://127.0.0.1:{apimon_port}", *args, env=env)


@pytest.fixture
def stack(start_apimon, monkeypatch):
    started = []

    def start(*args, apimon_args=(), env=None):
        apimon = start_apimon(*apimon_args, env=env)
        proxy = ApiPrometheus(apimon.port, *args, env=env)
        started.append(proxy)
        return apimon, proxy

    yield start
    for proxy in started:
        assert proxy.stop() == 0, proxy.output()[-2000:]


@pytest.fixture(scope="session")
def seed():
    """The committed SQL loaded into Python's own sqlite3: the reference the
    service's answers are checked against."""
    db = sqlite3.connect(":memory:")
    db.executescript((REPO / "db/schema.sql").read_text(encoding="utf-8"))
    db.executescript((REPO / "db/seed.sql").read_text(encoding="utf-8"))
    return db


def expected_document(seed, pokemon_id, lang="en"):
    row = seed.execute(
        "SELECT p.id, p.slug, p.generation_id, t1.slug, t2.slug, p.height, p.weight, p.hp, p.attack,"
        " p.defense, p.special_attack, p.special_defense, p.speed FROM pokemon p"
        " JOIN types t1 ON t1.id = p.primary_type_id LEFT JOIN types t2 ON t2.id = p.secondary_type_id"
        " WHERE p.id = ?", (pokemon_id,)).fetchone()
    name, name_lang = seed.execute("SELECT name, name_lang FROM pokedex_entries WHERE pokemon_id = ? AND lang = ?",
                                   (pokemon_id, lang)).fetchone()
    return {
        "id": row[0], "name": name, "lang": name_lang, "slug": row[1], "generation": row[2],
        "types": [t for t in (row[3], row[4]) if t], "height": row[5], "weight": row[6],
        "base_stats": dict(zip(["hp", "attack", "defense", "special_attack", "special_defense", "speed"], row[7:13],
                               strict=True)),
    }


def assert_problem(status, headers, body, expected_status):
    assert status == expected_status, body
    assert headers["Content-Type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == expected_status
    assert problem["title"] and problem["detail"]
    for internal in ("SELECT", "sqlite", "mysql", "mariadb", "exception", "std::"):
        assert internal.lower() not in problem["detail"].lower(), problem
    return problem
