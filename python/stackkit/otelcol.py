#!/usr/bin/env python3
"""Private, throwaway OpenTelemetry Collector for tests.

Runs the otelcol binary scripts/install-tools builds with the Collector
builder (deploy/otelcol/builder.yaml) into the tool cache, with the stack's
configuration, deploy/otelcol/config.yaml (the file compose.yaml and
scripts/stack run), its ${env:...} placeholders filled in with the fixture's
free 127.0.0.1 ports and settings. Every file (the rendered config, the
vendor overlay if any, pid, logs, state.json) lives under the given state
directory.

What the configuration does with the traces it receives over OTLP (gRPC and
HTTP):

    traces/sampled:     memory_limiter, resource, tail_sampling, batch
                        -> otlp_grpc to Jaeger (and otlp_http to a vendor, if given)
    traces/spanmetrics: memory_limiter, resource
                        -> span_metrics connector -> metrics pipeline
                        -> prometheus exporter (a scrape target)

The span metrics pipeline sees every span, before tail sampling: its calls
counters count every request, whatever was kept. Tail sampling keeps every
trace with a span whose status is ERROR, every trace longer than
latency_threshold_ms, and base_percentage percent of the others. The
vendor exporter's headers are read from files through the file config
provider (${file:PATH}), so no secret is written into the configuration; the
collector sends such a file's bytes as they are, so it holds the value alone,
without a trailing newline.

CLI:
    otelcol.py start  --state-dir DIR --jaeger-otlp-grpc HOST:PORT
                      [--latency-threshold-ms 500] [--base-percentage 10]
                      [--decision-wait-ms 2000] [--memory-limit-mib 256]
                      [--vendor-endpoint URL [--vendor-header NAME=FILE]...]
                      [--environment NAME]
    otelcol.py stop   --state-dir DIR [--remove]
    otelcol.py status --state-dir DIR      exit 0 if ready, 1 otherwise
    otelcol.py binary                      print the binary's path (error if not built)

API: binary_path, start, stop, is_ready, load_state, metrics_text,
spanmetrics_text (see docstrings). Every helper taking `state` accepts the
state dict start() returns or a state dir.
"""

import argparse
import json
import os
import re
import socket
import sys

from stackkit import processes, server, tools
from stackkit.processes import FixtureError
from stackkit.server import http_request as _http
from stackkit.tools import tool_versions

HTTP_TIMEOUT = 5

# Names of the ports the fixture allocates, as keys of state["ports"].
PORT_NAMES = ("otlp_grpc", "otlp_http", "health", "metrics", "spanmetrics")

# Defaults of start()'s settings, and the bounds they are checked against.
DEFAULTS = {
    "latency_threshold_ms": 500,
    "base_percentage": 10.0,
    "decision_wait_ms": 2000,
    "memory_limit_mib": 256,
    "environment": "test",
}
VENDOR_CONFIG = "otelcol-vendor.yaml"
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # an HTTP token


def _q(value):
    """A YAML scalar: JSON strings are valid YAML double-quoted strings."""
    return json.dumps(str(value))


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The configuration compose.yaml and scripts/stack run too: the fixture fills
# in its ${env:NAME:-default} placeholders with its own ports and settings.
SHARED_CONFIG = os.path.join(REPO, "deploy", "otelcol", "config.yaml")
_PLACEHOLDER = re.compile(r"\$\{env:([A-Z0-9_]+)(?::-([^}]*))?\}")


def _vendor_overlay(endpoint, header_files):
    """A second configuration adding the vendor exporter, as the overlays of
    deploy/otelcol/vendors do: lists are replaced when configurations are
    merged, so it restates the traces/sampled pipeline's exporters."""
    lines = [
        "# Written by python/stackkit/otelcol.py; rewritten on every start.",
        "exporters:",
        "  otlp_http/vendor:",
        "    endpoint: %s" % _q(endpoint),
        "    retry_on_failure:",
        "      initial_interval: 100ms",
        "      max_interval: 1s",
    ]
    if header_files:
        lines.append("    headers:")
        # ${file:...} reads the header's value from the file when the
        # collector starts, byte for byte (a string field keeps its text).
        lines += ["      %s: ${file:%s}" % (_q(name), path) for name, path in sorted(header_files.items())]
    lines += [
        "service:",
        "  pipelines:",
        "    traces/sampled:",
        "      exporters: [otlp_grpc/jaeger, otlp_http/vendor]",
    ]
    return "\n".join(lines) + "\n"


def config_variables(
    ports, jaeger_otlp_grpc, latency_threshold_ms, base_percentage, decision_wait_ms, memory_limit_mib, environment
):
    """The values of deploy/otelcol/config.yaml's ${env:...} placeholders for these settings."""
    return {
        "OTELCOL_LISTEN_HOST": "127.0.0.1",
        "OTELCOL_OTLP_GRPC_PORT": ports["otlp_grpc"],
        "OTELCOL_OTLP_HTTP_PORT": ports["otlp_http"],
        "OTELCOL_HEALTH_PORT": ports["health"],
        "OTELCOL_METRICS_PORT": ports["metrics"],
        "OTELCOL_SPANMETRICS_PORT": ports["spanmetrics"],
        "OTELCOL_JAEGER_ENDPOINT": jaeger_otlp_grpc,
        "OTELCOL_ENVIRONMENT": environment,
        "OTELCOL_LATENCY_THRESHOLD_MS": latency_threshold_ms,
        "OTELCOL_BASE_PERCENTAGE": base_percentage,
        "OTELCOL_DECISION_WAIT": "%dms" % decision_wait_ms,
        "OTELCOL_MEMORY_LIMIT_MIB": memory_limit_mib,
        "OTELCOL_MEMORY_SPIKE_LIMIT_MIB": max(1, memory_limit_mib // 5),
        # Tests read span metrics soon after the requests.
        "OTELCOL_SPANMETRICS_FLUSH_INTERVAL": "1s",
    }


def render_config(
    ports,
    jaeger_otlp_grpc,
    latency_threshold_ms,
    base_percentage,
    decision_wait_ms,
    memory_limit_mib,
    environment,
    source=SHARED_CONFIG,
):
    """deploy/otelcol/config.yaml with the fixture's values in its placeholders
    (the defaults of the others)."""
    values = config_variables(
        ports, jaeger_otlp_grpc, latency_threshold_ms, base_percentage, decision_wait_ms, memory_limit_mib, environment
    )
    with open(source, encoding="utf-8") as f:
        text = f.read()

    def fill(match):
        name, default = match.group(1), match.group(2)
        if name in values:
            return str(values[name])
        if default is None:
            raise FixtureError("%s: ${env:%s} has no default and the fixture sets no value" % (source, name))
        return default

    return "# Rendered by python/stackkit/otelcol.py from %s; rewritten on every start.\n" % source + (
        _PLACEHOLDER.sub(fill, text)
    )


def _check_settings(jaeger_otlp_grpc, settings, vendor_endpoint, vendor_header_files):
    if not re.fullmatch(r"[^\s/:]+:\d{1,5}", jaeger_otlp_grpc or ""):
        raise FixtureError("jaeger_otlp_grpc must be HOST:PORT, got %r" % (jaeger_otlp_grpc,))
    for name in ("latency_threshold_ms", "decision_wait_ms", "memory_limit_mib"):
        value = settings[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise FixtureError("%s must be a positive integer, got %r" % (name, value))
    share = settings["base_percentage"]
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 <= share <= 100:
        raise FixtureError("base_percentage must be a number from 0 to 100, got %r" % (share,))
    if not re.fullmatch(r"[A-Za-z0-9._-]+", str(settings["environment"])):
        raise FixtureError("environment must be letters, digits, '.', '_' or '-', got %r" % (settings["environment"],))
    if vendor_header_files and not vendor_endpoint:
        raise FixtureError("vendor headers without a vendor endpoint")
    if vendor_endpoint and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", vendor_endpoint):
        raise FixtureError("vendor_endpoint must be an http(s) URL, got %r" % (vendor_endpoint,))
    for name, path in (vendor_header_files or {}).items():
        if not _HEADER_NAME.fullmatch(name):
            raise FixtureError("%r is not an HTTP header name" % (name,))
        if not os.path.isabs(path) or not os.path.isfile(path) or re.search(r"[\s}]", path):
            raise FixtureError(
                "header %s: %r must be an existing file's absolute path without spaces or '}'" % (name, path)
            )
        with open(path, "rb") as f:
            value = f.read()
        # The collector would send a trailing newline as part of the value,
        # which Go's HTTP client refuses: every export would fail.
        if not value or re.search(rb"[\x00-\x1f\x7f]", value):
            raise FixtureError(
                "header %s: %s must hold the value alone: not empty, no newline (write it with printf '%%s', "
                "not echo), no control character" % (name, path)
            )


def _build_state(f, ports, binary, versions, settings):
    base = "http://127.0.0.1:%d"
    return {
        "pid": None,
        "binary": binary,
        "version": versions.get("OTELCOL_VERSION"),
        "config": f.config,
        "logs": {"stdout": f.stdout, "stderr": f.stderr},
        "ports": ports,
        "settings": settings,
        # OTLP: exporters take the base URL (and append /v1/traces) or HOST:PORT for gRPC.
        "otlp_http_endpoint": base % ports["otlp_http"],
        "otlp_grpc_endpoint": "127.0.0.1:%d" % ports["otlp_grpc"],
        "health_url": (base % ports["health"]) + "/",
        # The collector's own metrics (otelcol_*), Prometheus text format.
        "metrics_url": (base % ports["metrics"]) + "/metrics",
        "metrics_target": "127.0.0.1:%d" % ports["metrics"],
        # The span metrics connector's output, through the prometheus exporter.
        "spanmetrics_url": (base % ports["spanmetrics"]) + "/metrics",
        "spanmetrics_target": "127.0.0.1:%d" % ports["spanmetrics"],
    }


def binary_path():
    """Path of the otelcol binary pinned in scripts/tool-versions, in the tool
    cache (or $OTELCOL_BIN). Raises FixtureError if it has not been built."""
    return tools.cached_binary("otelcol")


class Otelcol(server.ManagedServer):
    name = "otelcol"
    config_name = "otelcol.yaml"
    stop_grace = 15

    def identity(self, files):
        return "--config=" + files.config

    def ready(self, files, state):
        """Health check green, its metrics served, OTLP listening."""
        for url in (state["health_url"], state["metrics_url"]):
            if _http(url, timeout=2)[0] != 200:
                return False
        for name in ("otlp_http", "otlp_grpc", "spanmetrics"):
            try:
                with socket.create_connection(("127.0.0.1", state["ports"][name]), timeout=2):
                    pass
            except OSError:
                return False
        return True

    def start(
        self,
        state_dir,
        jaeger_otlp_grpc,
        latency_threshold_ms=DEFAULTS["latency_threshold_ms"],
        base_percentage=DEFAULTS["base_percentage"],
        decision_wait_ms=DEFAULTS["decision_wait_ms"],
        memory_limit_mib=DEFAULTS["memory_limit_mib"],
        environment=DEFAULTS["environment"],
        vendor_endpoint=None,
        vendor_header_files=None,
    ):
        """Write DIR/otelcol.yaml and start the collector; return the state dict.

        jaeger_otlp_grpc: HOST:PORT of Jaeger's OTLP/gRPC receiver (the jaeger
        fixture's state["otlp_grpc_endpoint"]). latency_threshold_ms: traces
        longer than this are kept; base_percentage: the share (0-100) of the
        other traces kept; decision_wait_ms: how long after its first span a
        trace is decided. vendor_endpoint: an OTLP/HTTP base URL that gets the
        kept traces too, with vendor_header_files {header name: absolute path
        of a file holding its value}.

        Always (re)starts, on the ports recorded in state.json if there are
        any: a stopped collector comes back where its clients expect it."""
        settings = {
            "latency_threshold_ms": latency_threshold_ms,
            "base_percentage": base_percentage,
            "decision_wait_ms": decision_wait_ms,
            "memory_limit_mib": memory_limit_mib,
            "environment": environment,
        }
        _check_settings(jaeger_otlp_grpc, settings, vendor_endpoint, vendor_header_files)
        f = self.files(state_dir)
        os.makedirs(f.dir, exist_ok=True)
        binary = binary_path()
        if os.path.exists(f.state):
            ports = self.load_state(f.dir)["ports"]
        else:
            ports = dict(zip(PORT_NAMES, processes.free_ports(len(PORT_NAMES)), strict=True))
        self.stop(f.dir)
        state = _build_state(f, ports, binary, tool_versions(), settings)
        state.update(
            jaeger_otlp_grpc=jaeger_otlp_grpc,
            vendor_endpoint=vendor_endpoint,
            vendor_header_files=dict(vendor_header_files or {}),
        )
        command = [binary, "--config=" + f.config]
        configs = [(f.config, render_config(ports, jaeger_otlp_grpc, **settings))]
        if vendor_endpoint:
            configs.append((f.path(VENDOR_CONFIG), _vendor_overlay(vendor_endpoint, vendor_header_files or {})))
            command.append("--config=" + f.path(VENDOR_CONFIG))
        elif os.path.exists(f.path(VENDOR_CONFIG)):
            os.remove(f.path(VENDOR_CONFIG))
        for path, text in configs:
            with open(path + ".tmp", "w") as out:
                out.write(text)
            os.replace(path + ".tmp", path)
        return self.launch_and_save(f, command, state, ports=ports.values())

    def add_start_arguments(self, parser):
        parser.add_argument(
            "--jaeger-otlp-grpc",
            required=True,
            metavar="HOST:PORT",
            help="Jaeger's OTLP/gRPC receiver (the jaeger fixture's otlp_grpc_endpoint)",
        )
        parser.add_argument(
            "--latency-threshold-ms",
            type=int,
            default=DEFAULTS["latency_threshold_ms"],
            help="keep every trace longer than this (default %(default)s)",
        )
        parser.add_argument(
            "--base-percentage",
            type=float,
            default=DEFAULTS["base_percentage"],
            help="share of the other traces kept, 0-100 (default %(default)s)",
        )
        parser.add_argument(
            "--decision-wait-ms",
            type=int,
            default=DEFAULTS["decision_wait_ms"],
            help="how long a trace is held before it is decided (default %(default)s)",
        )
        parser.add_argument(
            "--memory-limit-mib",
            type=int,
            default=DEFAULTS["memory_limit_mib"],
            help="memory_limiter's limit (default %(default)s)",
        )
        parser.add_argument(
            "--environment",
            default=DEFAULTS["environment"],
            help="deployment.environment.name for spans without one (default %(default)s)",
        )
        parser.add_argument(
            "--vendor-endpoint", metavar="URL", help="an OTLP/HTTP base URL that also gets the kept traces"
        )
        parser.add_argument(
            "--vendor-header",
            action="append",
            default=[],
            type=_parse_header,
            metavar="NAME=FILE",
            help="a header of the vendor exporter, its value read from FILE",
        )

    def start_from_arguments(self, args):
        return self.start(
            args.state_dir,
            args.jaeger_otlp_grpc,
            args.latency_threshold_ms,
            args.base_percentage,
            args.decision_wait_ms,
            args.memory_limit_mib,
            args.environment,
            args.vendor_endpoint,
            dict(args.vendor_header),
        )

    def add_commands(self, command):
        command("binary", lambda a: print(binary_path()), state_dir=False)


def _parse_header(value):
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError("expected NAME=FILE, got %r" % value)
    return name, os.path.abspath(path)


SERVER = Otelcol()
start = SERVER.start
stop = SERVER.stop
load_state = SERVER.load_state
is_ready = SERVER.is_ready


def _scrape(url):
    status, body = _http(url, timeout=HTTP_TIMEOUT)
    if status != 200:
        raise FixtureError("GET %s answered %s" % (url, status or "nothing"))
    return body.decode()


def metrics_text(state):
    """One scrape of the collector's own metrics (Prometheus text format)."""
    return _scrape(SERVER.state_of(state)["metrics_url"])


def spanmetrics_text(state):
    """One scrape of the prometheus exporter: the span metrics connector's output."""
    return _scrape(SERVER.state_of(state)["spanmetrics_url"])


# ---------------------------------------------------------------------- CLI


def main(argv=None):
    return SERVER.main(argv, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
