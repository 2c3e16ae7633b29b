"""apimon as the bench runs it: a private copy of the binary, pinned to the
server CPU, on a free loopback port, with no telemetry (bare) or with traces
exported to the run's Jaeger (traced), and an access log in the soak only."""

import os
from dataclasses import dataclass

from stackkit import processes
from stackkit.bench import launch
from stackkit.bench.settings import SAMPLER, SAMPLER_ARG, TRACED_SERVICE

READY_TIMEOUT = 60

# The sqlite case's flags, shared by the telemetry cases.
SQLITE_NO_CACHE = ("--threads", "1", "--db-pool-size", "1", "--cache-entries", "0")


def environment(otlp_endpoint=None, sample_ratio=SAMPLER_ARG):
    """apimon's environment: this one without any APIMON_* or OTEL_* setting,
    then no telemetry at all, or the traced settings of telemetry-on (with
    another share of the traces sampled if asked)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("APIMON_", "OTEL_"))}
    if otlp_endpoint is None:
        env["OTEL_SDK_DISABLED"] = "true"
    else:
        env.update(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint,
                   OTEL_TRACES_SAMPLER=SAMPLER, OTEL_TRACES_SAMPLER_ARG=sample_ratio,
                   OTEL_SERVICE_NAME=TRACED_SERVICE)
    return env


@dataclass
class Apimon:
    process: object
    url: str
    log: str

    @property
    def pid(self):
        return self.process.pid

    def log_tail(self, lines=5):
        try:
            with open(self.log, errors="replace") as f:
                return " ".join(line.rstrip("\n") for line in f.readlines()[-lines:])
        except OSError:
            return ""


def start(bench, name, *args, otlp_endpoint=None, sample_ratio=SAMPLER_ARG, access_log=False, log=None):
    """apimon for case or run `name`, logging to `log` (by default
    OUT/NAME.apimon.log), once it is ready; None (and the case failed) if it
    does not get there."""
    port = processes.free_port()
    log = log or os.path.join(bench.out, f"{name}.apimon.log")
    argv = [bench.apimon, "--listen-address", "127.0.0.1", "--port", str(port),
            "--telemetry", "false" if otlp_endpoint is None else "true",
            "--access-log", "true" if access_log else "false", *args]
    with open(log, "wb") as output:
        process = bench.start(argv, output, {bench.settings.server_cpu},
                              env=environment(otlp_endpoint, sample_ratio))
    apimon = Apimon(process, f"http://127.0.0.1:{port}", log)
    if not launch.wait_http(apimon.url + "/readyz", process, READY_TIMEOUT):
        bench.results.fail(name, f"apimon did not become ready; log tail: {apimon.log_tail()}")
        launch.stop(process)
        return None
    return apimon
