"""The hand-written OTLP encoding against the official protobuf bindings
(opentelemetry-proto), and OtlpHttpExporter against a capturing HTTP server.

Both go through tools/otlp_sample: `encode FILE` writes the request for its
fixed sample, `export URL [--gzip]` sends it with options read from the
OTEL_EXPORTER_OTLP_* environment, the URL replacing the endpoint. The expected
values below repeat the sample in tools/otlp_sample/main.cpp."""
import gzip
import http.server
import os
import pathlib
import socket
import subprocess
import threading
import time

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, SpanFlags, Status

REPO = pathlib.Path(__file__).resolve().parents[2]

TRACE_ID = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
ROOT_ID = bytes.fromhex("00f067aa0ba902b7")
CHILD_ID = bytes.fromhex("b7ad6b7169203331")
INT64_MAX = 2**63 - 1


def otlp_sample_binary() -> str:
    binary = os.environ.get("OTLP_SAMPLE_BIN") or str(REPO / "build/ci/tools/otlp_sample/otlp_sample")
    assert os.access(binary, os.X_OK), f"otlp_sample not found at {binary}; build it or set OTLP_SAMPLE_BIN"
    return binary


def run_sample(*args, env=None, timeout=30):
    """Runs otlp_sample with the caller's OTEL_* variables only."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    full_env.update(env or {})
    return subprocess.run([otlp_sample_binary(), *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("otlp") / "request.bin"
    result = run_sample("encode", str(path))
    assert result.returncode == 0, result.stderr
    return path.read_bytes()


def decode(data: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.ParseFromString(data)
    return request


def attributes(key_values):
    """[(key, (type, value))] in order, so duplicates and the order show too."""
    result = []
    for kv in key_values:
        kind = kv.value.WhichOneof("value")
        result.append((kv.key, (kind, getattr(kv.value, kind) if kind else None)))
    return result


# ---- encoding ------------------------------------------------------------------

def test_the_request_holds_one_resource_and_one_scope(encoded):
    request = decode(encoded)
    assert len(request.resource_spans) == 1
    resource_spans = request.resource_spans[0]
    assert attributes(resource_spans.resource.attributes) == [
        ("service.name", ("string_value", "otlp-sample")),
        ("process.pid", ("int_value", 4242)),
        ("sample.ratio", ("double_value", 0.25)),
        ("sample.enabled", ("bool_value", True)),
    ]
    assert resource_spans.resource.dropped_attributes_count == 0
    assert resource_spans.schema_url == ""
    assert len(resource_spans.scope_spans) == 1
    scope_spans = resource_spans.scope_spans[0]
    assert scope_spans.scope.name == "otlp_sample"
    assert scope_spans.scope.version == "1.0.0"
    assert [span.name for span in scope_spans.spans] == ["GET /pokemon/{id}", "SELECT pokedex_entries"]


def test_the_encoding_is_canonical(encoded):
    # Re-serialising gives the same bytes: field order, no unknown fields,
    # defaults left out and the oneof members kept even at their default.
    assert decode(encoded).SerializeToString(deterministic=True) == encoded


def test_the_server_root_span(encoded):
    root = decode(encoded).resource_spans[0].scope_spans[0].spans[0]
    assert root.trace_id == TRACE_ID
    assert root.span_id == ROOT_ID
    assert root.parent_span_id == b""
    assert root.trace_state == ""
    assert root.flags == 0x01  # sampled; no SPAN_FLAGS_CONTEXT_* bits
    assert root.kind == Span.SPAN_KIND_SERVER
    assert root.start_time_unix_nano == 1_700_000_000_000_000_000
    assert root.end_time_unix_nano == 1_700_000_000_250_000_000
    assert attributes(root.attributes) == [
        ("http.request.method", ("string_value", "GET")),
        ("url.path", ("string_value", "/pokemon/25")),
        ("sample.unicode", ("string_value", "Pokémon")),
        ("sample.empty", ("string_value", "")),
        ("http.response.status_code", ("int_value", 200)),
        ("sample.zero", ("int_value", 0)),
        ("sample.negative", ("int_value", -42)),
        ("sample.max", ("int_value", INT64_MAX)),
        ("sample.min", ("int_value", -INT64_MAX - 1)),
        ("sample.double", ("double_value", 0.125)),
        ("sample.negative_double", ("double_value", -1.5e300)),
        ("sample.true", ("bool_value", True)),
        ("sample.false", ("bool_value", False)),
    ]
    assert root.dropped_attributes_count == 0
    assert len(root.events) == 1
    event = root.events[0]
    assert event.name == "cache.miss"
    assert event.time_unix_nano == 1_700_000_000_010_000_000
    assert attributes(event.attributes) == [
        ("cache.key", ("string_value", "pokemon:25:en")),
        ("cache.size", ("int_value", 128)),
        ("cache.fill", ("double_value", 0.75)),
        ("cache.cold", ("bool_value", True)),
    ]
    assert root.dropped_events_count == 0
    assert root.HasField("status")
    assert root.status.code == Status.STATUS_CODE_OK
    assert root.status.message == ""
    assert len(root.links) == 0


def test_the_client_child_span(encoded):
    child = decode(encoded).resource_spans[0].scope_spans[0].spans[1]
    assert child.trace_id == TRACE_ID
    assert child.span_id == CHILD_ID
    assert child.parent_span_id == ROOT_ID
    assert child.trace_state == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    assert child.flags == 0x01
    assert child.kind == Span.SPAN_KIND_CLIENT
    assert child.start_time_unix_nano == 1_700_000_000_020_000_000
    assert child.end_time_unix_nano == 1_700_000_000_220_000_000
    assert attributes(child.attributes) == [("db.system", ("string_value", "sqlite"))]
    assert child.dropped_attributes_count == 3
    assert len(child.events) == 0
    assert child.dropped_events_count == 1
    assert child.status.code == Status.STATUS_CODE_ERROR
    assert child.status.message == "database is locked"
    assert [(link.trace_id, link.span_id) for link in child.links] == [
        (bytes.fromhex("0af7651916cd43dd8448eb211c80319c"), bytes.fromhex("b9c7c989f97483e2")),
        (TRACE_ID, ROOT_ID),
    ]
    remote, local = child.links
    assert remote.trace_state == "congo=t61rcWkgMzE"
    assert attributes(remote.attributes) == [("db.operation.batch.size", ("int_value", 3))]
    has_is_remote = SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
    is_remote = SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
    assert remote.flags == 0x01 | has_is_remote | is_remote  # sampled, from another process
    assert local.flags == has_is_remote  # not sampled, from this process
    assert local.trace_state == "" and len(local.attributes) == 0 and local.dropped_attributes_count == 0
    assert child.dropped_links_count == 2


# ---- exporting -----------------------------------------------------------------

class Capture:
    """An OTLP/HTTP receiver on a free loopback port that records every request
    and answers from a script of (status, headers, delay); the last entry repeats."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        self.released = threading.Event()
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the exporter expects

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                capture.requests.append({"time": time.monotonic(), "path": self.path,
                                         "headers": self.headers, "body": body})
                status, headers, delay = capture.script[min(len(capture.requests), len(capture.script)) - 1]
                if delay:
                    capture.released.wait(delay)
                payload = ExportTraceServiceResponse().SerializeToString() if status == 200 else b"no thanks"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/x-protobuf" if status == 200 else "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_plain_export_arrives_as_protobuf(encoded):
    with Capture([(200, {}, 0)]) as server:
        result = run_sample("export", server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "exported 2 spans, 0 retries"
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request["path"] == "/v1/traces"
    assert request["headers"]["Content-Type"] == "application/x-protobuf"
    assert "Content-Encoding" not in request["headers"]
    assert request["headers"]["User-Agent"].startswith("OTel-OTLP-Exporter-Cpp")
    assert request["body"] == encoded
    assert len(decode(request["body"]).resource_spans[0].scope_spans[0].spans) == 2


@pytest.mark.parametrize("args,env", [(["--gzip"], {}), ([], {"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}),
                                      ([], {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
                                            "OTEL_EXPORTER_OTLP_COMPRESSION": "none"})])
def test_a_gzip_export_arrives_compressed(encoded, args, env):
    with Capture([(200, {}, 0)]) as server:
        result = run_sample("export", server.url, *args, env=env)
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request["headers"]["Content-Type"] == "application/x-protobuf"
    assert request["headers"]["Content-Encoding"] == "gzip"
    assert request["body"][:2] == b"\x1f\x8b"
    assert int(request["headers"]["Content-Length"]) == len(request["body"])
    assert gzip.decompress(request["body"]) == encoded


def test_503_with_retry_after_is_retried_after_the_given_delay(encoded):
    script = [(503, {"Retry-After": "1"}, 0), (503, {"Retry-After": "1"}, 0), (200, {}, 0)]
    with Capture(script) as server:
        result = run_sample("export", server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "exported 2 spans, 2 retries"
    times = [r["time"] for r in server.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.95
    assert times[2] - times[1] >= 0.95
    assert all(r["body"] == encoded for r in server.requests)


def test_429_without_retry_after_backs_off_with_jitter():
    # initial_backoff is 1 s and the jitter picks from [0.5 s, 1 s].
    with Capture([(429, {}, 0), (200, {}, 0)]) as server:
        result = run_sample("export", server.url)
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 2
    gap = server.requests[1]["time"] - server.requests[0]["time"]
    assert 0.45 <= gap <= 3.0


@pytest.mark.parametrize("status", [400, 401, 404, 413, 500])
def test_other_errors_are_not_retried(status):
    # A retryable answer with this Retry-After would bring a second request
    # within the sample's run (its timeout is the default 10 s).
    with Capture([(status, {"Retry-After": "1"}, 0)]) as server:
        result = run_sample("export", server.url)
    assert result.returncode == 1
    assert len(server.requests) == 1
    assert f"HTTP {status}" in result.stderr
    assert "(attempt 1 of 5)" in result.stderr and "after 0 retries" in result.stderr, result.stderr


def test_headers_from_the_environment_reach_the_server():
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=secret%20value, x-tenant = acme ,broken,x-plus=a+b",
        # The URL argument replaces any endpoint from the environment.
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{closed_port()}/v1/traces",
    }
    with Capture([(200, {}, 0)]) as server:
        result = run_sample("export", server.url, env=env)
    assert result.returncode == 0, result.stderr
    headers = server.requests[0]["headers"]
    assert headers["api-key"] == "secret value"
    assert headers["x-tenant"] == "acme"
    assert headers["x-plus"] == "a+b"
    assert "broken" not in headers
    assert "OTEL_EXPORTER_OTLP_HEADERS: ignoring entry 3" in result.stderr
    assert "secret" not in result.stderr


def test_traces_headers_replace_the_generic_ones():
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "x-generic=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-traces=2"}
    with Capture([(200, {}, 0)]) as server:
        result = run_sample("export", server.url, env=env)
    assert result.returncode == 0, result.stderr
    headers = server.requests[0]["headers"]
    assert headers["x-traces"] == "2"
    assert "x-generic" not in headers


def test_a_slow_server_is_bounded_by_the_timeout():
    # The server answers 200 after 20 s: an exporter that waited for it would
    # succeed, so failing shows the 1 s timeout ended the request, and the
    # time it took shows it waited that long first (a lower bound).
    with Capture([(200, {}, 20)]) as server:
        started = time.monotonic()
        result = run_sample("export", server.url, env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1000"})
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert len(server.requests) == 1, "no retry once the time is used up"
    assert 1.0 <= elapsed < 15


def test_an_unreachable_endpoint_fails_within_the_timeout():
    # Connections are refused at once, so only the timeout stops the retries
    # (5 attempts, 6 s of backoff at least, would otherwise run): the error
    # says which ended them.
    result = run_sample("export", f"http://127.0.0.1:{closed_port()}/v1/traces",
                        env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1500"})
    assert result.returncode == 1
    assert "export failed" in result.stderr
    assert "1500 ms timeout" in result.stderr or "timed out before attempt" in result.stderr, result.stderr
    assert "giving up" not in result.stderr, result.stderr


@pytest.mark.parametrize("env,named", [
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ({"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "br"}, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector:4318/v1/traces"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
])
def test_invalid_variables_exit_2_naming_the_variable(env, named):
    result = run_sample("export", "http://127.0.0.1:9/v1/traces", env=env)
    assert result.returncode == 2
    assert named in result.stderr


def test_an_https_endpoint_is_refused():
    # No TLS in the build: only http:// is supported.
    result = run_sample("export", "https://127.0.0.1:9/v1/traces")
    assert result.returncode == 2
    assert "only http://" in result.stderr
