"""apimon's telemetry against the real backends: a Jaeger v2 receives its
traces over OTLP/HTTP and a Prometheus scrapes its metrics, exemplars
included. Both are started here, on free loopback ports."""
import concurrent.futures
import itertools
import json
import os
import pathlib
import statistics
import time

import integration_helpers
import pytest

from stackkit import exposition, jaeger, mariadb, processes, prometheus

STATE = pathlib.Path(os.environ.get("POKEDEX_STATE_DIR", "/tmp/pokedex-test-state"))
PARENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def collector():
    state = jaeger.start(str(STATE / "jaeger"))
    yield state
    jaeger.stop(str(STATE / "jaeger"), remove=True)


def tracing_env(collector, **extra):
    env = {"OTEL_TRACES_EXPORTER": "otlp",
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector['ports']['otlp_http']}",
           "OTEL_SERVICE_NAME": "apimon", "OTEL_TRACES_SAMPLER": "parentbased_always_on",
           "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test"}
    env.update(extra)
    return env


def traceparent(trace_id):
    return f"00-{trace_id}-{PARENT_SPAN}-01"


def tags(span):
    return {tag["key"]: tag["value"] for tag in span.get("tags", [])}


def parent_of(span):
    refs = [r for r in span.get("references", []) if r["refType"] == "CHILD_OF"]
    return refs[0]["spanID"] if refs else None


def test_a_request_becomes_a_trace_with_server_database_and_manual_spans(start_apimon, collector):
    state = mariadb.start(str(STATE / "mariadb"))
    apimon = start_apimon("--database-url", state["url"], "--database-password-file", state["app_password_file"],
                          env=tracing_env(collector))
    trace_id = os.urandom(16).hex()
    status, _, _ = apimon.get("/pokemon/25", headers={"traceparent": traceparent(trace_id),
                                                      "tracestate": "congo=t61rcWkgMzE"})
    assert status == 200

    trace = jaeger.wait_for_trace(collector, trace_id, timeout=30, operations=(
        "GET /pokemon/{id}", "SELECT pokedex_entries", "render pokemon"))
    spans = {span["operationName"]: span for span in trace["spans"]}
    process = trace["processes"][trace["spans"][0]["processID"]]
    assert process["serviceName"] == "apimon"
    process_tags = {tag["key"]: tag["value"] for tag in process["tags"]}
    assert process_tags["deployment.environment"] == "test"
    assert process_tags["telemetry.sdk.language"] == "cpp"
    # Checking the id is not a span of its own: it takes nanoseconds.
    assert sorted(span["operationName"] for span in trace["spans"]) == [
        "GET /pokemon/{id}", "SELECT pokedex_entries", "render pokemon"]

    server = spans["GET /pokemon/{id}"]
    assert parent_of(server) == PARENT_SPAN  # continues the caller's trace
    server_tags = tags(server)
    assert server_tags["span.kind"] == "server"
    assert server_tags["http.request.method"] == "GET"
    assert server_tags["http.route"] == "/pokemon/{id}"
    assert server_tags["url.path"] == "/pokemon/25"
    assert server_tags["url.scheme"] == "http" and server_tags["server.port"] == apimon.port
    assert server_tags["http.response.status_code"] == 200
    assert server_tags["pokemon.id"] == 25 and server_tags["pokemon.name"] == "Pikachu"

    database = spans["SELECT pokedex_entries"]
    assert parent_of(database) == server["spanID"]
    db_tags = tags(database)
    assert db_tags["span.kind"] == "client"
    assert db_tags["db.system.name"] == "mariadb"
    assert db_tags["db.operation.name"] == "SELECT"
    assert db_tags["db.collection.name"] == "pokedex_entries"
    assert "?" in db_tags["db.query.text"] and "25" not in db_tags["db.query.text"]
    assert db_tags["server.address"] == "127.0.0.1" and db_tags["server.port"] == state["port"]
    assert parent_of(spans["render pokemon"]) == server["spanID"]
    # Every child lies within the server span, in the order the handler runs
    # them (one clock anchor per trace: children nest exactly). Jaeger gives
    # start and duration in whole microseconds, each cut down on its own, so
    # an end read back may be up to 1 µs early.
    def start(span):
        return span["startTime"]

    def end(span):
        return span["startTime"] + span["duration"]

    def in_order(*times):
        return all(earlier <= later + 1 for earlier, later in itertools.pairwise(times))

    rendering = spans["render pokemon"]
    assert in_order(start(server), start(database), end(database), start(rendering), end(rendering), end(server))


def test_errors_and_unsampled_requests(start_apimon, collector):
    apimon = start_apimon(env=tracing_env(collector))
    failing = os.urandom(16).hex()
    assert apimon.get("/pokemon/abc", headers={"traceparent": traceparent(failing)})[0] == 400
    trace = jaeger.wait_for_trace(collector, failing, operations=("GET /pokemon/{id}",))
    [server] = trace["spans"]
    assert tags(server)["http.response.status_code"] == 400
    # The client's mistake: the server span's status stays unset (only a 5xx
    # is the server's error), and an event says what was rejected.
    assert "otel.status_code" not in tags(server)
    events = [{field["key"]: field["value"] for field in log["fields"]} for log in server["logs"]]
    assert {"event": "invalid id", "pokemon.id.raw": "abc"} in events

    unsampled = os.urandom(16).hex()
    assert apimon.get("/pokemon/1", headers={"traceparent": f"00-{unsampled}-{PARENT_SPAN}-00"})[0] == 200
    time.sleep(1.0)  # several export cycles
    assert jaeger.get_trace(collector, unsampled) is None


def test_prometheus_scrapes_metrics_and_exemplars_that_lead_to_traces(start_apimon, collector):
    apimon = start_apimon(env=tracing_env(collector))
    server = prometheus.start(str(STATE / "prometheus"), {"apimon": [f"127.0.0.1:{apimon.port}"]},
                              scrape_interval="1s")
    try:
        prometheus.wait_for(server, 'up{job="apimon"} == 1', timeout=30)
        conn = apimon.connection()
        sent = []
        for i in range(40):
            trace_id = os.urandom(16).hex()
            sent.append(trace_id)
            assert apimon.get(f"/pokemon/{i + 1}", conn, headers={"traceparent": traceparent(trace_id)})[0] == 200
        # A 404 series. It queries the database too, so it is one of the sent
        # traces: the query histogram keeps one exemplar per bucket, the latest.
        missing = os.urandom(16).hex()
        sent.append(missing)
        assert apimon.get("/pokemon/0", conn, headers={"traceparent": traceparent(missing)})[0] == 404
        result = prometheus.wait_for(
            server, 'sum(http_server_request_duration_seconds_count{http_route="/pokemon/{id}",'
                    'http_response_status_code="200"})',
            lambda r: r and float(r[0]["value"][1]) >= 40, timeout=30)
        assert float(result[0]["value"][1]) >= 40
        prometheus.wait_for(server, 'http_server_request_duration_seconds_count{http_response_status_code="404"}',
                            timeout=30)
        for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
                     "db_client_operation_duration_seconds_count", "apimon_build_info",
                     "pokedex_lookups_total", "otel_sdk_spans_started_total", "db_client_connections"):
            assert prometheus.query(server, name + '{job="apimon"}'), name
        # No raw path or id in any label: every route label is a template.
        counts = prometheus.query(server, "http_server_request_duration_seconds_count")
        routes = {r["metric"]["http_route"] for r in counts}
        assert routes <= {"/pokemon/{id}", "unmatched", "/metrics", "/healthz"}, routes

        now = time.time()
        exemplars = prometheus.wait_for(
            server, "http_server_request_duration_seconds_count", timeout=5) and prometheus.query_exemplars(
            server, 'http_server_request_duration_seconds_bucket{http_route="/pokemon/{id}"}', now - 300, now + 60)
        found = [e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]]
        assert found, "Prometheus stored no exemplar"
        assert set(found) & set(sent), "exemplars should name the traces of these requests"
        # An exemplar leads to a trace Jaeger has.
        assert jaeger.wait_for_trace(collector, next(t for t in found if t in sent))
        # So do the database histogram's: from a slow query to its request's trace.
        query_exemplars = prometheus.query_exemplars(
            server, 'db_client_operation_duration_seconds_bucket{db_operation_name="SELECT"}', now - 300, now + 60)
        assert set(e["labels"]["trace_id"] for series in query_exemplars for e in series["exemplars"]) & set(sent)
    finally:
        prometheus.stop(str(STATE / "prometheus"), remove=True)


def test_losing_the_collector_costs_spans_not_requests(start_apimon, collector):
    # One span per export, and an export timeout with room for retries: with
    # the collector gone, every export waits at least 0.5 s (half the first
    # backoff) before it gives up. An export on the request path would make
    # nearly every request wait that long.
    apimon = start_apimon(env=tracing_env(collector, OTEL_BSP_MAX_QUEUE_SIZE="32", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="1",
                                          OTEL_EXPORTER_OTLP_TIMEOUT="3000"))
    conn = apimon.connection()

    def timed_requests(count):
        durations = []
        for i in range(count):
            started = time.perf_counter()
            assert apimon.get(f"/pokemon/{i % 1025 + 1}", conn)[0] == 200
            durations.append(time.perf_counter() - started)
        return durations

    def dropped_spans(metrics):
        return {line.split('"')[1]: float(line.split()[-1]) for line in metrics.splitlines()
                if line.startswith("otel_sdk_spans_dropped_total{")}

    before = statistics.median(timed_requests(200))
    jaeger.stop(str(STATE / "jaeger"))
    try:
        after = statistics.median(timed_requests(600))
        # The first export to fail gives up within its 3 s timeout.
        deadline = time.monotonic() + 30
        while True:
            metrics = apimon.get("/metrics", conn)[2].decode()
            if dropped_spans(metrics).get("export_failed", 0) > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        jaeger.start(str(STATE / "jaeger"))
    dropped = dropped_spans(metrics)
    assert dropped["export_failed"] > 0, f"spans lost with the collector must be counted: {dropped}"
    failures = next(float(line.split()[-1]) for line in metrics.splitlines()
                    if line.startswith("otel_sdk_span_export_failures_total"))
    assert failures > 0
    # Export happens off the request path: the median request stays far
    # below the half second each export now waits (no busy machine makes a
    # median loopback request take that long).
    print(f"median request: {before * 1000:.2f} ms with the collector, {after * 1000:.2f} ms without")
    assert after < 0.5, (before, after)


def test_shutdown_flushes_the_spans_still_queued(start_apimon, collector):
    # A schedule delay of a minute: only the shutdown flush can deliver this span in time.
    apimon = start_apimon(env=tracing_env(collector, OTEL_BSP_SCHEDULE_DELAY="60000"))
    trace_id = os.urandom(16).hex()
    assert apimon.get("/pokemon/150", headers={"traceparent": traceparent(trace_id)})[0] == 200
    started = time.monotonic()
    assert apimon.stop() == 0
    assert time.monotonic() - started < 10
    assert jaeger.wait_for_trace(collector, trace_id, timeout=10, operations=("GET /pokemon/{id}",))


def test_one_trace_runs_from_api_prometheus_through_apimon_to_the_database(start_apimon, collector):
    state = mariadb.start(str(STATE / "mariadb"))
    apimon = start_apimon("--database-url", state["url"], "--database-password-file", state["app_password_file"],
                          env=tracing_env(collector))
    proxy = integration_helpers.ApiPrometheus(apimon.port,
                                              env=tracing_env(collector, OTEL_SERVICE_NAME="api-prometheus"))
    try:
        trace_id = os.urandom(16).hex()
        status, _, _ = proxy.get("/battle/150/129", headers={"traceparent": traceparent(trace_id)})
        assert status == 200
        trace = jaeger.wait_for_trace(collector, trace_id, operations=(
            "GET /battle/{first}/{second}", "GET /pokemon/{id}", "SELECT pokedex_entries"))
        deadline = time.monotonic() + 30
        while len(trace["spans"]) < 9 and time.monotonic() < deadline:  # both lookups' spans
            time.sleep(0.3)
            trace = jaeger.get_trace(collector, trace_id)
        services = {pid: p["serviceName"] for pid, p in trace["processes"].items()}
        by_id = {span["spanID"]: span for span in trace["spans"]}

        def service(span):
            return services[span["processID"]]

        gateway = [s for s in trace["spans"] if s["operationName"] == "GET /battle/{first}/{second}"]
        assert len(gateway) == 1 and service(gateway[0]) == "api-prometheus"
        assert parent_of(gateway[0]) == PARENT_SPAN
        calls = [s for s in trace["spans"] if tags(s).get("span.kind") == "client" and service(s) == "api-prometheus"]
        assert len(calls) == 2 and all(parent_of(c) == gateway[0]["spanID"] for c in calls)
        lookups = [s for s in trace["spans"] if s["operationName"] == "GET /pokemon/{id}"]
        assert len(lookups) == 2 and all(service(s) == "apimon" for s in lookups)
        assert {parent_of(s) for s in lookups} == {c["spanID"] for c in calls}
        queries = [s for s in trace["spans"] if s["operationName"] == "SELECT pokedex_entries"]
        assert len(queries) == 2 and {parent_of(q) for q in queries} == {s["spanID"] for s in lookups}
        assert all(tags(q)["db.system.name"] == "mariadb" for q in queries)
        assert all(by_id.get(parent_of(s)) or parent_of(s) == PARENT_SPAN for s in trace["spans"])
    finally:
        assert proxy.stop() == 0


def test_injected_faults_are_marked_on_the_spans(start_apimon, collector):
    apimon = start_apimon("--admin-token", "t", env=tracing_env(collector))
    proxy = integration_helpers.ApiPrometheus(apimon.port, "--admin-token", "t",
                                              env=tracing_env(collector, OTEL_SERVICE_NAME="api-prometheus"))
    try:
        for service, settings in ((apimon, {"slow_query_ms": 20, "latency_ms": 10}),
                                  (proxy, {"upstream_unreachable": True})):
            conn = service.connection()
            conn.request("PUT", "/admin/faults", body=json.dumps(settings), headers={"Authorization": "Bearer t"})
            assert conn.getresponse().status == 200
        slowed, refused = os.urandom(16).hex(), os.urandom(16).hex()
        assert apimon.get("/pokemon/25", headers={"traceparent": traceparent(slowed)})[0] == 200
        assert proxy.get("/pokemon/25", headers={"traceparent": traceparent(refused)})[0] == 502

        slowed_trace = jaeger.wait_for_trace(collector, slowed, operations=(
            "GET /pokemon/{id}", "injected latency", "SELECT pokedex_entries"))
        spans = {span["operationName"]: tags(span) for span in slowed_trace["spans"]}
        assert spans["GET /pokemon/{id}"]["fault_injection.active"] == "latency,slow_queries"
        assert spans["GET /pokemon/{id}"]["fault_injection.injected"] == "latency"
        assert spans["injected latency"]["fault_injection.delay_ms"] == 10
        assert spans["SELECT pokedex_entries"]["fault_injection.injected"] == "slow_queries"
        assert spans["SELECT pokedex_entries"]["fault_injection.delay_ms"] == 20

        trace = jaeger.wait_for_trace(collector, refused, operations=("GET /pokemon/{id}", "GET"))
        server = [tags(s) for s in trace["spans"] if s["operationName"] == "GET /pokemon/{id}"]
        assert server and server[0]["fault_injection.active"] == "upstream_unreachable"
        assert server[0]["fault_injection.injected"] == "upstream_unreachable"
        assert any(tags(s).get("span.kind") == "client" and tags(s).get("otel.status_code") == "ERROR"
                   for s in trace["spans"])
    finally:
        assert proxy.stop() == 0


def test_lookups_that_share_a_query_link_to_its_span(start_apimon, collector):
    state = mariadb.start(str(STATE / "mariadb"))
    apimon = start_apimon("--database-url", state["url"], "--database-password-file", state["app_password_file"],
                          "--db-pool-size", "1", "--db-query-timeout-ms", "60000", "--db-max-wait-ms", "60000",
                          env=tracing_env(collector))
    assert apimon.get("/pokemon/25")[0] == 200  # connected

    def pool_state():
        samples = exposition.parse(apimon.get("/metrics")[2].decode())
        return (exposition.total(samples, "db_client_connections", state="used"),
                exposition.total(samples, "db_client_connection_pending_requests"))

    def wait_for_pool(expected):
        deadline = time.monotonic() + 30
        while pool_state() != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool_state() == expected

    # The server frozen (SIGSTOP): the first request holds the one connection,
    # the two sent meanwhile wait in one batch and then share a query.
    traces = {path: os.urandom(16).hex() for path in ("/pokemon/4", "/pokemon/7")}
    pid = int(mariadb.load_state(str(STATE / "mariadb"))["pid"])
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        with processes.frozen(pid):
            first = pool.submit(apimon.get, "/pokemon/1")
            wait_for_pool((1, 0))
            waiting = [pool.submit(apimon.get, path, None, {"traceparent": traceparent(trace_id)})
                       for path, trace_id in traces.items()]
            wait_for_pool((1, 2))
        assert [f.result()[0] for f in [first, *waiting]] == [200, 200, 200]

    lookup_spans = ("GET /pokemon/{id}", "SELECT pokedex_entries")
    stored = [jaeger.wait_for_trace(collector, trace_id, operations=lookup_spans) for trace_id in traces.values()]

    def has_batch(trace):
        return any(s["operationName"] == "BATCH SELECT pokedex_entries" for s in trace["spans"])

    deadline = time.monotonic() + 30
    while not any(map(has_batch, stored)) and time.monotonic() < deadline:  # maybe in a later export
        time.sleep(0.2)
        stored = [jaeger.get_trace(collector, trace_id) for trace_id in traces.values()]
    owner = next(t for t in stored if has_batch(t))
    other = next(t for t in stored if t is not owner)
    batch = next(s for s in owner["spans"] if s["operationName"] == "BATCH SELECT pokedex_entries")
    owner_lookup = next(s for s in owner["spans"] if s["operationName"] == "SELECT pokedex_entries")
    other_lookup = next(s for s in other["spans"] if s["operationName"] == "SELECT pokedex_entries")
    assert not any(s["operationName"] == "BATCH SELECT pokedex_entries" for s in other["spans"])

    batch_tags = tags(batch)
    assert batch_tags["db.operation.batch.size"] == 2
    assert batch_tags["db.operation.name"] == "BATCH SELECT"
    assert batch_tags["span.kind"] == "client" and batch_tags["db.system.name"] == "mariadb"
    assert "IN (?,?)" in batch_tags["db.query.text"]
    assert batch_tags["db.collection.name"] == "pokedex_entries" and batch_tags["server.address"] == "127.0.0.1"
    # A child of the first lookup's span, in its trace...
    assert parent_of(batch) == owner_lookup["spanID"]
    # ...linked to the other lookup, in another trace, which links back.
    # Jaeger shows a link as a FOLLOWS_FROM reference.
    links = [(r["refType"], r["traceID"], r["spanID"]) for r in batch["references"]]
    assert ("FOLLOWS_FROM", other["traceID"], other_lookup["spanID"]) in links
    back = [(r["refType"], r["traceID"], r["spanID"]) for r in other_lookup["references"]]
    assert ("FOLLOWS_FROM", owner["traceID"], batch["spanID"]) in back
