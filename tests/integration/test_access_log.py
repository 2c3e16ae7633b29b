"""The access log: one whole JSON line per request, written to stdout by a
thread of its own within the flush interval and completely at SIGTERM; a
stdout nobody reads never holds requests up, and the lines it cost are
counted at /metrics."""

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest
from conftest import apimon_binary, free_port

HANG_LIMIT = 60  # seconds only a hang takes


def records(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def pokemon_lines(text):
    return [r for r in records(text) if r["message"] == "request" and r["url.path"].startswith("/pokemon/")]


def dropped_total(metrics_body):
    found = re.search(rb"^log_records_dropped_total (\S+)$", metrics_body, re.M)
    assert found, metrics_body[-2000:]
    return int(float(found.group(1)))


def test_every_request_has_its_line_once_apimon_stopped(start_apimon):
    # A minute between timed flushes and buffers that never fill: what reaches
    # the log does so because the writer empties the buffers when a thread's
    # passes half full, and all that is left at SIGTERM.
    apimon = start_apimon("--threads", "2", "--log-flush-interval-ms", "60000", "--log-buffer-bytes", "16777216")
    requests = 3000
    connections = [apimon.connection() for _ in range(4)]
    paths = [f"/pokemon/{i % 1025 + 1}" for i in range(requests)]
    for i, path in enumerate(paths):
        assert apimon.get(path, connection=connections[i % len(connections)])[0] == 200
    status, _, body = apimon.get("/metrics")
    assert status == 200
    assert b"# TYPE log_records_dropped_total counter" in body
    assert dropped_total(body) == 0
    assert apimon.stop() == 0
    output = apimon.output()
    lines = pokemon_lines(output)
    assert sorted(line["url.path"] for line in lines) == sorted(paths)
    assert all(line["http.response.status_code"] == 200 and len(line["trace_id"]) == 32 for line in lines)
    assert records(output)[-1]["message"].startswith("apimon stopped")


def test_lines_reach_stdout_within_the_flush_interval(start_apimon):
    apimon = start_apimon("--log-flush-interval-ms", "50")
    for _ in range(3):
        assert apimon.get("/pokemon/25")[0] == 200
    deadline = time.monotonic() + HANG_LIMIT
    while len(pokemon_lines(apimon.output())) < 3:
        assert time.monotonic() < deadline, apimon.output()[-2000:]
        time.sleep(0.05)
    assert apimon.process.poll() is None  # written by the timer, not at exit


def get(port, path, connection=None):
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_LIMIT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if connection is None:
            conn.close()


def test_a_stdout_nobody_reads_holds_no_request_up_and_the_lost_lines_are_counted():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APIMON_", "OTEL_"))}
    env["OTEL_TRACES_EXPORTER"] = "none"
    process = subprocess.Popen(
        [apimon_binary(), "--listen-address", "127.0.0.1", "--port", str(port), "--log-buffer-bytes", "65536"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + HANG_LIMIT
        while True:
            try:
                assert get(port, "/healthz")[0] == 200
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        # Far more than the pipe (64 KiB) and the buffer hold: once both are
        # full, lines are dropped, and the requests are still answered.
        requests = 3000
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_LIMIT)
        for i in range(requests):
            assert get(port, f"/pokemon/{i % 1025 + 1}", connection)[0] == 200
        connection.close()
        dropped = dropped_total(get(port, "/metrics")[1])
        assert dropped > 0

        output = []
        reader = threading.Thread(target=lambda: output.append(process.stdout.read()))
        reader.start()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=HANG_LIMIT) == 0
        reader.join(timeout=HANG_LIMIT)
        text = output[0].decode()
        # Every line whole; each request's line written or counted, never both.
        assert len(pokemon_lines(text)) == requests - dropped
        assert records(text)[-1]["message"].startswith("apimon stopped")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def test_api_prometheus_writes_every_line_at_sigterm(stack):
    apimon, proxy = stack("--log-flush-interval-ms", "60000")
    for _ in range(20):
        assert proxy.get("/pokemon/25")[0] == 200
    assert proxy.stop() == 0
    lines = pokemon_lines(proxy.output())
    assert len(lines) == 20
    assert records(proxy.output())[-1]["message"].startswith("api-prometheus stopped")


def run(*args, env=None):
    return subprocess.run([apimon_binary(), *args], capture_output=True, text=True, timeout=20, env=env or {})


def test_help_lists_the_log_settings_with_their_environment_variables():
    result = run("--help")
    assert result.returncode == 0
    for flag, variable in [
        ("--log-flush-interval-ms", "APIMON_LOG_FLUSH_INTERVAL_MS"),
        ("--log-buffer-bytes", "APIMON_LOG_BUFFER_BYTES"),
    ]:
        assert flag in result.stdout and variable in result.stdout, flag


@pytest.mark.parametrize(
    "args,env,named",
    [
        (["--log-flush-interval-ms", "0"], {}, "--log-flush-interval-ms"),
        ([], {"APIMON_LOG_FLUSH_INTERVAL_MS": "soon"}, "--log-flush-interval-ms"),
        (["--log-buffer-bytes", "1024"], {}, "--log-buffer-bytes"),
        ([], {"APIMON_LOG_BUFFER_BYTES": "99999999999"}, "--log-buffer-bytes"),
    ],
)
def test_invalid_log_settings_exit_2_naming_the_setting(args, env, named):
    result = run(*args, env=env)
    assert result.returncode == 2, result
    assert named in result.stderr
    assert result.stdout == ""
