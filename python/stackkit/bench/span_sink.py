"""A span sink for the always-on case: nginx on the client CPU accepting
OTLP/HTTP exports and keeping nothing. It answers every POST to /v1/traces
with an empty 200 (an empty ExportTraceServiceResponse: everything accepted),
so apimon's whole span pipeline runs (records, batching, encoding, the HTTP
request) while the backend costs next to nothing: the figure is apimon's cost
of tracing, not a span store's competing with wrk for the client CPU. Its
access log, one line per export, says how many batches and bytes arrived."""

import os
from dataclasses import dataclass

from stackkit.bench import launch, nginx
from stackkit.bench.measure import one_line, read_text

START_TIMEOUT = 30
# A batch of 512 of apimon's spans is about 130 KiB; bodies are read into memory and dropped.
MAX_BODY = "16m"

HTTP = f"""log_format export '$request_method $uri $status $content_length';
  access_log {{prefix}}/exports.log export buffer=64k flush=1s;
  client_max_body_size {MAX_BODY};
  client_body_buffer_size {MAX_BODY};"""
LOCATIONS = """location = /v1/traces {
      default_type application/x-protobuf;
      return 200 '';
    }
    location = /healthz { return 200 'ok'; }
    location / { return 404; }"""


class SpanSink(nginx.Started):
    @property
    def otlp_http_endpoint(self):
        return self.url

    @property
    def exports_log(self):
        return os.path.join(self.prefix, "exports.log")


@dataclass
class Received:
    exports: int = 0  # POSTs to /v1/traces answered 200
    refused: int = 0  # any other request, or another status
    bytes: int = 0  # the exports' bodies (their Content-Length)


def start(bench):
    """The sink on the client CPU, at its ordinary priority (unlike Jaeger it
    does so little that it needs no SCHED_IDLE); None if it does not start,
    with the reason printed."""
    sink = SpanSink(**vars(nginx.start(bench, "span-sink.", {bench.settings.client_cpu}, HTTP, LOCATIONS)))
    if not launch.wait_http(f"{sink.url}/healthz", sink.process, START_TIMEOUT):
        print(f"    the span sink did not start: {one_line(read_text(sink.error_log))}")
        launch.stop(sink.process)
        return None
    return sink


def stop(sink):
    """Stops the sink (nginx writes its buffered log on the way out) and
    returns what it received."""
    launch.stop(sink.process)
    return received(sink.exports_log)


def received(path):
    counted = Received()
    try:
        with open(path) as f:
            for line in f:
                method, uri, status, length = (line.split() + ["", "", "", "0"])[:4]
                if (method, uri, status) == ("POST", "/v1/traces", "200"):
                    counted.exports += 1
                    counted.bytes += int(length) if length.isdigit() else 0
                elif uri != "/healthz":
                    counted.refused += 1
    except FileNotFoundError:
        pass
    return counted
