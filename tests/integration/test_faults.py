"""Fault injection in apimon and api-prometheus: each fault, switched on,
changes what it should in the metrics and the answers, and switches off
cleanly; the admin API exists only with a token and refuses every call
without the right one."""
import json
import os
import subprocess
import time

import pytest
from conftest import REPO, ApiPrometheus, apimon_binary, assert_problem

from stackkit import exposition

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def admin(service, method, body=None, headers=AUTH):
    conn = service.connection()
    payload = json.dumps(body).encode() if body is not None else None
    conn.request(method, "/admin/faults", body=payload,
                 headers={**headers, **({"Content-Type": "application/json"} if payload else {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def set_faults(service, **settings):
    status, _, body = admin(service, "PUT", settings)
    assert status == 200, body
    return json.loads(body)


def metrics(service):
    status, _, body = service.get("/metrics")
    assert status == 200
    return exposition.parse(body.decode())


def fault_gauges(service):
    return {labels["fault"]: value for labels, value in exposition.series(metrics(service), "fault_injection_active")}


def requests_by_status(samples, route):
    counts = {}
    for labels, value in exposition.series(samples, "http_server_request_duration_seconds_count", http_route=route):
        code = labels["http_response_status_code"]
        counts[code] = counts.get(code, 0) + value
    return counts


def timed_get(service, path, connection=None):
    started = time.monotonic()
    status, headers, body = service.get(path, connection)
    return status, time.monotonic() - started, body


@pytest.fixture
def apimon(start_apimon):
    return start_apimon("--admin-token", TOKEN)


def test_admin_api_is_absent_without_a_token(start_apimon):
    service = start_apimon()
    for method in ("GET", "PUT", "DELETE"):
        status, _, _ = admin(service, method, {"error_share": 1} if method == "PUT" else None)
        assert status == 404
    assert service.get("/pokemon/25")[0] == 200


def test_admin_api_refuses_a_missing_or_wrong_token(apimon):
    wrong = [{}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {TOKEN}x"},
             {"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": f"Basic {TOKEN}"},
             {"Authorization": TOKEN}, {"Authorization": "Bearer "}]
    for headers in wrong:
        for method in ("GET", "PUT", "DELETE"):
            status, response_headers, body = admin(apimon, method, {"error_share": 1}, headers=headers)
            problem = assert_problem(status, response_headers, body, 401)
            assert response_headers["WWW-Authenticate"].startswith("Bearer")
            assert TOKEN not in problem["detail"]
    # Nothing was switched on by the refused calls.
    assert apimon.get("/pokemon/25")[0] == 200
    assert set(fault_gauges(apimon).values()) == {0.0}
    # The scheme is case-insensitive.
    status, headers, body = admin(apimon, "GET", headers={"Authorization": f"bearer {TOKEN}"})
    assert status == 200
    assert json.loads(body)["active"] == []
    # The settings change with every PUT: no cache may keep an answer.
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"


def test_admin_api_rejects_invalid_settings_and_keeps_the_old_ones(apimon):
    set_faults(apimon, latency_ms=1)
    bad_bodies = [
        ({"latency_ms": 60_001}, "latency_ms"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": 1.5}, "latency_ms"),
        ({"latency_ms": "100"}, "latency_ms"),
        ({"error_share": 1.5}, "error_share"),
        ({"error_share": -0.1}, "error_share"),
        ({"error_status": 404}, "error_status"),
        ({"slow_query_share": "all"}, "slow_query_share"),
        ({"upstream_unreachable": True}, "upstream_unreachable"),  # apimon has no upstream
        ({"latency": 100}, "latency"),
        ([1, 2], "object"),
    ]
    for body, named in bad_bodies:
        status, headers, response = admin(apimon, "PUT", body)
        problem = assert_problem(status, headers, response, 400)
        assert named in problem["detail"], (body, problem)
    conn = apimon.connection()
    conn.request("PUT", "/admin/faults", body=b"{not json", headers=AUTH)
    response = conn.getresponse()
    assert "JSON" in assert_problem(response.status, dict(response.getheaders()), response.read(), 400)["detail"]
    status, _, body = admin(apimon, "GET")
    current = json.loads(body)
    assert current["latency_ms"] == 1 and current["active"] == ["latency"]
    assert current["supported"] == ["latency", "errors", "slow_queries"]


def test_error_fault_fails_api_routes_only_and_switches_off(apimon):
    assert fault_gauges(apimon) == {"latency": 0, "errors": 0, "slow_queries": 0}
    before = metrics(apimon)
    state = set_faults(apimon, error_share=1.0, error_status=503)
    assert state["active"] == ["errors"]
    assert fault_gauges(apimon)["errors"] == 1
    for path in ("/pokemon/25", "/pokemon/random", "/pokemon/search?name=pi", "/types/fire/pokemon",
                 "/generations/1/pokemon"):
        problem = assert_problem(*apimon.get(path), 503)
        assert "injected" in problem["detail"].lower()
    assert apimon.get("/healthz")[0] == 200 and apimon.get("/readyz")[0] == 200
    after = metrics(apimon)
    assert requests_by_status(after, "/pokemon/{id}").get("503", 0) - \
        requests_by_status(before, "/pokemon/{id}").get("503", 0) == 1
    assert exposition.total(after, "fault_injection_injected_total", fault="errors") == 5

    status, _, body = admin(apimon, "DELETE")
    assert status == 200 and json.loads(body)["active"] == []
    assert fault_gauges(apimon) == {"latency": 0, "errors": 0, "slow_queries": 0}
    assert apimon.get("/pokemon/25")[0] == 200


def test_error_share_fails_that_share_of_requests(apimon):
    set_faults(apimon, error_share=0.3)
    conn = apimon.connection()
    statuses = [apimon.get(f"/pokemon/{i % 1025 + 1}", conn)[0] for i in range(600)]
    assert set(statuses) == {200, 500}
    share = statuses.count(500) / len(statuses)
    # Binomial(600, 0.3): standard deviation 0.019, so ±0.08 is over four of them.
    assert abs(share - 0.3) < 0.08, share
    assert exposition.total(metrics(apimon), "fault_injection_injected_total", fault="errors") == statuses.count(500)


def injected(service, fault):
    return exposition.total(metrics(service), "fault_injection_injected_total", fault=fault)


# Which requests a fault touched is read from fault_injection_injected_total,
# never from how long they took: a busy machine slows any request down, but
# never makes one take less than the delay injected into it (the lower bounds
# below). That the injected delays stay within latency..latency+jitter is
# FaultInjector's unit test.
def test_latency_fault_shows_in_the_latency_histogram(apimon):
    conn = apimon.connection()
    assert apimon.get("/pokemon/25", conn)[0] == 200
    assert injected(apimon, "latency") == 0
    before = metrics(apimon)
    set_faults(apimon, latency_ms=200, latency_jitter_ms=100)
    durations = [timed_get(apimon, "/pokemon/25", conn) for _ in range(5)]
    assert all(status == 200 for status, _, _ in durations)
    assert all(took >= 0.2 for _, took, _ in durations), durations
    assert injected(apimon, "latency") == 5
    # Liveness is not an API route: no delay is drawn for it.
    assert apimon.get("/healthz", conn)[0] == 200
    assert injected(apimon, "latency") == 5
    after = metrics(apimon)
    labels = {"http_route": "/pokemon/{id}", "http_response_status_code": "200"}
    delta_sum = (exposition.total(after, "http_server_request_duration_seconds_sum", **labels) -
                 exposition.total(before, "http_server_request_duration_seconds_sum", **labels))
    delta_fast = (exposition.total(after, "http_server_request_duration_seconds_bucket", le="0.1", **labels) -
                  exposition.total(before, "http_server_request_duration_seconds_bucket", le="0.1", **labels))
    assert delta_sum >= 5 * 0.2 and delta_fast == 0  # all five landed above 100 ms
    assert fault_gauges(apimon)["latency"] == 1

    set_faults(apimon, latency_ms=300, latency_share=0.0)  # a share of 0 is off
    assert fault_gauges(apimon)["latency"] == 0
    assert apimon.get("/pokemon/25", conn)[0] == 200
    assert injected(apimon, "latency") == 5


def test_slow_query_fault_shows_in_the_database_histogram(apimon):
    before = metrics(apimon)
    set_faults(apimon, slow_query_ms=250)
    conn = apimon.connection()
    status, took, _ = timed_get(apimon, "/pokemon/25", conn)
    assert status == 200 and took >= 0.25
    slowed = injected(apimon, "slow_queries")
    assert slowed >= 1
    assert apimon.get("/healthz", conn)[0] == 200
    assert injected(apimon, "slow_queries") == slowed  # no query behind it
    after = metrics(apimon)
    find = {"db_operation_name": "SELECT", "db_collection_name": "pokedex_entries", "db_response_status": "ok"}
    delta = (exposition.total(after, "db_client_operation_duration_seconds_sum", **find) -
             exposition.total(before, "db_client_operation_duration_seconds_sum", **find))
    assert delta >= 0.25
    assert fault_gauges(apimon)["slow_queries"] == 1
    admin(apimon, "DELETE")
    assert fault_gauges(apimon)["slow_queries"] == 0
    assert apimon.get("/pokemon/25", conn)[0] == 200
    assert injected(apimon, "slow_queries") == slowed


def wait_for_output(service, text, timeout=60):
    """Log lines reach stdout through a writer thread: wait for one, bounded
    by a limit only a hang reaches."""
    deadline = time.monotonic() + timeout
    while text not in service.output():
        assert time.monotonic() < deadline, service.output()[-2000:]
        time.sleep(0.05)


def test_faults_can_be_set_from_the_environment_at_start(start_apimon):
    service = start_apimon(env={"APIMON_FAULT_ERROR_SHARE": "1", "APIMON_FAULT_ERROR_STATUS": "502"})
    assert_problem(*service.get("/pokemon/25"), 502)
    assert fault_gauges(service)["errors"] == 1
    wait_for_output(service, "fault injection is on from the start")
    assert admin(service, "GET")[0] == 404  # no token: faults from the environment stay until restart


@pytest.mark.parametrize("variable, value", [
    ("APIMON_FAULT_ERROR_SHARE", "2"), ("APIMON_FAULT_LATENCY_MS", "-5"), ("APIMON_FAULT_ERROR_STATUS", "404"),
    ("APIMON_FAULT_SLOW_QUERY_MS", "soon"), ("APIMON_ADMIN_TOKEN_FILE", "/nonexistent/token"),
    ("APIMON_FAULT_ROUTE", "/nope")])
def test_invalid_fault_settings_at_start_exit_2(variable, value):
    result = subprocess.run([apimon_binary(), "--port", "0"], capture_output=True, text=True, timeout=20,
                            env={variable: value})
    assert result.returncode == 2, result
    option = "--" + variable.removeprefix("APIMON_").lower().replace("_", "-")
    assert option in result.stderr or variable in result.stderr, result.stderr


def test_a_route_scoped_fault_reaches_that_route_only(apimon):
    conn = apimon.connection()
    state = set_faults(apimon, latency_ms=50, route="/pokemon/{id}")
    assert state["route"] == "/pokemon/{id}" and state["active"] == ["latency"]
    assert apimon.get("/pokemon/25", conn)[0] == 200
    assert injected(apimon, "latency") == 1
    for path in ("/pokemon/random", "/pokemon/search?name=pi", "/types/fire/pokemon"):
        assert apimon.get(path, conn)[0] == 200
    assert injected(apimon, "latency") == 1  # the other routes drew no delay
    assert fault_gauges(apimon)["latency"] == 1

    set_faults(apimon, error_share=1.0, error_status=503, route="/pokemon/random")
    assert_problem(*apimon.get("/pokemon/random", conn), 503)
    assert apimon.get("/pokemon/25", conn)[0] == 200
    assert injected(apimon, "errors") == 1
    status, _, body = admin(apimon, "GET")
    assert status == 200 and json.loads(body)["route"] == "/pokemon/random"

    # A route the service does not have, or that is no API route, is refused
    # and changes nothing.
    for route in ("/nope", "/pokemon/25", "/healthz", "/admin/faults"):
        status, headers, body = admin(apimon, "PUT", {"error_share": 1.0, "route": route})
        problem = assert_problem(status, headers, body, 400)
        assert f"route '{route}' is not an API route of this service" in problem["detail"], problem
        assert TOKEN not in problem["detail"]
    status, headers, body = admin(apimon, "PUT", {"error_share": 1.0, "route": 5})
    assert "route" in assert_problem(status, headers, body, 400)["detail"]
    assert json.loads(admin(apimon, "GET")[2])["route"] == "/pokemon/random"

    # A PUT replaces every setting: without a route, every API route again.
    state = set_faults(apimon, error_share=1.0, error_status=503)
    assert state["route"] == ""
    assert_problem(*apimon.get("/pokemon/25", conn), 503)
    admin(apimon, "DELETE")
    assert json.loads(admin(apimon, "GET")[2])["route"] == ""


def test_a_fault_route_can_be_set_from_the_environment_at_start(start_apimon):
    service = start_apimon(env={"APIMON_FAULT_ERROR_SHARE": "1", "APIMON_FAULT_ROUTE": "/pokemon/random"})
    assert_problem(*service.get("/pokemon/random"), 500)
    assert service.get("/pokemon/25")[0] == 200


def test_an_unknown_fault_route_stops_api_prometheus_at_start():
    binary = os.environ.get("API_PROMETHEUS_BIN") or str(REPO / "build/ci/services/api-prometheus/api-prometheus")
    result = subprocess.run([binary, "--port", "0", "--fault-route", "/nope"], capture_output=True, text=True,
                            timeout=20, env={})
    assert result.returncode == 2, result
    assert "--fault-route" in result.stderr and "'/nope'" in result.stderr, result.stderr


def test_admin_token_is_read_from_a_file(start_apimon, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    service = start_apimon(env={"APIMON_ADMIN_TOKEN_FILE": str(token_file)})
    assert admin(service, "GET", headers={"Authorization": "Bearer from-a-file"})[0] == 200
    assert admin(service, "GET")[0] == 401


def test_an_empty_token_file_leaves_the_admin_api_off(start_apimon, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("\n")
    service = start_apimon(env={"APIMON_ADMIN_TOKEN_FILE": str(token_file)})
    assert admin(service, "GET")[0] == 404
    wait_for_output(service, "fault admin API off")


def test_api_prometheus_upstream_unreachable_and_back(start_apimon):
    backend = start_apimon()
    proxy = ApiPrometheus(backend.port, "--admin-token", TOKEN)
    try:
        assert proxy.get("/pokemon/25")[0] == 200
        assert fault_gauges(proxy) == {"latency": 0, "errors": 0, "upstream_unreachable": 0}
        state = set_faults(proxy, upstream_unreachable=True)
        assert state["active"] == ["upstream_unreachable"]
        problem = assert_problem(*proxy.get("/pokemon/25"), 502)
        assert "could not be reached" in problem["detail"]
        assert proxy.get("/readyz")[0] == 503
        samples = metrics(proxy)
        assert fault_gauges(proxy)["upstream_unreachable"] == 1
        assert exposition.total(samples, "fault_injection_injected_total", fault="upstream_unreachable") >= 2
        # The client saw real refused connections: its own metric counts them as errors.
        failed_calls = exposition.total(samples, "http_client_request_duration_seconds_count",
                                        http_response_status_code="none")
        assert failed_calls >= 2, [s for s in samples if s[0].startswith("http_client")]
        # apimon itself is fine throughout.
        assert backend.get("/pokemon/25")[0] == 200

        admin(proxy, "DELETE")
        assert proxy.get("/readyz")[0] == 200
        assert proxy.get("/pokemon/25")[0] == 200
    finally:
        assert proxy.stop() == 0, proxy.output()[-2000:]


def test_api_prometheus_injects_latency_and_errors_but_not_slow_queries(start_apimon):
    backend = start_apimon()
    proxy = ApiPrometheus(backend.port, env={"APIPROM_ADMIN_TOKEN": TOKEN})
    try:
        set_faults(proxy, error_share=1)
        assert_problem(*proxy.get("/battle/1/4"), 500)
        set_faults(proxy, latency_ms=150)
        status, took, _ = timed_get(proxy, "/team/2")
        assert status == 200 and took >= 0.15
        status, headers, body = admin(proxy, "PUT", {"slow_query_ms": 100})
        assert "slow_queries" in assert_problem(status, headers, body, 400)["detail"]
        set_faults(proxy, error_share=1, route="/battle/{first}/{second}")
        assert_problem(*proxy.get("/battle/1/4"), 500)
        assert proxy.get("/team/2")[0] == 200
        status, headers, body = admin(proxy, "PUT", {"error_share": 1, "route": "/pokemon/random"})  # apimon's
        assert "'/pokemon/random'" in assert_problem(status, headers, body, 400)["detail"]
    finally:
        assert proxy.stop() == 0, proxy.output()[-2000:]
