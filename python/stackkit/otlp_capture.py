#!/usr/bin/env python3
"""A stand-in for a tracing vendor's OTLP/HTTP endpoint that records what it
is sent.

Point an OTLP/HTTP exporter's endpoint at its base URL. It speaks the OTLP/HTTP
protocol (https://opentelemetry.io/docs/specs/otlp/#otlphttp) for traces:
POST /v1/traces with Content-Type application/x-protobuf (an
ExportTraceServiceRequest, decoded with the official opentelemetry-proto
bindings) or application/json (OTLP's JSON mapping), the body optionally
Content-Encoding gzip; the answer is an empty ExportTraceServiceResponse in
the same encoding. Other paths answer 404, other methods 405, an undecodable
body 400. With `headers` set ({name: value}), a request without every one of
them is answered 401 and recorded as rejected, as a vendor checking its API
key does.

Python:
    with OtlpCapture(headers={"api-key": "k"}) as vendor:   # a thread, free port
        ... exporter endpoint = vendor.url ...
        spans = vendor.wait_for_spans(lambda s: s["trace_id"] == tid)

CLI (prints each request as one JSON line; Ctrl-C or SIGTERM stops it):
    otlp_capture.py [--host 127.0.0.1] [--port 0] [--header NAME=VALUE]...
"""

import argparse
import gzip
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from stackkit.capture_server import CaptureServer

TRACES_PATH = "/v1/traces"
MAX_BODY = 64 * 1024 * 1024
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class _Rejected(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _attributes(key_values):
    return {kv.key: json_format.MessageToDict(kv.value) for kv in key_values}


def flatten(request):
    """One dict per span of an ExportTraceServiceRequest: trace_id, span_id,
    parent_span_id (hex), name, kind, status_code (the enum's name),
    attributes and resource (attribute key -> OTLP AnyValue as JSON)."""
    spans = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": span.SpanKind.Name(span.kind),
                        "status_code": span.status.StatusCode.Name(span.status.code),
                        "attributes": _attributes(span.attributes),
                        "resource": resource,
                        "scope": scope_spans.scope.name,
                    }
                )
    return spans


class OtlpCapture(CaptureServer):
    """The capture server; start() runs it in a daemon thread.

    requests: every request, in arrival order, as dicts with time, method,
    path, headers (lower-case names), content_type, content_encoding, status,
    and for accepted exports `request` (the decoded ExportTraceServiceRequest)
    and `spans` (flatten() of it)."""

    thread_name = "otlp-capture"

    def __init__(self, host="127.0.0.1", port=0, headers=None, on_request=None):
        super().__init__(host, port)
        self.required_headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.on_request = on_request
        self.requests = []

    @property
    def url(self):
        """The OTLP/HTTP base URL (exporters append /v1/traces)."""
        return super().url

    def request_handler(self):
        return _Handler

    # -------------------------------------------------------------- queries

    def accepted(self):
        with self._cond:
            return [r for r in self.requests if r["status"] == 200]

    def rejected(self):
        with self._cond:
            return [r for r in self.requests if r["status"] != 200]

    def spans(self):
        """Every span of every accepted export, flattened."""
        return [span for r in self.accepted() for span in r["spans"]]

    def wait_for_spans(self, predicate=None, count=1, timeout=30):
        """Wait until at least `count` received spans satisfy predicate(span)
        (default: any); return those. AssertionError after `timeout` seconds,
        naming what arrived."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [s for s in self.spans() if predicate is None or predicate(s)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "expected %d matching span(s) within %ss, got %d; requests: %s"
                        % (count, timeout, len(found), json.dumps([_brief(r) for r in self.requests], indent=1)[:4000])
                    )
                self._cond.wait(left)

    # ------------------------------------------------------------- protocol

    def _handle(self, method, path, headers, body):
        """(status, content type, response body) of one request."""
        record = {
            "time": time.time(),
            "method": method,
            "path": path,
            "headers": {k.lower(): v for k, v in headers.items()},
            "content_type": (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower(),
            "content_encoding": (headers.get("Content-Encoding") or "").strip().lower(),
        }
        content_type = record["content_type"] if record["content_type"] in (PROTOBUF, JSON) else PROTOBUF
        try:
            if path != TRACES_PATH:
                raise _Rejected(404, "no such path (only %s)" % TRACES_PATH)
            if method != "POST":
                raise _Rejected(405, "OTLP exports are POSTed")
            missing = [name for name, value in self.required_headers.items() if record["headers"].get(name) != value]
            if missing:
                raise _Rejected(401, "missing or wrong header(s): %s" % ", ".join(sorted(missing)))
            if record["content_type"] not in (PROTOBUF, JSON):
                raise _Rejected(415, "Content-Type must be %s or %s" % (PROTOBUF, JSON))
            if record["content_encoding"] == "gzip":
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError) as e:
                    raise _Rejected(400, "bad gzip body: %s" % e) from e
            elif record["content_encoding"] not in ("", "identity"):
                raise _Rejected(415, "unsupported Content-Encoding %r" % record["content_encoding"])
            request = ExportTraceServiceRequest()
            try:
                if content_type == JSON:
                    json_format.Parse(body.decode("utf-8"), request)
                else:
                    request.ParseFromString(body)
            except (DecodeError, json_format.ParseError, UnicodeDecodeError) as e:
                raise _Rejected(400, "undecodable %s body: %s" % (content_type, e)) from e
            record.update(status=200, request=request, spans=flatten(request))
            response = ExportTraceServiceResponse()
            out = json_format.MessageToJson(response).encode() if content_type == JSON else response.SerializeToString()
        except _Rejected as e:
            record.update(status=e.status, error=str(e))
            # OTLP/HTTP errors carry a google.rpc.Status; its message is enough here.
            content_type, out = JSON, json.dumps({"code": e.status, "message": str(e)}).encode()
        with self._cond:
            self.requests.append(record)
            self._cond.notify_all()
        if self.on_request is not None:
            self.on_request(record)
        return record["status"], content_type, out


def _brief(record):
    brief = {
        k: record[k] for k in ("method", "path", "status", "content_type", "content_encoding", "error") if k in record
    }
    brief["spans"] = len(record.get("spans", ()))
    return brief


class _Handler(BaseHTTPRequestHandler):
    owner = None  # set by OtlpCapture.start
    protocol_version = "HTTP/1.1"

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length > 0 else b""
        status, content_type, out = self.owner._handle(self.command, self.path.split("?", 1)[0], self.headers, body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = _serve

    def log_message(self, *args):
        pass


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="require this header on every export (others get 401)",
    )
    a = ap.parse_args(argv)
    required = {}
    for item in a.header:
        name, sep, value = item.partition("=")
        if not sep or not name:
            ap.error("--header expects NAME=VALUE, got %r" % item)
        required[name] = value

    def show(record):
        print(
            json.dumps(_brief(record) | {"span_names": sorted({s["name"] for s in record.get("spans", ())})}),
            flush=True,
        )

    capture = OtlpCapture(a.host, a.port, required, on_request=show)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=capture.stop).start())
    capture.start()
    print("otlp capture listening on %s (OTLP/HTTP base URL)" % capture.url, file=sys.stderr, flush=True)
    try:
        capture.serve_forever()
    except KeyboardInterrupt:
        capture.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
