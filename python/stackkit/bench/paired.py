"""Two configurations measured together (comparisons.py defines them): in
every round a fresh server of each side runs beside the other on the server
CPU, and they take turns under load pair after pair, so that a drift of the
machine's speed weighs on both alike. Runs are named SIDE.rROUND.pPAIR; a
side's figures are medians over its runs, and the comparison's figure the
median over pairs (comparisons.pair_values).

A side that is a case of its own (telemetry-off, telemetry-on) is measured
only when selected, so either alone measures just its own runs; a side that
is not (access-log-off) is measured whenever its comparison's case is.
"""

import os
import shutil
import sys
import time
from dataclasses import dataclass, field

from stackkit import jaeger
from stackkit.bench import launch, parse, pinning, span_sink, stats
from stackkit.bench.measure import measure_http, one_line, read_text, run_wrk
from stackkit.server import http_request

JAEGER_START_TIMEOUT = 120
# On SIGTERM apimon flushes the spans still queued, and says so if it cannot.
UNFLUSHED_SPANS = "some spans could not be exported"
# One line of apimon's access log.
ACCESS_LINE = b'"message":"request"'
LOG_TAIL_LINES = 50
# Against the span sink every span should be exported; a handful dropped (a
# queue full for an instant) does not change the figure, a share does.
DROPPED_SPANS_ALLOWED = 0.001


@dataclass(frozen=True)
class Side:
    """One configuration: `name` names its results and runs; start(bench,
    run_name, context) returns a ready server (process, url, log, cpu_pids,
    counts_spans) or None having failed run_name; context holds the states
    of the comparison's fixtures ("jaeger", "sink", "mariadb"), or None."""
    name: str
    start: object
    traced: bool = False  # exports spans to the comparison's Jaeger or span sink
    access_log: bool = False  # apimon's access log in its log file: counted, then removed


@dataclass(frozen=True)
class Comparison:
    case: str  # where the comparison's own figures go: span counts, Jaeger's traces
    base: Side
    variant: Side
    cases: tuple  # the selectable cases that run it
    traced_services: tuple = ()  # a Jaeger is started; each must have traces in it
    span_sink: bool = False  # a span sink (span_sink.py) is started; it must receive exports
    mariadb: bool = False  # the sides use the bench's MariaDB

    @property
    def sides(self):
        return (self.base, self.variant)


@dataclass
class SpanTotals:
    """apimon's span pipeline counters summed over the rounds, read from each
    traced apimon's /metrics before it stops."""
    counts: parse.SpanCounts = field(default_factory=parse.SpanCounts)
    unflushed_rounds: int = 0


@dataclass
class LogTotals:
    lines: int = 0
    requests: int = 0


def measured_sides(settings, comparison):
    return [side for side in comparison.sides if side.name not in comparison.cases or settings.selected(side.name)]


def measure(bench, comparison):
    """The comparison's sides that are selected, in rounds."""
    settings, results = bench.settings, bench.results
    sides = measured_sides(settings, comparison)
    jaeger_state = None
    if comparison.traced_services and any(side.traced for side in sides):
        jaeger_state = start_jaeger(bench)
        if jaeger_state is None:
            sides = _untraced(results, sides, "the Jaeger fixture did not start")
    sink = None
    if comparison.span_sink and any(side.traced for side in sides):
        sink = span_sink.start(bench)
        if sink is None:
            sides = _untraced(results, sides, "the span sink did not start")
    mariadb_state = None
    if comparison.mariadb and sides:
        mariadb_state = bench.mariadb()
        if mariadb_state is None:
            for side in sides:
                results.fail(side.name, "the MariaDB fixture did not start")
            sides = []
    if not sides:
        bench.stop_jaeger()
        if sink is not None:
            span_sink.stop(sink)
        return
    context = {"jaeger": jaeger_state, "sink": sink, "mariadb": mariadb_state}
    totals, logs = SpanTotals(), LogTotals()
    try:
        for round_number in range(1, settings.rounds + 1):
            if not measure_round(bench, comparison, round_number, sides, context, totals, logs):
                for side in sides:
                    if results.status(f"{side.name}.r{round_number}") != "failed":
                        results.fail(f"{side.name}.r{round_number}", f"round {round_number} failed")
                break
            sides = sides[1:] + sides[:1]  # the other one first in the next round
    finally:
        received = span_sink.stop(sink) if sink is not None else None
    measured = measured_sides(settings, comparison)
    summarized = all([summarize(bench, side.name) for side in measured])
    case_measured = comparison.case in [side.name for side in measured]
    if jaeger_state is not None and summarized and case_measured:
        check_export(bench, jaeger_state, totals, comparison)
    if received is not None and summarized and case_measured:
        check_sink(bench, received, totals, comparison)
    bench.stop_jaeger()
    if logs.requests and summarized and case_measured:
        check_access_log(bench, comparison, logs)
    for side in measured:
        if not results.ok(side.name) and side.name not in comparison.cases and results.ok(comparison.case):
            results.fail(comparison.case, f"{side.name} failed: {results.note(side.name)}")
    for side in measured_sides(settings, comparison):
        if results.ok(side.name):
            figures = results[side.name]
            print(f"  {side.name}: median {figures.requests_per_sec} req/s, p50 {figures.latency_p50_ms} ms, "
                  f"p99 {figures.latency_p99_ms} ms, CPU {figures.server_cpu_pct} %")


def _untraced(results, sides, why):
    """The sides left when the span backend is missing: each traced one fails."""
    for side in sides:
        if side.traced:
            results.fail(side.name, why)
    return [side for side in sides if not side.traced]


def start_jaeger(bench):
    """The run's Jaeger, on the client CPU under SCHED_IDLE: it is started from
    a process pinned and scheduled so, which it and all its threads inherit.
    SCHED_IDLE runs it only in the time wrk leaves idle: the span backend must
    not slow the load generator down, or a traced side would measure wrk's
    lost time as the server's cost."""
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


def _stop(bench, comparison, side, server, round_number, totals, logs):
    """Stops a side's server, after reading its span counters; counts its
    access log's lines against the requests it answered, keeps the log's
    last lines in OUT and removes the rest."""
    if side.traced and server.counts_spans:
        status, body = http_request(server.url + "/metrics", timeout=5)
        if status == 200:
            totals.counts += parse.span_counts(body.decode(errors="replace"))
    launch.stop(server.process)
    if getattr(server, "prefix", None):  # nginx's files, its access log among them
        shutil.rmtree(server.prefix, ignore_errors=True)
    if side.traced and server.counts_spans and UNFLUSHED_SPANS in read_text(server.log):
        totals.unflushed_rounds += 1
    if side.access_log:
        lines, tail = count_access_lines(server.log)
        logs.lines += lines
        logs.requests += sum(bench.results[f"{side.name}.r{round_number}.p{p}"].requests or 0
                             for p in range(1, bench.settings.pairs + 1))
        with open(os.path.join(bench.out, f"{side.name}.apimon.log"), "wb") as f:
            f.writelines(tail)
        os.remove(server.log)


def count_access_lines(path):
    lines, tail = 0, []
    with open(path, "rb") as f:
        for line in f:
            if ACCESS_LINE in line:
                lines += 1
            tail.append(line)
            if len(tail) > 2 * LOG_TAIL_LINES:
                del tail[:LOG_TAIL_LINES]
    return lines, tail[-LOG_TAIL_LINES:]


def measure_round(bench, comparison, round_number, sides, context, totals, logs):
    """One round: a fresh server per side, all on the server CPU at once (the
    one not under load waits in epoll or accept), each warmed up, then the
    pairs of runs back to back, the order alternating from pair to pair.
    False if any part of it failed."""
    settings, results = bench.settings, bench.results
    print(f"  round {round_number}/{settings.rounds}: {' '.join(side.name for side in sides)}, {settings.pairs} "
          f"pairs of {settings.slice}s")
    jaeger_state, sink, mariadb_state = context["jaeger"], context["sink"], context["mariadb"]
    backend_pid = jaeger_state["pid"] if jaeger_state else sink.worker_pid if sink else None
    servers = {}
    try:
        for side in sides:
            server = side.start(bench, f"{side.name}.r{round_number}", context)
            if server is None:
                return False
            servers[side.name] = server
        if mariadb_state is not None:
            bench.pin_mariadb()
        if settings.warmup > 0:
            for side in sides:
                name = f"{side.name}.r{round_number}"
                warmup_path = os.path.join(bench.tmp, f"{name}.warmup.wrk")
                if not run_wrk(bench, servers[side.name].url, settings.warmup, warmup_path):
                    results.fail(name, f"wrk warm-up failed: {one_line(read_text(warmup_path))}")
                    return False
        order = list(sides)
        for pair in range(1, settings.pairs + 1):
            for side in order:
                server = servers[side.name]
                if not measure_http(bench, f"{side.name}.r{round_number}.p{pair}", server.url, server.process,
                                    warmup=0, duration=settings.slice, cpu_pid=server.cpu_pids,
                                    db_pid=mariadb_state["pid"] if mariadb_state else None,
                                    aux_pid=backend_pid if side.traced else None,
                                    quiet=True):
                    return False
            order.reverse()
        for side in order:
            _stop(bench, comparison, side, servers.pop(side.name), round_number, totals, logs)
        for side in order:
            runs = runs_of(settings, results, side.name, round_number)
            print(f"    {side.name} req/s by pair: {' '.join(str(r) for r in runs)}")
        return True
    finally:
        for server in servers.values():
            launch.stop(server.process)


def runs_of(settings, results, name, round_number=None):
    """req/s of each measured run of a side, of one round or of all."""
    rounds = [round_number] if round_number else range(1, settings.rounds + 1)
    names = (f"{name}.r{r}.p{p}" for r in rounds for p in range(1, settings.pairs + 1))
    return [results.figures[run].requests_per_sec for run in names
            if run in results.figures and results.figures[run].requests_per_sec is not None]


def summarize(bench, name):
    """The side's figures from its runs: medians (noise: the highest; RSS: the
    last run's; requests and errors: summed). Fails the side if a run did."""
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
    figures.mariadbd_cpu_pct = stats.median(known("mariadbd_cpu_pct"))
    figures.span_backend_cpu_pct = stats.median(known("span_backend_cpu_pct"))
    figures.other_load_on_server_cpu_pct = max(known("other_load_on_server_cpu_pct"), default=None)
    figures.requests = sum(known("requests"))
    figures.errors = sum(known("errors"))
    figures.socket_errors = sum(known("socket_errors"))
    figures.rss_mib = runs[-1].rss_mib
    figures.extra.update(rounds=settings.rounds, pairs_per_round=settings.pairs,
                         requests_per_sec_runs=known("requests_per_sec"),
                         cpu_us_per_request=stats.median(
                             [run.extra["cpu_us_per_request"] for run in runs
                              if run.extra.get("cpu_us_per_request") is not None]))
    figures.note = (f"median of {len(runs)} runs of {settings.slice}s ({settings.rounds} rounds of "
                    f"{settings.pairs}); noise: the highest run's")
    figures.status = "ok"
    return True


def traces_in_jaeger(jaeger_state, service, attempts=50):
    """How many of a service's traces Jaeger returns (up to 20), asking
    again every 0.2 s while it has none yet."""
    traces = 0
    for _ in range(attempts):
        try:
            traces = len(jaeger.find_traces(jaeger_state, service, limit=20))
        except jaeger.FixtureError:
            traces = 0
        if traces:
            break
        time.sleep(0.2)
    return traces


def check_export(bench, jaeger_state, totals, comparison, attempts=50):
    """A traced side that exported nothing would measure nothing: Jaeger must
    return traces of every traced service."""
    results, figures = bench.results, bench.results[comparison.case]
    found = {service: traces_in_jaeger(jaeger_state, service, attempts) for service in comparison.traced_services}
    counts = totals.counts
    figures.extra.update(jaeger_traces_found=sum(found.values()))
    _note_spans(bench, totals, comparison, f"Jaeger (on CPU {bench.settings.client_cpu}, beside wrk, SCHED_IDLE)",
                "; Jaeger returned " + ", ".join(f"{n} traces of {s}" for s, n in found.items()) + " (limit 20 each)")
    missing = [service for service, n in found.items() if n == 0]
    if missing:
        results.fail(comparison.case, f"Jaeger has no traces of {', '.join(missing)}: nothing was exported")
    else:
        print(f"  Jaeger returned {', '.join(f'{n} traces of {s}' for s, n in found.items())}; apimon's spans "
              f"sampled {counts.sampled}, dropped {counts.dropped}")


def _note_spans(bench, totals, comparison, backend, received):
    """apimon's span counters and the backend's CPU, in the case's figures and note."""
    results, figures, counts = bench.results, bench.results[comparison.case], totals.counts
    figures.extra.update(spans_sampled=counts.sampled, spans_not_sampled=counts.not_sampled,
                         spans_exported_before_shutdown=counts.exported, spans_dropped=counts.dropped)
    traced = [side for side in measured_sides(bench.settings, comparison) if side.traced]
    used = "/".join(str(results[side.name].span_backend_cpu_pct) for side in traced)
    figures.note += (f"; {backend} used {used} % of a core; apimon's spans sampled {counts.sampled}, not sampled "
                     f"{counts.not_sampled}, exported {counts.exported} before shutdown, dropped {counts.dropped}"
                     + received)
    if totals.unflushed_rounds:
        figures.note += f"; in {totals.unflushed_rounds} round(s) apimon could not export all spans at shutdown"


def check_sink(bench, received, totals, comparison):
    """The traced side must have exported to the sink, and the sink must have
    kept up: spans apimon dropped would be work it did not do, a cost left
    out of the figure."""
    results, figures = bench.results, bench.results[comparison.case]
    counts = totals.counts
    figures.extra.update(sink_exports=received.exports, sink_bytes=received.bytes, sink_refused=received.refused)
    _note_spans(bench, totals, comparison, f"the span sink (nginx on CPU {bench.settings.client_cpu}, beside wrk)",
                f"; the sink received {received.exports} exports ({received.bytes} bytes)")
    if received.exports == 0 or counts.exported == 0:
        results.fail(comparison.case, f"the span sink received {received.exports} exports and apimon exported "
                                      f"{counts.exported} spans: nothing was traced")
    elif received.refused:
        results.fail(comparison.case, f"the span sink refused {received.refused} requests")
    elif counts.dropped > DROPPED_SPANS_ALLOWED * counts.sampled:
        results.fail(comparison.case, f"apimon dropped {counts.dropped} of {counts.sampled} spans: the sink did not "
                                      "keep up, so the figure leaves part of the cost out")
    else:
        print(f"  the span sink received {received.exports} exports; apimon's spans sampled {counts.sampled}, "
              f"dropped {counts.dropped}")


def check_access_log(bench, comparison, logs):
    """The access log must have a line for every request wrk saw answered."""
    figures = bench.results[comparison.case]
    figures.extra.update(access_log_lines=logs.lines, requests_measured=logs.requests)
    figures.note += f"; {logs.lines} access log lines for {logs.requests} requests measured (warm-ups too)"
    if logs.lines < logs.requests:
        bench.results.fail(comparison.case, f"the access log has {logs.lines} lines for {logs.requests} requests")
