"""The bench's seed peer (bench/peers/seed: Flask under gunicorn, PyMySQL,
prometheus_client, OpenTelemetry) against the MariaDB fixture, beside apimon
on the same database: it must do the work apimon does for GET /pokemon/{id}
(the same documents), answer a missing id with a 404 problem, count its
requests in /metrics from both workers, and send its traces to a real Jaeger.
The peer runs from its own venv (python/stackkit/bench/peer.py), which
scripts/bootstrap prepares."""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile

import pytest
from conftest import Apimon, free_port

from stackkit import exposition, jaeger
from stackkit import mariadb as fixture
from stackkit.bench import peer
from stackkit.server import http_request, wait_for_value

STATE = pathlib.Path(os.environ.get("POKEDEX_STATE_DIR", "/tmp/pokedex-test-state"))
IDS = (1, 25, 150, 493, 1025)  # a first, a single type, two types and the last
MISSING_ID = 9999


@pytest.fixture(scope="module")
def database():
    return fixture.start(str(STATE / "mariadb"))  # idempotent: reuses the CTest fixture's server


@pytest.fixture(scope="module")
def jaeger_state():
    state_dir = STATE / "seed-peer-jaeger"
    jaeger.stop(str(state_dir), remove=True)  # leftovers of an interrupted run
    try:
        yield jaeger.start(str(state_dir))
    finally:
        jaeger.stop(str(state_dir), remove=True)


@pytest.fixture(scope="module")
def seed_peer(database, jaeger_state):
    peer.ensure_venv()
    port = free_port()
    metrics_dir = tempfile.mkdtemp(prefix="seed-peer-metrics.")
    log_path = STATE / f"seed-peer-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = peer.environment(database["url"], database["app_password_file"], metrics_dir,
                           jaeger_state["otlp_http_endpoint"])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(peer.argv(port), stdout=log, stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_value(lambda: process.poll() is None and http_request(url + "/healthz", timeout=2)[0],
                       lambda status: status == 200 or process.poll() is not None, 60, 0.2,
                       lambda _: f"the seed peer did not answer: {log_path.read_text(errors='replace')[-2000:]}")
        assert process.poll() is None, log_path.read_text(errors="replace")[-2000:]
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    assert process.returncode == 0, log_path.read_text(errors="replace")[-2000:]


@pytest.fixture(scope="module")
def apimon_on_mariadb(database):
    server = Apimon("--database-url", database["url"], "--database-password-file", database["app_password_file"],
                    "--db-pool-size", "2")
    yield f"http://127.0.0.1:{server.port}"
    assert server.stop() == 0


def get_json(url):
    status, body = http_request(url, timeout=10)
    return status, json.loads(body)


@pytest.mark.parametrize("path", [f"/pokemon/{i}" for i in IDS] + ["/pokemon/6?lang=ja", "/pokemon/25?lang=de"])
def test_the_peer_serves_the_documents_apimon_serves(seed_peer, apimon_on_mariadb, path):
    peer_status, peer_document = get_json(seed_peer + path)
    apimon_status, apimon_document = get_json(apimon_on_mariadb + path)
    assert (peer_status, apimon_status) == (200, 200)
    assert peer_document == apimon_document


def test_a_missing_pokemon_is_a_404_problem(seed_peer, apimon_on_mariadb):
    status, problem = get_json(f"{seed_peer}/pokemon/{MISSING_ID}")
    apimon_status, apimon_problem = get_json(f"{apimon_on_mariadb}/pokemon/{MISSING_ID}")
    assert status == apimon_status == 404
    assert problem == apimon_problem


def served_pokemon(url):
    status, body = http_request(url + "/metrics", timeout=10)
    assert status == 200
    return sum(value for name, labels, value in exposition.parse(body.decode())
               if name == "http_requests_total" and labels.get("route") == "/pokemon/<pokemon_id>"
               and labels.get("status") == "200")


def test_metrics_add_up_the_requests_of_both_workers(seed_peer):
    """One worker is held on a connection that has not sent its request yet,
    so the other (a process of its own) answers the next 20; then the held
    one answers its request. /metrics, from either, counts all 21."""
    before = served_pokemon(seed_peer)
    host, port = seed_peer.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as held:
        for i in range(20):
            assert http_request(f"{seed_peer}/pokemon/{i + 1}", timeout=10)[0] == 200
        held.sendall(b"GET /pokemon/25 HTTP/1.1\r\nHost: seed\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := held.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert served_pokemon(seed_peer) - before == 21


def test_every_request_is_traced_to_jaeger(seed_peer, jaeger_state):
    assert http_request(f"{seed_peer}/pokemon/150", timeout=10)[0] == 200
    traces = wait_for_value(lambda: jaeger.find_traces(jaeger_state, peer.SERVICE, limit=20), bool, 30, 0.5,
                            lambda _: f"Jaeger has no trace of {peer.SERVICE}")
    operations = {span["operationName"] for trace in traces for span in trace["spans"]}
    assert any(name.startswith("GET /pokemon/") for name in operations), operations
    database_spans = [span for trace in traces for span in trace["spans"]
                      if any(tag["key"] in ("db.system", "db.system.name") and tag["value"] == "mysql"
                             for tag in span["tags"])]
    assert database_spans, operations
