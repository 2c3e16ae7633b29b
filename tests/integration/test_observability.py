"""What apimon tells about itself: JSON log lines tied to traces, and a
/metrics endpoint whose output Prometheus's own tools accept and whose
cardinality no client can blow up."""
import json
import subprocess
import time

import pytest

from stackkit import prometheus

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
LOG_TIMEOUT = 10


def log_lines(apimon):
    return [json.loads(line) for line in apimon.output().splitlines() if line.strip()]


def wait_for_log_lines(apimon, wanted, count=1, timeout=LOG_TIMEOUT):
    """The log lines once at least `count` of them satisfy wanted(line);
    fails with the whole log if they have not come within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        lines = log_lines(apimon)
        if len([line for line in lines if wanted(line)]) >= count:
            return lines
        assert time.monotonic() < deadline, "fewer than %d such log lines after %ss:\n%s" % (
            count, timeout, apimon.output())
        time.sleep(0.05)


def is_access_line(line):
    return line["message"] == "request"


def test_every_log_line_is_json_and_access_lines_carry_the_trace(start_apimon):
    apimon = start_apimon()
    apimon.get("/pokemon/25", headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
    apimon.get("/pokemon/abc")
    apimon.get("/no/such/route")
    lines = wait_for_log_lines(apimon, is_access_line, count=3)
    assert all({"time", "level", "message", "service"} <= line.keys() for line in lines)
    access = [line for line in lines if is_access_line(line)]
    assert [(a["http.route"], a["http.response.status_code"]) for a in access] == [
        ("/pokemon/{id}", 200), ("/pokemon/{id}", 400), ("unmatched", 404)]
    assert access[0]["trace_id"] == TRACE and len(access[0]["span_id"]) == 16
    assert access[0]["url.path"] == "/pokemon/25" and access[0]["duration_ms"] >= 0
    assert all(len(a["trace_id"]) == 32 for a in access)  # every request is traced, with or without a parent


def test_the_access_log_can_be_switched_off(start_apimon):
    apimon = start_apimon("--access-log", "false")
    assert apimon.get("/pokemon/1")[0] == 200
    # Stopped, apimon has written every line it will: the last says so.
    assert apimon.stop() == 0
    lines = wait_for_log_lines(apimon, lambda line: line["message"].startswith("apimon stopped"))
    assert [line["message"] for line in lines if line["message"].startswith("apimon listening on")]
    assert not [line for line in lines if is_access_line(line)]


def test_a_storage_error_is_logged_with_its_trace(start_apimon):
    apimon = start_apimon("--database-url", "mysql://nobody@127.0.0.1:1/pokedex", "--db-connect-timeout-ms", "200")
    assert apimon.get("/pokemon/1", headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})[0] == 503

    def is_storage_warning(line):
        return line["level"] == "warning" and line["message"].startswith("storage unavailable")
    warnings = [line for line in wait_for_log_lines(apimon, is_storage_warning) if is_storage_warning(line)]
    assert warnings[0]["trace_id"] == TRACE


@pytest.fixture(scope="module")
def promtool():
    return prometheus.cached_binary("promtool")


def test_metrics_pass_promtool_and_stay_bounded_whatever_clients_send(start_apimon, promtool):
    apimon = start_apimon()
    conn = apimon.connection()
    for i in range(300):  # many distinct ids, junk paths and methods
        apimon.get(f"/pokemon/{i}", conn)
        apimon.get(f"/junk/{i}/x{i}", conn)
    for method in ("BREW", "PATCH", "DELETE"):
        c = apimon.connection()
        c.request(method, "/pokemon/1")
        c.getresponse().read()
    status, headers, body = apimon.get("/metrics", conn)
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    series = [line for line in text.splitlines() if line.startswith("http_server_request_duration_seconds_count")]
    routes = {line.split('http_route="')[1].split('"')[0] for line in series}
    methods = {line.split('http_request_method="')[1].split('"')[0] for line in series}
    assert routes <= {"/pokemon/{id}", "unmatched", "/metrics"}, routes
    assert methods <= {"GET", "PATCH", "DELETE", "_OTHER"}, methods
    assert len(series) <= 12, series  # a handful of (method, route, status) combinations, not hundreds
    for label in ('"/pokemon/1"', "junk", "BREW"):
        assert label not in text


def test_openmetrics_on_request_with_exemplars(start_apimon):
    apimon = start_apimon()
    apimon.get("/pokemon/25", headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
    conn = apimon.connection()
    conn.request("GET", "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    response = conn.getresponse()
    text = response.read().decode()
    assert response.getheader("Content-Type").startswith("application/openmetrics-text; version=1.0.0")
    assert text.endswith("# EOF\n")
    exemplar = f'# {{trace_id="{TRACE}"'
    traced = [line.split("{")[0] for line in text.splitlines() if exemplar in line]
    # The request's latency and its database query's both lead to the trace.
    assert "http_server_request_duration_seconds_bucket" in traced, traced
    assert "db_client_operation_duration_seconds_bucket" in traced, traced
    db_line = next(line for line in text.splitlines()
                   if line.startswith("db_client_operation_duration_seconds_bucket") and exemplar in line)
    assert 'span_id="00f067aa0ba902b7"' not in db_line, "the query's exemplar names its own span, not the caller's"
