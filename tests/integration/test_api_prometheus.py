"""api-prometheus in front of a real apimon: its routes, its gateway answers
when apimon is down or slow, and its showcase of every metric type."""
import os
import subprocess
import time

from conftest import REPO, assert_problem

from stackkit import processes, prometheus


def test_lookup_is_proxied_and_enriched(stack):
    _, proxy = stack()
    status, headers, document = proxy.get_json("/pokemon/25")
    assert status == 200
    assert document["name"] == "Pikachu" and document["total_base_stats"] == 320
    assert document["upstream"]["service"] == "apimon" and document["upstream"]["duration_ms"] >= 0
    assert proxy.get_json("/pokemon/25?lang=ja")[2]["name"] == "Pikachu"  # its own query is not forwarded


def test_bad_input_and_missing_pokemon(stack):
    _, proxy = stack()
    assert_problem(*proxy.get("/pokemon/abc"), 400)
    assert_problem(*proxy.get("/pokemon/0"), 404)
    assert_problem(*proxy.get("/nope"), 404)
    assert_problem(*proxy.get("/team/0"), 400)
    assert_problem(*proxy.get("/team/7"), 400)
    assert_problem(*proxy.get("/battle/1/x"), 400)
    conn = proxy.connection()
    conn.request("POST", "/pokemon/1", body=b"")
    response = conn.getresponse()
    assert response.status == 405 and response.getheader("Allow") == "GET"
    response.read()


def test_battle_is_decided_by_base_stats(stack):
    _, proxy = stack()
    status, _, battle = proxy.get_json("/battle/150/129")  # Mewtwo against Magikarp
    assert status == 200
    assert battle["first"]["name"] == "Mewtwo" and battle["first"]["total_base_stats"] == 680
    assert battle["second"]["total_base_stats"] == 200
    assert battle["outcome"] == "first"
    assert proxy.get_json("/battle/129/150")[2]["outcome"] == "second"
    assert proxy.get_json("/battle/25/25")[2]["outcome"] == "draw"
    assert_problem(*proxy.get("/battle/25/0"), 404)


def test_a_team_is_built_by_concurrent_calls(stack):
    _, proxy = stack()
    status, _, team = proxy.get_json("/team/6")
    assert status == 200 and team["size"] == 6 and len(team["members"]) == 6
    assert team["total_base_stats"] == sum(m["total_base_stats"] for m in team["members"])


def test_apimon_down_means_502_and_not_ready(stack):
    apimon, proxy = stack()
    assert proxy.get("/readyz")[0] == 200
    apimon.stop()
    assert_problem(*proxy.get("/pokemon/1"), 502)
    assert_problem(*proxy.get("/readyz"), 503)
    assert proxy.get("/healthz")[0] == 200


def test_a_slow_apimon_means_504_at_the_deadline(stack):
    # 2 s, twice the default: the wait below shows the flag took effect.
    apimon, proxy = stack("--upstream-timeout-ms", "2000")
    assert proxy.get("/pokemon/1")[0] == 200
    with processes.frozen(apimon.process.pid):
        started = time.monotonic()
        assert_problem(*proxy.get("/pokemon/2"), 504)  # only the deadline makes a 504
        elapsed = time.monotonic() - started
    # It waited out the whole deadline (a lower bound: true under any load);
    # a proxy without one would have kept the client waiting for its own
    # 10 s timeout.
    assert 2.0 <= elapsed < 9, elapsed


def test_every_metric_type_is_shown_and_promtool_accepts_them(stack):
    _, proxy = stack()
    proxy.get("/battle/150/129")
    proxy.get("/team/3")
    proxy.get("/pokemon/7")
    text = proxy.get("/metrics")[2].decode()
    for line in ("# TYPE apiprom_battles_total counter", "# TYPE apiprom_team_builds_in_progress gauge",
                 "# TYPE apiprom_team_base_stats histogram", "# TYPE apiprom_upstream_response_body_bytes summary",
                 "# TYPE apiprom_upstream_info gauge", "# TYPE http_client_request_duration_seconds histogram"):
        assert line in text, line
    assert 'apiprom_battles_total{outcome="first"} 1' in text
    assert 'apiprom_upstream_response_body_bytes{quantile="0.99"}' in text
    assert 'apiprom_upstream_info{url="http://127.0.0.1:' in text
    promtool = prometheus.cached_binary("promtool")
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_invalid_settings_exit_2_naming_them():
    binary = os.environ.get("API_PROMETHEUS_BIN") or str(REPO / "build/ci/services/api-prometheus/api-prometheus")
    for args, named in ((["--apimon-url", "ftp://x"], "--apimon-url"), (["--apimon-url", "http://h:0"], "--apimon-url"),
                        (["--retry-budget", "2"], "--retry-budget"), (["--port", "x"], "--port"),
                        (["--threads", "2"], "--threads")):
        result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=10, env={})
        assert result.returncode == 2 and named in result.stderr, (args, result.stderr)
