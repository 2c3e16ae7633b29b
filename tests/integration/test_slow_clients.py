"""Slow and abusive clients against apimon: slowhttptest's slowloris (-H),
slow body (-B) and slow read (-X) attacks, more connections than
--max-connections, and more than the process has file descriptors for.

While an attack runs an ordinary client keeps asking for Pokémon: every
answer must be right and come in the ordinary latency class (milliseconds;
a server held up by the attack would take about the I/O timeout, seconds).
slowhttptest's own report shows the attack held its connections open and
that the server closed them all, long before the idle timeout could have;
apimon's metrics say it was the I/O timeout.

slowhttptest is the Debian package scripts/bootstrap installs."""
import csv
import http.client
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field

import pytest
from conftest import expected_document

from stackkit import exposition

IO_TIMEOUT_MS = 3_000
# Longer than an attack may last (ATTACK_SECONDS): a connection closed during
# an attack was closed by the I/O timeout, never by the idle one.
IDLE_TIMEOUT_MS = 60_000
ATTACK_SECONDS = 30  # slowhttptest's -l; it stops sooner once every connection is closed
# An ordinary request takes milliseconds even on a busy machine; one the
# attack held up would take at least the I/O timeout.
SLOWEST_ORDINARY_REQUEST_S = IO_TIMEOUT_MS / 1000 / 2
ADMIN_TOKEN = "slow-clients-admin-token"
POKEMON_IDS = (1, 25, 150, 249, 493, 649, 1025)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Each attack: slowhttptest's mode and load, the route it aims at, and the
# phase apimon's timeout metric gives the connections it cuts off.
ATTACKS = {
    # Headers sent a line a second, never finished.
    "slowloris": (["-H", "-c", "200", "-r", "200", "-i", "1"], "/pokemon/25", "request"),
    # A body announced as 8 KiB and sent a few bytes a second, to the route
    # that takes a body (the fault admin API, on with a token).
    "slow_body": (["-B", "-t", "PUT", "-s", "8192", "-c", "200", "-r", "200", "-i", "1"], "/admin/faults", "request"),
    # Ten pipelined listings (about 70 KB of answers) per connection, read
    # through a 512-1024 byte window at 512 bytes a second.
    "slow_read": (["-X", "-c", "100", "-r", "100", "-k", "10", "-n", "1", "-w", "512", "-y", "1024", "-z", "512"],
                  "/types/water/pokemon?limit=100", "response"),
}


def slowhttptest_binary():
    binary = shutil.which("slowhttptest")
    assert binary, "slowhttptest is not on the PATH; scripts/bootstrap installs it (Debian package slowhttptest)"
    return binary


@dataclass
class AttackReport:
    output: str  # stdout and stderr, without colours
    rows: list  # the CSV: one row a second, with Connected, Closed, Pending and Service Available

    def exit_status(self):
        match = re.search(r"Exit status:\s*(.+)", self.output)
        return match.group(1).strip() if match else None

    def ended_on_second(self):
        match = re.search(r"Test ended on (\d+)\w* second", self.output)
        return int(match.group(1)) if match else None

    def most_connected(self):
        return max(int(row["Connected"]) for row in self.rows)

    def summary(self):
        return f"{self.exit_status()!r} on second {self.ended_on_second()}; last seconds: {self.rows[-3:]}"


def run_slowhttptest(directory, name, *args):
    prefix = directory / name
    result = subprocess.run([slowhttptest_binary(), *args, "-l", str(ATTACK_SECONDS), "-g", "-o", str(prefix)],
                            capture_output=True, text=True, timeout=ATTACK_SECONDS + 60, cwd=directory, check=False)
    output = ANSI_ESCAPE.sub("", result.stdout + result.stderr)
    assert result.returncode == 0, output[-3000:]
    with open(f"{prefix}.csv", newline="", encoding="utf-8") as report:
        rows = list(csv.DictReader(report))
    assert rows and {"Connected", "Closed", "Service Available"} <= rows[0].keys(), (rows[:1], output[-3000:])
    return AttackReport(output, rows)


@dataclass
class OrdinaryClient:
    """Asks for Pokémon in a loop on its own thread, on a kept-alive
    connection renewed every few requests, and keeps every failure and the
    slowest answer's time."""
    port: int
    expected: dict
    answered: int = 0
    slowest: float = 0.0
    failures: list = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the ordinary client did not stop"

    def _run(self):
        connection = None
        count = 0
        while not self._stop.is_set():
            pokemon_id = POKEMON_IDS[count % len(POKEMON_IDS)]
            count += 1
            if connection is None or count % 5 == 0:
                if connection is not None:
                    connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            started = time.monotonic()
            try:
                connection.request("GET", f"/pokemon/{pokemon_id}")
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(f"/pokemon/{pokemon_id}: {error!r}")
                connection.close()
                connection = None
                continue
            self.slowest = max(self.slowest, time.monotonic() - started)
            try:
                document = json.loads(body)
            except ValueError:
                document = None
            if response.status != 200 or document != self.expected[pokemon_id]:
                self.failures.append(f"/pokemon/{pokemon_id}: {response.status} {body[:200]!r}")
            else:
                self.answered += 1
            self._stop.wait(0.02)
        if connection is not None:
            connection.close()


def scrape(apimon, connection=None):
    status, _, body = apimon.get("/metrics", connection)
    assert status == 200
    return exposition.parse(body.decode())


def wait_for_open_connections(apimon, expected, connection=None, timeout=15.0):
    """Scrapes until the server holds `expected` connections (the scrape's
    own included); closes reach the server a moment after the client's."""
    deadline = time.monotonic() + timeout
    while True:
        held = exposition.total(scrape(apimon, connection), "http_server_open_connections")
        if held == expected or time.monotonic() > deadline:
            return held
        time.sleep(0.05)


@pytest.fixture(scope="module")
def expected(seed):
    return {pokemon_id: expected_document(seed, pokemon_id) for pokemon_id in POKEMON_IDS}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_neither_delays_ordinary_clients_nor_keeps_its_connections(start_apimon, expected, tmp_path,
                                                                             attack):
    args, path, phase = ATTACKS[attack]
    connections = int(args[args.index("-c") + 1])
    apimon = start_apimon("--io-timeout-ms", str(IO_TIMEOUT_MS), "--idle-timeout-ms", str(IDLE_TIMEOUT_MS),
                          "--admin-token", ADMIN_TOKEN)
    before = scrape(apimon)

    with OrdinaryClient(apimon.port, expected) as client:
        report = run_slowhttptest(tmp_path, attack, *args, "-p", "5", "-u", f"http://127.0.0.1:{apimon.port}{path}")

    # The attack held its connections open...
    assert report.most_connected() >= connections // 2, report.rows
    # ...and the server closed every one of them, within the attack's time
    # and so long before the idle timeout: slowhttptest stopped for want of
    # open connections.
    assert report.exit_status() == "No open connections left", report.summary()
    assert report.ended_on_second() is not None and report.ended_on_second() < ATTACK_SECONDS, report.summary()
    # slowhttptest's own probe found the service available every second.
    assert all(int(row["Service Available"]) > 0 for row in report.rows), report.rows

    # Meanwhile the ordinary client got every answer right and in time.
    assert client.failures == [], client.failures[:10]
    assert client.answered >= 10, client.answered
    assert client.slowest < SLOWEST_ORDINARY_REQUEST_S, f"the slowest ordinary request took {client.slowest:.3f} s"

    # The server's I/O timeout cut the connections off, and it holds none of
    # them now (the scrape's own connection is the one left).
    after = scrape(apimon)
    timed_out = (exposition.total(after, "http_server_connection_timeouts_total", phase=phase)
                 - exposition.total(before, "http_server_connection_timeouts_total", phase=phase))
    assert report.most_connected() <= timed_out <= connections, (timed_out, report.rows)
    assert wait_for_open_connections(apimon, 1) == 1


def open_kept_alive(port, expected_answer):
    """A connection that got one right answer and stays open, or None when
    the server closed it at once (refused it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/pokemon/25")
        response = connection.getresponse()
        body = response.read()
    except ConnectionError:  # http.client.RemoteDisconnected is one
        connection.close()
        return None
    assert response.status == 200 and json.loads(body) == expected_answer, body
    return connection


def open_until_accepted(port, expected_answer, timeout=20.0):
    """(the connection, how many attempts were refused before it)."""
    refused = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = open_kept_alive(port, expected_answer)
        if connection is not None:
            return connection, refused
        refused += 1
        time.sleep(0.05)
    pytest.fail(f"no connection accepted within {timeout} s ({refused} refused)")


def test_connections_beyond_the_limit_are_refused_without_harming_the_others(start_apimon, expected):
    limit = 8
    apimon = start_apimon("--max-connections", str(limit), "--idle-timeout-ms", str(IDLE_TIMEOUT_MS))
    # Until the server has seen the readiness probe's connection close, it
    # may refuse one more: count such refusals instead of guessing.
    held = []
    refused = 0
    for _ in range(limit):
        connection, refusals = open_until_accepted(apimon.port, expected[25])
        held.append(connection)
        refused += refusals

    # Connections beyond the limit are closed at once: the first read sees
    # the end of the stream (or a reset), long before any timeout.
    extra = 3
    for _ in range(extra):
        with socket.create_connection(("127.0.0.1", apimon.port), timeout=5) as late:
            try:
                data = late.recv(1)
            except ConnectionResetError:
                data = b""
            except TimeoutError:
                pytest.fail("a connection beyond the limit was still open after 5 s")
            assert data == b""
    refused += extra

    # The held connections still work.
    for index, connection in enumerate(held):
        pokemon_id = POKEMON_IDS[index % len(POKEMON_IDS)]
        status, _, body = apimon.get(f"/pokemon/{pokemon_id}", connection)
        assert status == 200 and json.loads(body) == expected[pokemon_id]

    # Once some close, new connections are taken again.
    for connection in held[:2]:
        connection.close()
    fresh, refusals = open_until_accepted(apimon.port, expected[25])
    refused += refusals

    samples = scrape(apimon, fresh)
    assert exposition.total(samples, "http_server_connections_refused_total") == refused
    assert wait_for_open_connections(apimon, limit - 1, fresh) == limit - 1
    for connection in [*held[2:], fresh]:
        connection.close()


def test_running_out_of_file_descriptors_neither_spins_nor_floods_the_log(start_apimon, expected):
    most = 1_000_000
    apimon = start_apimon("--max-connections", str(most))

    # Leave the running server a few descriptors, then connect far more
    # clients than they allow: the kernel completes their handshakes, and
    # accept() fails with EMFILE while they wait in the backlog.
    pid = apimon.process.pid
    in_use = len(os.listdir(f"/proc/{pid}/fd"))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use + 16, in_use + 16))
    clients = [socket.create_connection(("127.0.0.1", apimon.port), timeout=5) for _ in range(48)]
    try:
        # A loop that retried at once would fail hundreds of thousands of
        # times in these seconds, and log each; one that backs off logs a
        # line a second at most.
        time.sleep(3)
        failures_logged = apimon.output().count("accept failed")
        assert 1 <= failures_logged <= 10, failures_logged
    finally:
        for client in clients:
            client.close()

    # Once the clients are gone the server answers again.
    connection, _ = open_until_accepted(apimon.port, expected[25])
    connection.close()
    # It said at start that descriptors would run out before its connection limit.
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft <= most:
        assert "is not below the open-file limit" in apimon.output()
