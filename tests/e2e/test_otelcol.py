"""apimon's traces through an OpenTelemetry Collector (the distribution
deploy/otelcol/builder.yaml describes) to a real Jaeger, a vendor's OTLP/HTTP
endpoint (a capture server) and a real Prometheus: tail sampling keeps errors
and slow requests, span metrics count every request, the collector's own
metrics are scraped, and apimon serves on when the collector is gone. Every
server is started here, on free loopback ports."""

import json
import os
import pathlib
import socket
import time

import pytest

from stackkit import exposition, jaeger, otelcol, prometheus
from stackkit.otlp_capture import OtlpCapture
from stackkit.processes import FixtureError
from stackkit.server import wait_for_value

STATE = pathlib.Path(os.environ.get("POKEDEX_STATE_DIR", "/tmp/pokedex-test-state"))
ADMIN_TOKEN = "otelcol-admin-token"
SERVER_SPAN = "GET /pokemon/{id}"
# Every span of a /pokemon/{id} request that finds its Pokémon (SQLite backend).
POKEMON_SPANS = (SERVER_SPAN, "SELECT pokedex_entries", "render pokemon")
PARENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def backend():
    state = jaeger.start(str(STATE / "otelcol-jaeger"))
    yield state
    jaeger.stop(str(STATE / "otelcol-jaeger"), remove=True)


@pytest.fixture
def start_collector(backend):
    """start(**settings): a collector sending to `backend`, restarted with
    these settings (fresh counters, same ports); stopped after the test."""
    directory = str(STATE / "otelcol")

    def start(**settings):
        return otelcol.start(directory, backend["otlp_grpc_endpoint"], **settings)

    yield start
    otelcol.stop(directory, remove=True)


def tracing_env(collector, **extra):
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector["otlp_http_endpoint"],
        "OTEL_SERVICE_NAME": "apimon",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    env.update(extra)
    return env


def tags(span):
    return {tag["key"]: tag["value"] for tag in span.get("tags", [])}


def request_traced(apimon, path, connection=None):
    """GET path as part of a new sampled trace (a caller's span as parent);
    (status, trace id)."""
    trace_id = os.urandom(16).hex()
    status, _, _ = apimon.get(path, connection, headers={"traceparent": f"00-{trace_id}-{PARENT_SPAN}-01"})
    return status, trace_id


def admin(apimon, method, body=None):
    conn = apimon.connection()
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    if payload:
        headers["Content-Type"] = "application/json"
    conn.request(method, "/admin/faults", body=payload, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 200, f"{method} /admin/faults answered {response.status}"


def collector_metric(collector, name, **labels):
    return exposition.total(exposition.parse(otelcol.metrics_text(collector)), name, **labels)


def test_apimon_traces_reach_jaeger_through_the_collector(start_apimon, start_collector, backend):
    collector = start_collector(base_percentage=100)
    apimon = start_apimon(env=tracing_env(collector))
    status, trace_id = request_traced(apimon, "/pokemon/25")
    assert status == 200

    trace = jaeger.wait_for_trace(backend, trace_id, timeout=30, operations=POKEMON_SPANS)
    spans = {span["operationName"]: span for span in trace["spans"]}
    server = spans[SERVER_SPAN]
    assert [r["spanID"] for r in server["references"] if r["refType"] == "CHILD_OF"] == [PARENT_SPAN]
    assert tags(server)["http.route"] == "/pokemon/{id}"
    process = trace["processes"][server["processID"]]
    assert process["serviceName"] == "apimon"
    # The collector's resource processor filled in what the service left out.
    process_tags = {tag["key"]: tag["value"] for tag in process["tags"]}
    assert process_tags["deployment.environment.name"] == "test"
    assert process_tags["telemetry.sdk.language"] == "cpp"


def test_tail_sampling_keeps_errors_and_slow_traces_and_a_share_of_the_rest(start_apimon, start_collector, backend):
    threshold_ms = 500
    collector = start_collector(base_percentage=1, latency_threshold_ms=threshold_ms, decision_wait_ms=2000)
    apimon = start_apimon("--admin-token", ADMIN_TOKEN, env=tracing_env(collector))
    conn = apimon.connection()

    plain = []
    for i in range(40):
        status, trace_id = request_traced(apimon, f"/pokemon/{i + 1}", conn)
        assert status == 200
        plain.append(trace_id)

    admin(apimon, "PUT", {"error_share": 1.0, "error_status": 503})
    failed = []
    for i in range(5):
        status, trace_id = request_traced(apimon, f"/pokemon/{i + 1}", conn)
        assert status == 503  # the server span's status is ERROR
        failed.append(trace_id)
    admin(apimon, "DELETE")

    # Longer than the threshold: the injected delay alone is above it.
    admin(apimon, "PUT", {"latency_ms": threshold_ms + 300})
    slow = []
    for i in range(3):
        status, trace_id = request_traced(apimon, f"/pokemon/{i + 1}", conn)
        assert status == 200
        slow.append(trace_id)
    admin(apimon, "DELETE")

    for trace_id in failed + slow:
        jaeger.wait_for_trace(backend, trace_id, timeout=60, operations=(SERVER_SPAN,))
    failed_server = next(s for s in jaeger.get_trace(backend, failed[0])["spans"] if s["operationName"] == SERVER_SPAN)
    assert tags(failed_server)["otel.status_code"] == "ERROR"

    # Every trace sent has been decided (the admin calls are traces too).
    sent = len(plain) + len(failed) + len(slow)
    wait_for_value(
        lambda: collector_metric(
            collector, "otelcol_processor_tail_sampling_count_traces_sampled", policy="base-share"
        ),
        lambda decided: decided >= sent,
        60,
        0.2,
        lambda decided: f"tail sampling decided {decided} of {sent} traces",
    )
    not_kept = collector_metric(
        collector, "otelcol_processor_tail_sampling_global_count_traces_sampled", sampled="false"
    )
    kept_plain = [t for t in plain if jaeger.get_trace(backend, t) is not None]
    # 1 % of 40: none expected; more than half would take a broken policy.
    assert len(kept_plain) <= len(plain) // 2, f"{len(kept_plain)} of {len(plain)} fast, fine traces kept"
    assert not_kept >= len(plain) - len(kept_plain)


def test_span_metrics_count_every_request_like_apimon_does(start_apimon, start_collector):
    # A base share of 0: span metrics are made before tail sampling drops anything.
    collector = start_collector(base_percentage=0)
    apimon = start_apimon(env=tracing_env(collector))
    server = prometheus.start(
        str(STATE / "otelcol-prometheus"),
        {
            "apimon": [f"127.0.0.1:{apimon.port}"],
            "otelcol-spanmetrics": [collector["spanmetrics_target"]],
        },
        scrape_interval="1s",
    )
    try:
        conn = apimon.connection()
        sent = {"200": 0, "404": 0, "400": 0}
        for path, expected in (
            [(f"/pokemon/{i + 1}", "200") for i in range(30)]
            + [("/pokemon/0", "404")] * 4
            + [("/pokemon/abc", "400")] * 3
        ):
            status, _, _ = apimon.get(path, conn)
            assert str(status) == expected
            sent[expected] += 1

        def by_status(promql):
            return {
                r["metric"]["http_response_status_code"]: round(float(r["value"][1]))
                for r in prometheus.query(server, promql)
            }

        route = 'http_route="/pokemon/{id}"'
        apimon_counts = wait_for_value(
            lambda: by_status(
                f"sum by (http_response_status_code) "
                f'(http_server_request_duration_seconds_count{{job="apimon",{route}}})'
            ),
            lambda counts: counts == sent,
            60,
            0.5,
            lambda counts: f"apimon's own counts {counts}, sent {sent}",
        )
        span_counts = wait_for_value(
            lambda: by_status(
                f"sum by (http_response_status_code) (traces_span_metrics_calls_total"
                f'{{service_name="apimon",span_kind="SPAN_KIND_SERVER",{route}}})'
            ),
            lambda counts: counts == apimon_counts,
            60,
            0.5,
            lambda counts: f"span metrics {counts}, apimon's own counts {apimon_counts}",
        )
        assert span_counts == apimon_counts == sent
        # Errors by span status: apimon marks 5xx server spans as errors, not 4xx.
        assert not prometheus.query(
            server,
            'traces_span_metrics_calls_total{service_name="apimon",'
            'span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_ERROR"}',
        )
        durations = prometheus.query(
            server,
            f"sum(traces_span_metrics_duration_seconds_count"
            f'{{service_name="apimon",span_kind="SPAN_KIND_SERVER",{route}}})',
        )
        assert round(float(durations[0]["value"][1])) == sum(sent.values())
    finally:
        prometheus.stop(str(STATE / "otelcol-prometheus"), remove=True)


def test_a_vendor_endpoint_gets_the_kept_traces_with_its_api_key(start_apimon, start_collector, backend, tmp_path):
    key_file = tmp_path / "vendor-api-key"
    # The collector would send a newline as part of the header: refused up front.
    key_file.write_text("vendor-s3cret\n")
    with pytest.raises(FixtureError, match="no newline"):
        start_collector(vendor_endpoint="http://127.0.0.1:9", vendor_header_files={"api-key": str(key_file)})
    key_file.write_text("vendor-s3cret")
    with OtlpCapture(headers={"api-key": "vendor-s3cret"}) as vendor:
        collector = start_collector(
            base_percentage=100, vendor_endpoint=vendor.url, vendor_header_files={"api-key": str(key_file)}
        )
        assert "vendor-s3cret" not in pathlib.Path(collector["config"]).read_text()
        apimon = start_apimon(env=tracing_env(collector))
        status, trace_id = request_traced(apimon, "/pokemon/133")
        assert status == 200

        spans = vendor.wait_for_spans(lambda s: s["trace_id"] == trace_id, count=len(POKEMON_SPANS), timeout=60)
        assert {s["name"] for s in spans} == set(POKEMON_SPANS)
        server = next(s for s in spans if s["name"] == SERVER_SPAN)
        assert server["kind"] == "SPAN_KIND_SERVER" and server["parent_span_id"] == PARENT_SPAN
        assert server["attributes"]["http.route"] == {"stringValue": "/pokemon/{id}"}
        assert server["resource"]["service.name"] == {"stringValue": "apimon"}
        assert vendor.rejected() == []
        accepted = vendor.accepted()
        assert all(r["headers"]["api-key"] == "vendor-s3cret" for r in accepted)
        assert {r["content_type"] for r in accepted} == {"application/x-protobuf"}
        # Jaeger gets the same trace.
        jaeger.wait_for_trace(backend, trace_id, timeout=30, operations=POKEMON_SPANS)


def test_prometheus_scrapes_the_collectors_own_metrics(start_apimon, start_collector, backend):
    collector = start_collector(base_percentage=100)
    apimon = start_apimon(env=tracing_env(collector))
    server = prometheus.start(
        str(STATE / "otelcol-prometheus"), {"otelcol": [collector["metrics_target"]]}, scrape_interval="1s"
    )
    try:
        conn = apimon.connection()
        sent = []
        for i in range(10):
            status, trace_id = request_traced(apimon, f"/pokemon/{i + 1}", conn)
            assert status == 200
            sent.append(trace_id)
        # No other traced request reaches apimon here: Jaeger holds every span
        # the collector accepted.
        stored = sum(
            len(jaeger.wait_for_trace(backend, t, timeout=60, operations=POKEMON_SPANS)["spans"]) for t in sent
        )

        def one(promql):
            result = prometheus.query(server, promql)
            return round(float(result[0]["value"][1])) if result else None

        accepted = wait_for_value(
            lambda: one('sum(otelcol_receiver_accepted_spans{job="otelcol",receiver="otlp"})'),
            lambda value: value == stored,
            60,
            0.5,
            lambda value: f"collector accepted {value} spans, Jaeger stored {stored}",
        )
        wait_for_value(
            lambda: one('sum(otelcol_exporter_sent_spans{job="otelcol",exporter="otlp_grpc/jaeger"})'),
            lambda value: value == accepted,
            60,
            0.5,
            lambda value: f"collector sent {value} spans to Jaeger, accepted {accepted}",
        )
        assert one('sum(otelcol_receiver_refused_spans{job="otelcol"})') in (None, 0)
        assert one(
            'sum(otelcol_processor_tail_sampling_global_count_traces_sampled{job="otelcol",sampled="true"})'
        ) == len(sent)
        assert one('up{job="otelcol"}') == 1
    finally:
        prometheus.stop(str(STATE / "otelcol-prometheus"), remove=True)


def test_losing_the_collector_costs_spans_not_requests(start_apimon, start_collector, backend):
    collector = start_collector(base_percentage=100)
    # One span per export, and a timeout long enough to tell waiting for an export from serving.
    apimon = start_apimon(
        env=tracing_env(
            collector,
            OTEL_BSP_MAX_QUEUE_SIZE="32",
            OTEL_BSP_MAX_EXPORT_BATCH_SIZE="1",
            OTEL_EXPORTER_OTLP_TIMEOUT="10000",
        )
    )
    conn = apimon.connection()
    otelcol.stop(str(STATE / "otelcol"))
    # First a collector that takes connections and never answers: every
    # export waits its whole timeout (10 s). A request that waited for an
    # export even once would take that long; none may take half of it.
    port = int(collector["otlp_http_endpoint"].rsplit(":", 1)[1])
    with socket.create_server(("127.0.0.1", port), backlog=64):
        for i in range(50):
            started = time.monotonic()
            status, _, _ = apimon.get(f"/pokemon/{i + 1}", conn)
            assert status == 200
            assert time.monotonic() - started < 5, "a request waited for the span export"
        wait_for_value(
            lambda: exposition.total(
                exposition.parse(apimon.get("/metrics", conn)[2].decode()), "otel_sdk_span_export_failures_total"
            ),
            lambda failures: failures > 0,
            60,
            0.2,
            lambda _: "no export timed out against the silent collector",
        )
    # Then nothing listening at all: exports fail at once.
    for i in range(50, 100):
        status, _, _ = apimon.get(f"/pokemon/{i + 1}", conn)
        assert status == 200

    def sdk_metrics():
        return exposition.parse(apimon.get("/metrics", conn)[2].decode())

    samples = wait_for_value(
        sdk_metrics,
        lambda s: exposition.total(s, "otel_sdk_spans_dropped_total", reason="export_failed") > 0,
        60,
        0.2,
        lambda s: (
            "no span counted as lost: %s" % [line for line in exposition.series(s, "otel_sdk_spans_dropped_total")]
        ),
    )
    assert exposition.total(samples, "otel_sdk_span_export_failures_total") > 0
    assert exposition.total(samples, "otel_sdk_span_queue_length") <= 32  # the queue stays bounded

    # The collector back on its ports: new traces flow again.
    start_collector(base_percentage=100)
    deadline = time.monotonic() + 60
    while True:
        status, trace_id = request_traced(apimon, "/pokemon/7", conn)
        assert status == 200
        try:
            jaeger.wait_for_trace(backend, trace_id, timeout=5, operations=(SERVER_SPAN,))
            break
        except FixtureError:
            if time.monotonic() > deadline:
                raise
