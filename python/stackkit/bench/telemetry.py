"""telemetry-off against telemetry-on, measured together: in every round a
fresh apimon of each kind runs beside the other on the server CPU, and they
take turns under load pair after pair, so that a drift of the machine's speed
weighs on both alike. Either case alone measures just its own runs. Runs are
named telemetry-MODE.rROUND.pPAIR; a case's figures are medians over its runs.
"""

import os
import sys
import time
from dataclasses import dataclass, field

from stackkit import jaeger
from stackkit.bench import apimon, launch, parse, pinning, stats
from stackkit.bench.measure import measure_http, one_line, read_text, run_wrk
from stackkit.bench.settings import TRACED_SERVICE
from stackkit.server import http_request

JAEGER_START_TIMEOUT = 120
# On SIGTERM apimon flushes the spans still queued, and says so if it cannot.
UNFLUSHED_SPANS = "some spans could not be exported"


@dataclass
class SpanTotals:
    """apimon's span pipeline counters summed over the rounds, read from each
    traced apimon's /metrics before it stops."""
    counts: parse.SpanCounts = field(default_factory=parse.SpanCounts)
    unflushed_rounds: int = 0


def case(mode):
    return f"telemetry-{mode}"


def measure(bench):
    """Both cases, or the one selected."""
    settings, results = bench.settings, bench.results
    modes = ["off"] if settings.selected("telemetry-off") else []
    jaeger_state = None
    if settings.selected("telemetry-on"):
        jaeger_state = start_jaeger(bench)
        if jaeger_state is None:
            results.fail("telemetry-on", "the Jaeger fixture did not start")
        else:
            modes.append("on")
    if not modes:
        return
    totals = SpanTotals()
    for round_number in range(1, settings.rounds + 1):
        if not measure_round(bench, round_number, modes, jaeger_state, totals):
            for mode in modes:
                if results.status(f"{case(mode)}.r{round_number}") != "failed":
                    results.fail(f"{case(mode)}.r{round_number}", f"round {round_number} failed")
            break
        modes = modes[1:] + modes[:1]  # the other one first in the next round
    if settings.selected("telemetry-off"):
        summarize(bench, "telemetry-off")
    if jaeger_state is not None and summarize(bench, "telemetry-on"):
        check_export(bench, jaeger_state, totals)
    bench.stop_jaeger()
    for mode in ("off", "on"):
        if results.ok(case(mode)):
            figures = results[case(mode)]
            print(f"  {case(mode)}: median {figures.requests_per_sec} req/s, p50 {figures.latency_p50_ms} ms, "
                  f"p99 {figures.latency_p99_ms} ms")


def start_jaeger(bench):
    """The run's Jaeger, on the client CPU under SCHED_IDLE: it is started from
    a process pinned and scheduled so, which it and all its threads inherit.
    SCHED_IDLE runs it only in the time wrk leaves idle: the span backend must
    not slow the load generator down, or telemetry-on would measure wrk's lost
    time as apimon's cost."""
    client_cpu = {bench.settings.client_cpu}
    print(f"  starting Jaeger on CPU {bench.settings.client_cpu} (beside wrk, SCHED_IDLE)")
    try:
        state = launch.call_in_session(lambda: jaeger.start(bench.jaeger_dir), JAEGER_START_TIMEOUT, client_cpu,
                                       idle=True)
        pinning.pin_threads(state["pid"], client_cpu)
        pinning.make_idle(state["pid"])
    except (launch.SessionCallFailed, OSError) as error:
        print("\n".join("    " + line for line in str(error).splitlines()), file=sys.stderr)
        return None
    return state


def measure_round(bench, round_number, modes, jaeger_state, totals):
    """One round: a fresh apimon per mode, all on the server CPU at once (the
    one not under load waits in epoll), each warmed up, then the pairs of
    runs back to back, the order alternating from pair to pair. False if any
    part of it failed."""
    settings, results = bench.settings, bench.results
    print(f"  round {round_number}/{settings.rounds}: {' '.join(case(m) for m in modes)}, {settings.pairs} pairs "
          f"of {settings.slice}s")
    servers = {}
    try:
        for mode in modes:
            endpoint = jaeger_state["otlp_http_endpoint"] if mode == "on" else None
            server = apimon.start(bench, f"{case(mode)}.r{round_number}", *apimon.SQLITE_NO_CACHE,
                                  otlp_endpoint=endpoint)
            if server is None:
                return False
            servers[mode] = server
        if settings.warmup > 0:
            for mode in modes:
                name = f"{case(mode)}.r{round_number}"
                warmup_path = os.path.join(bench.tmp, f"{name}.warmup.wrk")
                if not run_wrk(bench, servers[mode].url, settings.warmup, warmup_path):
                    results.fail(name, f"wrk warm-up failed: {one_line(read_text(warmup_path))}")
                    return False
        order = list(modes)
        for pair in range(1, settings.pairs + 1):
            for mode in order:
                aux_pid = jaeger_state["pid"] if mode == "on" else None
                if not measure_http(bench, f"{case(mode)}.r{round_number}.p{pair}", servers[mode].url,
                                    servers[mode].process, warmup=0, duration=settings.slice, aux_pid=aux_pid,
                                    quiet=True):
                    return False
            order.reverse()
        for mode in order:
            server = servers.pop(mode)
            if mode == "on":
                status, body = http_request(server.url + "/metrics", timeout=5)
                if status == 200:
                    totals.counts += parse.span_counts(body.decode(errors="replace"))
            launch.stop(server.process)
            if mode == "on" and UNFLUSHED_SPANS in read_text(server.log):
                totals.unflushed_rounds += 1
        for mode in order:
            runs = runs_of(settings, results, mode, round_number)
            print(f"    {case(mode)} req/s by pair: {' '.join(str(r) for r in runs)}")
        return True
    finally:
        for server in servers.values():
            launch.stop(server.process)


def runs_of(settings, results, mode, round_number=None):
    """req/s of each measured run of a mode, of one round or of all."""
    rounds = [round_number] if round_number else range(1, settings.rounds + 1)
    names = (f"{case(mode)}.r{r}.p{p}" for r in rounds for p in range(1, settings.pairs + 1))
    return [results.figures[name].requests_per_sec for name in names
            if name in results.figures and results.figures[name].requests_per_sec is not None]


def summarize(bench, name):
    """The case's figures from its runs: medians (noise: the highest; RSS: the
    last run's; requests and errors: summed). Fails the case if a run did."""
    settings, results = bench.settings, bench.results
    runs = []
    for r in range(1, settings.rounds + 1):
        for p in range(1, settings.pairs + 1):
            run = f"{name}.r{r}.p{p}"
            if not results.ok(run):
                why = results.note(run) or results.note(f"{name}.r{r}") or "did not run"
                results.fail(name, f"round {r}, pair {p}: {why}")
                return False
            runs.append(results[run])
    figures = results[name]

    def known(field):
        return [getattr(run, field) for run in runs if getattr(run, field) is not None]

    figures.requests_per_sec = stats.median(known("requests_per_sec"))
    figures.latency_p50_ms = stats.median(known("latency_p50_ms"))
    figures.latency_p99_ms = stats.median(known("latency_p99_ms"))
    figures.server_cpu_pct = stats.median(known("server_cpu_pct"))
    figures.jaeger_cpu_pct = stats.median(known("jaeger_cpu_pct"))
    figures.other_load_on_server_cpu_pct = max(known("other_load_on_server_cpu_pct"), default=None)
    figures.requests = sum(known("requests"))
    figures.errors = sum(known("errors"))
    figures.socket_errors = sum(known("socket_errors"))
    figures.rss_mib = runs[-1].rss_mib
    figures.extra.update(rounds=settings.rounds, pairs_per_round=settings.pairs,
                         requests_per_sec_runs=known("requests_per_sec"))
    figures.note = (f"median of {len(runs)} runs of {settings.slice}s ({settings.rounds} rounds of "
                    f"{settings.pairs}); noise: the highest run's")
    figures.status = "ok"
    return True


def traces_in_jaeger(jaeger_state, attempts=50):
    """How many of the traced service's traces Jaeger returns (up to 20),
    asking again every 0.2 s while it has none yet."""
    traces = 0
    for _ in range(attempts):
        try:
            traces = len(jaeger.find_traces(jaeger_state, TRACED_SERVICE, limit=20))
        except jaeger.FixtureError:
            traces = 0
        if traces:
            break
        time.sleep(0.2)
    return traces


def check_export(bench, jaeger_state, totals, attempts=50):
    """A benchmark of "on" that exported nothing would measure nothing: Jaeger
    must return traces of the traced service."""
    results, figures = bench.results, bench.results["telemetry-on"]
    traces = traces_in_jaeger(jaeger_state, attempts)
    counts = totals.counts
    figures.extra.update(jaeger_traces_found=traces, spans_sampled=counts.sampled,
                         spans_not_sampled=counts.not_sampled, spans_exported_before_shutdown=counts.exported,
                         spans_dropped=counts.dropped)
    jaeger_cpu = "?" if figures.jaeger_cpu_pct is None else figures.jaeger_cpu_pct
    figures.note += (f"; Jaeger (on CPU {bench.settings.client_cpu}, beside wrk) used {jaeger_cpu} % of a core;"
                     f" spans sampled {counts.sampled}, not sampled {counts.not_sampled}, exported {counts.exported}"
                     f" before shutdown, dropped {counts.dropped}; Jaeger returned {traces} traces of "
                     f"{TRACED_SERVICE} (limit 20)")
    if totals.unflushed_rounds:
        figures.note += f"; in {totals.unflushed_rounds} round(s) apimon could not export all spans at shutdown"
    if traces == 0:
        results.fail("telemetry-on", f"Jaeger has no traces of {TRACED_SERVICE}: nothing was exported")
    else:
        print(f"  Jaeger returned {traces} traces of {TRACED_SERVICE}; spans sampled {counts.sampled}, dropped "
              f"{counts.dropped}")
