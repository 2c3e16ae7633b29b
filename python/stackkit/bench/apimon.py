"""apimon as the bench runs it: a private copy of the binary, pinned to the
server CPU, on a free loopback port, with no telemetry (bare) or with traces
exported to the run's Jaeger (traced), and with or without its access log."""

import os
from dataclasses import dataclass

from stackkit import processes
from stackkit.bench import launch
from stackkit.bench.settings import SAMPLER, SAMPLER_ARG, TRACED_SERVICE

READY_TIMEOUT = 60

# The sqlite case's flags, shared by the paired cases on SQLite.
SQLITE_NO_CACHE = ("--threads", "1", "--db-pool-size", "1", "--cache-entries", "0")
# OTEL_TRACES_SAMPLER as the traced cases set it: (sampler, argument or None);
# DEFAULT_SAMPLER leaves both unset, so apimon's own default decides.
RATIO_SAMPLER = (SAMPLER, SAMPLER_ARG)
ALWAYS_ON = ("always_on", None)
DEFAULT_SAMPLER = None


def environment(otlp_endpoint=None, sample_ratio=SAMPLER_ARG, sampler=RATIO_SAMPLER):
    """apimon's environment: this one without any APIMON_* or OTEL_* setting,
    then no telemetry at all, or the traced settings (telemetry-on's ratio
    sampler, with another share of the traces if asked, or `sampler`)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("APIMON_", "OTEL_"))}
    if otlp_endpoint is None:
        env["OTEL_SDK_DISABLED"] = "true"
        return env
    env.update(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint,
               OTEL_SERVICE_NAME=TRACED_SERVICE)
    if sampler == RATIO_SAMPLER:
        sampler = (SAMPLER, sample_ratio)
    if sampler is not None:
        env["OTEL_TRACES_SAMPLER"] = sampler[0]
        if sampler[1] is not None:
            env["OTEL_TRACES_SAMPLER_ARG"] = sampler[1]
    return env


@dataclass
class Apimon:
    process: object
    url: str
    log: str
    counts_spans: bool = False  # its /metrics has the span pipeline's counters

    @property
    def pid(self):
        return self.process.pid

    @property
    def cpu_pids(self):
        return self.pid

    def log_tail(self, lines=5):
        return launch.log_tail(self.log, lines)


def start(bench, name, *args, otlp_endpoint=None, sample_ratio=SAMPLER_ARG, sampler=RATIO_SAMPLER,
          access_log=False, log=None, default_flags=False):
    """apimon for case or run `name`, logging to `log` (by default
    OUT/NAME.apimon.log), once it is ready; None (and the case failed) if it
    does not get there. default_flags leaves --telemetry and --access-log at
    apimon's defaults (both on) instead of setting them."""
    port = processes.free_port()
    log = log or os.path.join(bench.out, f"{name}.apimon.log")
    argv = [bench.apimon, "--listen-address", "127.0.0.1", "--port", str(port)]
    if not default_flags:
        argv += ["--telemetry", "false" if otlp_endpoint is None else "true",
                 "--access-log", "true" if access_log else "false"]
    argv += args
    with open(log, "wb") as output:
        process = bench.start(argv, output, {bench.settings.server_cpu},
                              env=environment(otlp_endpoint, sample_ratio, sampler))
    apimon = Apimon(process, f"http://127.0.0.1:{port}", log, counts_spans=otlp_endpoint is not None)
    if not launch.wait_http(apimon.url + "/readyz", process, READY_TIMEOUT):
        bench.results.fail(name, f"apimon did not become ready; log tail: {apimon.log_tail()}")
        launch.stop(process)
        return None
    return apimon
