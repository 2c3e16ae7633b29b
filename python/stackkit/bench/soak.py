"""The soak: apimon for minutes under a steady load well below what it can
serve, with all its telemetry on (traces to a live Jaeger, the access log,
/metrics scraped at every sample), while its memory, open file descriptors
and threads are read from /proc every few seconds. It judges growth, not
speed: a leak grows however busy or quiet the machine is.
docs/performance.md describes it.

Its bounds are targets of the report (see report.TARGETS): a miss does not
fail the run, an error does. RSS and threads are judged on the samples
after the warm-up against the first of them. Open descriptors are judged
once the load is over, against those before it: under load they follow the
keep-alive connections pokeload holds, which follow its concurrency, which
follows how busy the machine is."""

import json
import os
import sys
import time
from dataclasses import asdict, dataclass

from stackkit import exposition
from stackkit.bench import apimon, launch, paired, parse, procfs, stats
from stackkit.bench.measure import one_line, read_text
from stackkit.bench.settings import SOAK_SAMPLER_ARG, TRACED_SERVICE
from stackkit.server import http_request

NAME = "soak"

# The verdict's bounds, judged on the samples after the warm-up.
RSS_GROWTH_MIB = 2.0  # last sample against the first: a leak of a few bytes per request shows as MiB
# After the load against before it: the exporter's connection to Jaeger,
# opened at the first export, and the bench's previous scrape, closing.
FDS_LEFT_OPEN = 2
THREADS_DRIFT = 0  # largest change: apimon starts every thread it needs at start-up
RATE_SHARE = 0.99  # requests sent per second against the rate asked for

LOAD_GRACE = 60  # seconds past its duration before a pokeload that does not end is stopped
CLOSE_WAIT = 10  # seconds for apimon to close pokeload's connections once it has ended
SCRAPE_TIMEOUT = 10
JAEGER_ATTEMPTS = 50
ACCESS_LINE = '"message":"request"'
LOG_TAIL_LINES = 50
SERVED_METRIC = "http_server_request_duration_seconds"


@dataclass
class Sample:
    """One look at apimon, t_s seconds into the load. served counts the
    requests it answered (its /metrics scrapes left out); None where the
    look failed."""
    t_s: float
    rss_kib: int | None
    fds: int | None
    threads: int | None
    served: int | None = None
    spans_sampled: int | None = None
    spans_exported: int | None = None
    spans_dropped: int | None = None


def served_requests(samples):
    """Requests apimon answered, every route but /metrics (the bench's own scrapes)."""
    return int(sum(value for name, labels, value in samples
                   if name == SERVED_METRIC + "_count" and labels.get("http_route") != "/metrics"))


def latency_buckets(samples):
    """apimon's request latency histogram, every route but /metrics, as
    {upper bound: cumulative count}."""
    buckets = {}
    for name, labels, value in samples:
        if name == SERVED_METRIC + "_bucket" and labels.get("http_route") != "/metrics":
            bound = float(labels["le"])
            buckets[bound] = buckets.get(bound, 0) + value
    return buckets


def bucket_delta(before, after):
    return {bound: count - before.get(bound, 0) for bound, count in after.items()}


def per_minute(samples):
    """Each minute of the soak: the smallest and largest RSS (MiB), fds and
    threads sampled in it, and the rate apimon served at (requests per
    second, from the last sample before the minute to its last)."""
    rows = []
    by_minute = {}
    for sample in samples:
        by_minute.setdefault(int(sample.t_s // 60), []).append(sample)
    previous = None
    for minute in sorted(by_minute):
        inside = by_minute[minute]

        def extent(field, scale=None, inside=inside):
            values = [getattr(s, field) for s in inside if getattr(s, field) is not None]
            if not values:
                return None, None
            low, high = min(values), max(values)
            return (stats.mib(low), stats.mib(high)) if scale == "mib" else (low, high)

        start = previous or inside[0]
        end = inside[-1]
        rate = None
        if start.served is not None and end.served is not None and end.t_s > start.t_s:
            rate = round((end.served - start.served) / (end.t_s - start.t_s), 1)
        rss, fds, threads = extent("rss_kib", "mib"), extent("fds"), extent("threads")
        rows.append({"minute": minute, "samples": len(inside), "rss_mib_min": rss[0], "rss_mib_max": rss[1],
                     "fds_min": fds[0], "fds_max": fds[1], "threads_min": threads[0], "threads_max": threads[1],
                     "served_per_sec": rate})
        previous = end
    return rows


def growth(samples, warmup):
    """What changed after the warm-up: the samples from the first one at or
    after `warmup` seconds on, against that first one. RSS: the last
    sample's growth (MiB, and per cent of the first), the peak's, and the
    least-squares trend (KiB per minute); fds and threads: the largest change
    either way. None where no sample is left to judge."""
    judged = [s for s in samples if s.t_s >= warmup and None not in (s.rss_kib, s.fds, s.threads)]
    result = {"warmup_s": warmup, "samples_judged": len(judged), "baseline_t_s": None, "rss_baseline_mib": None,
              "rss_last_mib": None, "rss_growth_mib": None, "rss_growth_pct": None, "rss_peak_growth_mib": None,
              "rss_trend_kib_per_min": None, "fds_baseline": None, "fds_drift": None, "threads_baseline": None,
              "threads_drift": None}
    if not judged:
        return result
    first, last = judged[0], judged[-1]
    trend = stats.slope_per_minute([(s.t_s, s.rss_kib) for s in judged])
    result.update(
        baseline_t_s=first.t_s,
        rss_baseline_mib=stats.mib(first.rss_kib),
        rss_last_mib=stats.mib(last.rss_kib),
        rss_growth_mib=round((last.rss_kib - first.rss_kib) / 1024, 2),
        rss_growth_pct=round((last.rss_kib - first.rss_kib) / first.rss_kib * 100, 1),
        rss_peak_growth_mib=round((max(s.rss_kib for s in judged) - first.rss_kib) / 1024, 2),
        rss_trend_kib_per_min=None if trend is None else round(trend, 1),
        fds_baseline=first.fds,
        fds_drift=max(abs(s.fds - first.fds) for s in judged),
        threads_baseline=first.threads,
        threads_drift=max(abs(s.threads - first.threads) for s in judged),
    )
    return result


def fds_left_open(before, after):
    """Open descriptors after the load less those before it; None if either
    look failed."""
    if before is None or after is None:
        return None
    return after - before


def rate_share(achieved, asked):
    """Requests sent per second against those asked for, to three decimals."""
    return stats.ratio(achieved, asked)


def verdict(checks):
    """PASS when every soak target passed, else MISS (or the first result
    that is neither, such as skipped or n/a)."""
    results = [check["result"] for key, check in checks.items() if key.startswith("soak_")]
    if not results:
        return "skipped"
    if all(result == "PASS" for result in results):
        return "PASS"
    return next((result for result in results if result not in ("PASS", "MISS")), "MISS")


def scrape(url):
    """apimon's /metrics as text, None if it did not answer."""
    status, body = http_request(url + "/metrics", timeout=SCRAPE_TIMEOUT)
    return body.decode(errors="replace") if status == 200 else None


def look(server, t_s):
    """One sample and the samples of /metrics it read (None if that
    failed): /proc first, as a scrape opens a connection of its own."""
    sample = Sample(t_s=round(t_s, 1), rss_kib=procfs.rss_kib(server.pid), fds=procfs.open_fds(server.pid),
                    threads=procfs.threads(server.pid))
    text = scrape(server.url)
    try:
        metrics = None if text is None else exposition.parse(text)
    except ValueError:
        metrics = None
    if metrics is not None:
        spans = parse.span_counts(text)
        sample.served = served_requests(metrics)
        sample.spans_sampled, sample.spans_exported, sample.spans_dropped = spans.sampled, spans.exported, spans.dropped
    return sample, metrics


def pokeload_environment():
    """pokeload without tracing: apimon's sampler alone decides which
    requests are traced."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("POKELOAD_", "OTEL_"))}
    env["OTEL_SDK_DISABLED"] = "true"
    return env


def measure(bench):
    """The soak case: its own Jaeger, apimon traced and logging, pokeload at
    the soak's rate, samples until pokeload ends."""
    settings, results = bench.settings, bench.results
    jaeger_state = paired.start_jaeger(bench)
    if jaeger_state is None:
        results.fail(NAME, "the Jaeger fixture did not start")
        return
    try:
        _soak(bench, jaeger_state)
    finally:
        bench.stop_jaeger()
    figures = results[NAME]
    if results.ok(NAME):
        extra = figures.extra
        print(f"  sent {figures.requests} at {figures.requests_per_sec}/s (asked {settings.soak_rate}/s), errors "
              f"{figures.errors}; RSS {extra['rss_baseline_mib']} -> {extra['rss_last_mib']} MiB after the "
              f"warm-up ({extra['rss_growth_mib']:+} MiB), fds {extra['fds_before_load']} before the load and "
              f"{extra['fds_after_load']} after it, threads drift {extra['threads_drift']}")


def _soak(bench, jaeger_state):
    settings, results = bench.settings, bench.results
    log = os.path.join(bench.tmp, f"{NAME}.apimon.log")
    server = apimon.start(bench, NAME, *apimon.SQLITE_NO_CACHE, otlp_endpoint=jaeger_state["otlp_http_endpoint"],
                          sample_ratio=SOAK_SAMPLER_ARG, access_log=True, log=log)
    if server is None:
        return
    try:
        idle_before, before = look(server, 0.0)
        if before is None:
            results.fail(NAME, "apimon's /metrics did not answer")
            return
        summary_path = os.path.join(bench.tmp, f"{NAME}.pokeload.json")
        argv = [bench.pokeload, "--target", server.url, "--rate", str(settings.soak_rate), "--duration",
                f"{settings.soak_duration}s", "--bad-share", "0", "--metrics-port", "0", "--report-interval", "0",
                "--summary-file", summary_path]
        print(f"  pokeload at {settings.soak_rate}/s for {settings.soak_duration}s, a sample every "
              f"{settings.soak_interval}s (the first {settings.soak_warmup}s are the warm-up)")
        window = procfs.CpuWindow(settings.server_cpu, server=server.pid, aux=jaeger_state["pid"])
        load_log = os.path.join(bench.tmp, f"{NAME}.pokeload.log")
        with open(load_log, "wb") as output:
            load = bench.start(argv, output, {settings.client_cpu}, env=pokeload_environment())
        samples, last_metrics, failed_looks, finished = _sample(bench, server, load, idle_before.fds)
        window.close()
        if not finished:
            results.fail(NAME, f"pokeload did not end within {settings.soak_duration + LOAD_GRACE}s")
            return
        if not launch.running(server.process):
            results.fail(NAME, f"apimon died during the soak; log tail: {server.log_tail()}")
            return
        try:
            with open(summary_path) as f:
                summary = json.load(f)
        except (OSError, ValueError) as error:
            results.fail(NAME, f"no pokeload summary ({error}): {one_line(_tail(load_log))}")
            return
        _record(bench, summary, samples, idle_before, before, last_metrics, window)
        if failed_looks:
            results.fail(NAME, f"{failed_looks} of {len(samples)} samples could not read apimon's /proc or /metrics")
    finally:
        launch.stop(server.process)
        _keep_log_tail(bench, log)
    if results.ok(NAME):
        _check_telemetry(bench, jaeger_state, log)


def _sample(bench, server, load, idle_fds):
    """Samples every interval until pokeload ends (or overruns), then once
    more when apimon has closed pokeload's connections (fds back within
    FDS_LEFT_OPEN of `idle_fds`, or CLOSE_WAIT passed): the samples, the
    last /metrics, how many looks failed, and whether pokeload ended."""
    settings = bench.settings
    started = time.monotonic()
    deadline = started + settings.soak_duration + LOAD_GRACE
    first, last_metrics = look(server, 0.0)
    samples, failed = [first], 0
    next_at = started + settings.soak_interval
    minute = 0
    finished = False
    while True:
        if launch.wait_exit(load, max(0.0, next_at - time.monotonic())):
            finished = True
            break
        if time.monotonic() > deadline or not launch.running(server.process):
            break
        sample, metrics = look(server, time.monotonic() - started)
        samples.append(sample)
        last_metrics = metrics or last_metrics
        failed += metrics is None or None in (sample.rss_kib, sample.fds, sample.threads)
        next_at = max(next_at + settings.soak_interval, time.monotonic())
        if int(sample.t_s // 60) > minute:
            minute = int(sample.t_s // 60)
            print(f"  {minute} min: RSS {stats.mib(sample.rss_kib)} MiB, {sample.fds} fds, {sample.threads} "
                  f"threads, {sample.served} requests served")
    if finished and launch.running(server.process):
        closing = time.monotonic() + CLOSE_WAIT
        while time.monotonic() < closing and (procfs.open_fds(server.pid) or 0) > (idle_fds or 0) + FDS_LEFT_OPEN:
            time.sleep(0.1)
        sample, metrics = look(server, time.monotonic() - started)
        samples.append(sample)
        last_metrics = metrics or last_metrics
        failed += metrics is None or None in (sample.rss_kib, sample.fds, sample.threads)
    return samples, last_metrics, failed, finished


def _record(bench, summary, samples, idle_before, before, last_metrics, window):
    """The figures from pokeload's summary, the samples and apimon's
    histogram; fails the case on any error or dropped arrival."""
    settings, results = bench.settings, bench.results
    figures = results[NAME]
    outcomes = summary.get("outcomes", {})
    sent = summary.get("sent", 0)
    errors = sent - outcomes.get("2xx", 0)
    latency = summary.get("latency_ms", {})
    figures.requests_per_sec = summary.get("achieved_rate")
    figures.requests = sent
    figures.latency_p50_ms = latency.get("p50")
    figures.latency_p99_ms = latency.get("p99")
    figures.errors = errors
    figures.socket_errors = outcomes.get("timeout", 0) + outcomes.get("error", 0)
    figures.rss_mib = stats.mib(samples[-1].rss_kib)
    figures.server_cpu_pct = window.percent("server")
    figures.span_backend_cpu_pct = window.percent("aux")
    figures.other_load_on_server_cpu_pct = window.noise("server")
    buckets = bucket_delta(latency_buckets(before), latency_buckets(last_metrics or []))
    server_p50, server_p99 = (stats.histogram_quantile(q, buckets) for q in (0.5, 0.99))
    judged = growth(samples, settings.soak_warmup)
    figures.extra.update(
        asked_rate=settings.soak_rate, duration_s=settings.soak_duration, interval_s=settings.soak_interval,
        due=summary.get("due"), dropped=summary.get("dropped"), unfinished=summary.get("unfinished"),
        elapsed_s=summary.get("elapsed_s"), rate_share=rate_share(figures.requests_per_sec, settings.soak_rate),
        served=served_requests(last_metrics or []) - served_requests(before),
        server_latency_p50_ms=None if server_p50 is None else round(server_p50 * 1000, 3),
        server_latency_p99_ms=None if server_p99 is None else round(server_p99 * 1000, 3),
        spans_sampled=samples[-1].spans_sampled, spans_exported=samples[-1].spans_exported,
        spans_dropped=samples[-1].spans_dropped,
        fds_before_load=idle_before.fds, fds_after_load=samples[-1].fds,
        fds_left_open=fds_left_open(idle_before.fds, samples[-1].fds),
        **judged,
        per_minute=per_minute(samples),
        samples=[asdict(s) for s in samples])
    figures.note = (f"pokeload at {settings.soak_rate}/s for {settings.soak_duration}s against apimon (SQLite, no "
                    f"cache) with traces to Jaeger ({SOAK_SAMPLER_ARG} sampled), the access log on and /metrics "
                    f"scraped every {settings.soak_interval}s; p50/p99 are pokeload's (from each request's "
                    "scheduled time), apimon's own histogram gives server_latency_p50_ms/p99_ms; growth after "
                    f"the first {settings.soak_warmup}s")
    _write_samples(bench, samples)
    if errors or summary.get("dropped") or summary.get("unfinished"):
        results.fail(NAME, f"{errors} of {sent} requests failed (outcomes {outcomes}), {summary.get('dropped')} "
                           f"arrivals dropped, {summary.get('unfinished')} unfinished")
        return
    if judged["samples_judged"] == 0:
        results.fail(NAME, f"no sample after the {settings.soak_warmup}s warm-up")
        return
    figures.status = "ok"


def _write_samples(bench, samples):
    with open(os.path.join(bench.out, f"{NAME}.samples.csv"), "w") as f:
        f.write("t_s,rss_kib,fds,threads,served,spans_sampled,spans_exported,spans_dropped\n")
        for s in samples:
            f.write(",".join("" if v is None else str(v) for v in asdict(s).values()) + "\n")


def _check_telemetry(bench, jaeger_state, log):
    """The access log has a line per request and Jaeger has the sampled
    traces: the telemetry really ran."""
    results, figures = bench.results, bench.results[NAME]
    access_lines = sum(1 for line in read_text(log).splitlines() if ACCESS_LINE in line)
    figures.extra["access_log_lines"] = access_lines
    figures.extra["unflushed_spans_at_shutdown"] = paired.UNFLUSHED_SPANS in read_text(log)
    traces = paired.traces_in_jaeger(jaeger_state, TRACED_SERVICE, JAEGER_ATTEMPTS)
    figures.extra["jaeger_traces_found"] = traces
    if access_lines < figures.extra["served"]:
        results.fail(NAME, f"the access log has {access_lines} request lines for {figures.extra['served']} "
                           "requests served")
    elif traces == 0:
        results.fail(NAME, f"Jaeger has no traces of {TRACED_SERVICE}: nothing was exported")


def _tail(path, lines=5):
    try:
        return "\n".join(read_text(path).splitlines()[-lines:])
    except OSError:
        return ""


def _keep_log_tail(bench, log):
    """apimon's log holds a line per request: only its end is kept in OUT."""
    try:
        with open(os.path.join(bench.out, f"{NAME}.apimon.log"), "w") as f:
            f.write(_tail(log, LOG_TAIL_LINES) + "\n")
    except OSError as error:
        print(f"bench: could not keep the soak's log: {error}", file=sys.stderr)
