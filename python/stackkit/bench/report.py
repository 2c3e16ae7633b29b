"""The targets each run is judged against, and the report: a table on the
terminal, results.json and results.md in the output directory."""

import datetime
import json
import os
import sys
from dataclasses import dataclass

from stackkit.bench import comparisons, paired, soak, stats
from stackkit.bench.settings import CONNECTIONS, SAMPLER, SAMPLER_ARG, SOAK_SAMPLER_ARG, TRACED_SERVICE

NOISE_WARNING_PERCENT = 10


def descriptions(settings):
    return {
        "nginx": "nginx fixed JSON (HTTP ceiling)",
        "nginx-log-off": "nginx, access_log off (pairs)",
        "nginx-log": "nginx, buffered access log",
        "sqlite": "apimon SQLite, no cache",
        "sqlite-cache": "apimon SQLite, cache 2048",
        "mariadb": f"apimon MariaDB pool {settings.db_pool}, no cache",
        "sysbench": "sysbench point-select (DB ceil.)",
        "rss": "apimon idle, no telemetry",
        "telemetry-off": "apimon SQLite, telemetry off",
        "telemetry-on": "apimon SQLite, traces to Jaeger 1%",
        "access-log-off": "apimon SQLite, access log off",
        "access-log": "apimon SQLite, access log on",
        "always-on-off": "apimon SQLite, telemetry off",
        "always-on": "apimon SQLite, all traced to a sink",
        "always-on-jaeger-off": "apimon SQLite, telemetry off",
        "always-on-jaeger": "apimon SQLite, all traced to Jaeger",
        "configured": "apimon default flags, log+traces",
        "seed": f"seed peer (Flask, gunicorn {settings.seed_workers}w) traced",
        "seed-apimon": f"apimon MariaDB pool {settings.db_pool}, traced",
        "spans": "span micro-benchmarks (CPU ns)",
        "telemetry-instructions": "telemetry, instructions per request",
        "soak": f"apimon soak {settings.soak_rate}/s, telemetry on",
    }


def pair_overheads(settings, results):
    """1 - on/off of each telemetry pair, in per cent: each pair's runs were
    measured back to back by apimons living side by side, so drifts of the
    machine's speed slower than a pair cancel within it."""
    return comparisons.pair_values(settings, results, comparisons.TELEMETRY)


def _pair_median(comparison, figure, key, digits=1):
    """The median over pairs of a comparison's figure (comparisons.pair_values);
    the values by pair go to the comparison's case as `key`. The median
    discards the odd disturbed pair."""
    def measure(settings, results):
        values = comparisons.pair_values(settings, results, comparison, figure)
        results[comparison.case].extra[key] = values
        value = stats.median(values)
        return None if value is None else round(value, digits)
    return measure


_telemetry_overhead = _pair_median(comparisons.TELEMETRY, "overhead", "overhead_pct_runs")


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    limit: str | None  # "<= 10", ">= 0.6"; None: a figure reported, not judged
    cases: tuple
    figure: object  # (settings, results) -> the measured value


TARGETS = (
    Target("sqlite_vs_nginx", "apimon sqlite / nginx (req/s)", ">= 0.8", ("sqlite", "nginx"),
           lambda s, r: stats.ratio(r["sqlite"].requests_per_sec, r["nginx"].requests_per_sec)),
    Target("cache_vs_nginx", "apimon sqlite-cache / nginx (req/s)", ">= 0.75", ("sqlite-cache", "nginx"),
           lambda s, r: stats.ratio(r["sqlite-cache"].requests_per_sec, r["nginx"].requests_per_sec)),
    Target("mariadb_vs_sysbench", "apimon mariadb / sysbench point-select (req/s per q/s)", ">= 0.8",
           ("mariadb", "sysbench"),
           lambda s, r: stats.ratio(r["mariadb"].requests_per_sec, r["sysbench"].requests_per_sec)),
    Target("idle_rss", "apimon idle RSS (MiB)", "<= 10", ("rss",), lambda s, r: r["rss"].rss_mib),
    Target("telemetry_overhead", "telemetry overhead, median of pairs' 1 - on/off req/s (%)", "<= 5",
           ("telemetry-off", "telemetry-on"), _telemetry_overhead),
    Target("nginx_log_cost", "nginx access log, median of pairs' 1 - on/off req/s (%)", None, ("nginx-log",),
           _pair_median(comparisons.NGINX_LOG, "overhead", "overhead_pct_runs")),
    Target("nginx_log_cpu_cost", "nginx access log, more CPU per request (%)", None, ("nginx-log",),
           _pair_median(comparisons.NGINX_LOG, "cpu_cost", "cpu_cost_pct_runs")),
    Target("access_log_overhead", "access log overhead, median of pairs' 1 - on/off req/s (%)", "<= 5",
           ("access-log",), _pair_median(comparisons.ACCESS_LOG, "overhead", "overhead_pct_runs")),
    Target("access_log_cpu_cost", "access log, more CPU per request (%)", None, ("access-log",),
           _pair_median(comparisons.ACCESS_LOG, "cpu_cost", "cpu_cost_pct_runs")),
    Target("always_on_overhead", "always-on to a span sink, median of pairs' 1 - on/off req/s (%)",
           "<= 15", ("always-on",), _pair_median(comparisons.ALWAYS_ON, "overhead", "overhead_pct_runs")),
    Target("always_on_cpu_cost", "always-on to a span sink, more CPU per request (%)", None,
           ("always-on",), _pair_median(comparisons.ALWAYS_ON, "cpu_cost", "cpu_cost_pct_runs")),
    Target("always_on_jaeger_overhead", "always-on to a live Jaeger, median of pairs' 1 - on/off req/s (%)", None,
           ("always-on-jaeger",),
           _pair_median(comparisons.ALWAYS_ON_JAEGER, "overhead", "overhead_pct_runs")),
    Target("configured_vs_nginx", "apimon as configured / nginx (req/s)", None, ("configured", "nginx"),
           lambda s, r: stats.ratio(r["configured"].requests_per_sec, r["nginx"].requests_per_sec)),
    Target("apimon_vs_seed", "apimon / seed peer, both traced, MariaDB (req/s, pairs)", ">= 30", ("seed",),
           _pair_median(comparisons.SEED, "ratio", "ratio_runs")),
    Target("seed_cpu_vs_apimon", "seed peer / apimon, CPU per request", None, ("seed",),
           _pair_median(comparisons.SEED, "cpu_ratio", "cpu_ratio_runs")),
    Target("span_sampled", "span_sampled, CPU time (ns)", "<= 300", ("spans",),
           lambda s, r: r["spans"].extra.get("span_sampled_cpu_ns")),
    Target("span_sampled_out", "span_sampled_out, CPU time (ns)", "<= 50", ("spans",),
           lambda s, r: r["spans"].extra.get("span_sampled_out_cpu_ns")),
    Target("soak_rss_growth", "soak: apimon RSS growth after warm-up (MiB)", f"<= {soak.RSS_GROWTH_MIB:g}",
           ("soak",), lambda s, r: r["soak"].extra.get("rss_growth_mib")),
    Target("soak_fds_left_open", "soak: apimon open fds after the load less before it",
           f"<= {soak.FDS_LEFT_OPEN}", ("soak",), lambda s, r: r["soak"].extra.get("fds_left_open")),
    Target("soak_threads_drift", "soak: apimon threads, largest change after warm-up", f"<= {soak.THREADS_DRIFT}",
           ("soak",), lambda s, r: r["soak"].extra.get("threads_drift")),
    Target("soak_rate", "soak: achieved / asked rate (req/s per req/s)", f">= {soak.RATE_SHARE:g}", ("soak",),
           lambda s, r: r["soak"].extra.get("rate_share")),
)


def _meets(value, limit):
    operator, bound = limit.split()
    return value >= float(bound) if operator == ">=" else value <= float(bound)


def judge(settings, results):
    """Each target's value and result: PASS or MISS (a miss does not fail the
    run; a figure without a limit is "reported"), skipped if a case it needs
    was not selected, n/a if one failed."""
    checks = {}
    for target in TARGETS:
        check = {"label": target.label, "value": None, "target": target.limit or "-"}
        failed = [case for case in target.cases if not results.ok(case)]
        if not set(target.cases) <= set(settings.cases):
            check["result"] = "skipped"
        elif failed:
            check["result"] = f"n/a ({failed[0]} failed)"
        else:
            check["value"] = target.figure(settings, results)
            if target.limit is None:
                check["result"] = "reported"
            else:
                met = check["value"] is not None and _meets(check["value"], target.limit)
                check["result"] = "PASS" if met else "MISS"
        checks[target.key] = check
    return checks


def cell(value):
    return "-" if value is None or value == "" else str(value)


def _cpu_cell(figures):
    """The server's CPU %, with mariadbd's as a+b when measured."""
    if figures.server_cpu_pct is not None and figures.mariadbd_cpu_pct is not None:
        return f"{figures.server_cpu_pct}+{figures.mariadbd_cpu_pct}"
    if figures.mariadbd_cpu_pct is not None:
        return f"db {figures.mariadbd_cpu_pct}"
    return cell(figures.server_cpu_pct)


def _side_summary(name, f):
    return (f"{name} {cell(f.requests_per_sec)} req/s p50/p99 {cell(f.latency_p50_ms)}/{cell(f.latency_p99_ms)} ms "
            f"{cell(f.extra.get('cpu_us_per_request'))} us CPU/req")


def console(settings, results, checks):
    """The report on the terminal, as lines."""
    labels = descriptions(settings)
    names = comparisons.rows(settings.cases)
    row = ("{:<%d} {:<35} {:>10} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7} {:>6}  {}"
           % max([14] + [len(name) for name in names])).format
    lines = ["", f"Results ({settings.duration}s each, wrk -t1 -c{CONNECTIONS} / sysbench {CONNECTIONS} threads; "
                 f"server CPU {settings.server_cpu}, client CPU {settings.client_cpu})",
             row("case", "description", "req|q/s", "p50 ms", "p99 ms", "non-2xx", "sock-err", "RSS MiB", "CPU %",
                 "noise%", "status")]
    for name in names:
        f = results[name]
        lines.append(row(name, labels[name], cell(f.requests_per_sec), cell(f.latency_p50_ms),
                         cell(f.latency_p99_ms), cell(f.errors), cell(f.socket_errors), cell(f.rss_mib), _cpu_cell(f),
                         cell(f.other_load_on_server_cpu_pct), f.status))
    lines += [
        "(RSS: of the server after its measured run. CPU %: the server's CPU use during the measured run,",
        f" 100 = one core; a+b = apimon+mariadbd. noise%: CPU {settings.server_cpu} time used by OTHER processes "
        "meanwhile.",
        " sysbench row: mariadbd's RSS and CPU, non-2xx = ignored errors, sock-err = reconnects.",
        " paired rows (telemetry, nginx-log, access-log, always-on(-jaeger), seed): medians of "
        f"{settings.rounds * settings.pairs} runs of {settings.slice}s, noise the highest, RSS after the last run;",
        " seed: gunicorn's processes summed. CPU/req: the server's CPU time per request answered.)"]
    for name in comparisons.rows(settings.cases):
        runs = paired.runs_of(settings, results, name)  # none but for the paired cases' sides
        if runs:
            lines.append(f"{name} req/s by run: {' '.join(cell(r) for r in runs)}")
    for comparison in comparisons.ALL:
        case = results.figures.get(comparison.case)
        if comparison.case in settings.cases and case and "spans_sampled" in case.extra:
            extra = case.extra
            backend = "the span sink" if comparison.span_sink else "Jaeger"
            used = "/".join(cell(results[side.name].span_backend_cpu_pct) for side in comparison.sides if side.traced)
            received = (f", received {extra.get('sink_exports', 0)} exports" if comparison.span_sink else "")
            lines.append(f"{comparison.case}: {backend} used {used} % of CPU {settings.client_cpu} (wrk's){received}; "
                         f"apimon sampled {extra.get('spans_sampled', 0)} spans ({extra.get('spans_not_sampled', 0)} "
                         f"not sampled), exported {extra.get('spans_exported_before_shutdown', 0)} before shutdown, "
                         f"dropped {extra.get('spans_dropped', 0)}")
    for comparison in comparisons.ALL:
        if comparison.case not in settings.cases or comparison is comparisons.TELEMETRY:
            continue
        if all(results.ok(side.name) for side in comparison.sides):
            lines.append(f"{comparison.case}: " + " vs ".join(_side_summary(side.name, results[side.name])
                                                             for side in comparison.sides))
    if results.ok("configured"):
        extra = results["configured"].extra
        lines.append(f"configured: Jaeger used {cell(results['configured'].span_backend_cpu_pct)} % of CPU "
                     f"{settings.client_cpu}; apimon sampled {extra.get('spans_sampled')} spans, exported "
                     f"{extra.get('spans_exported_before_shutdown')} before shutdown, dropped "
                     f"{extra.get('spans_dropped')}; {extra.get('access_log_lines')} access log lines")
    if results.ok("telemetry-instructions"):
        extra = results["telemetry-instructions"].extra
        lines.append(f"telemetry-instructions: {extra['off_instructions_per_request']} instructions per request off, "
                     f"{extra['on_instructions_per_request']} on: +{extra['overhead_percent']} %, "
                     f"{extra['access_log_instructions_per_request']} with the access log: "
                     f"+{extra['access_log_overhead_percent']} % (callgrind)")
    if results.ok("spans"):
        extra = results["spans"].extra
        for benchmark in _span_benchmarks(extra):
            lines.append(f"spans: {benchmark:<42} {cell(extra[benchmark + '_cpu_ns']):>8} ns CPU "
                         f"{cell(extra.get(benchmark + '_real_ns')):>8} ns real")
    if results.ok("soak"):
        lines += soak_lines(results["soak"], checks)
    lines += ["", "Targets"]
    width = max([60] + [len(check["label"]) for check in checks.values()])
    for check in checks.values():
        lines.append(f"  {check['label']:<{width}} {cell(check['value']):>8}  target {check['target']:<7} "
                     f"{check['result']}")
    lines += [
        "",
        f"Pinning: apimon/nginx/telemetry_bench on CPU {settings.server_cpu}, wrk, sysbench and Jaeger on CPU "
        f"{settings.client_cpu},",
        f"mariadbd on CPUs {settings.mariadb_cpu_list} in both MariaDB cases.",
        "Telemetry: apimon cases run with --access-log false (but access-log and configured) and",
        "--telemetry false, OTEL_SDK_DISABLED=true (but telemetry-on, always-on(-jaeger), seed-apimon, configured).",
        f"telemetry-on: --telemetry true, OTLP/HTTP to Jaeger, {SAMPLER} {SAMPLER_ARG}, service {TRACED_SERVICE};",
        "always-on(-jaeger) and seed: OTEL_TRACES_SAMPLER=always_on, always-on to a span sink that keeps nothing; "
        "configured: apimon's defaults (parentbased_always_on)."]
    if settings.selected("soak"):
        lines.append(f"Soak: apimon on CPU {settings.server_cpu} with --telemetry true --access-log true, traces to "
                     f"Jaeger ({SAMPLER} {SOAK_SAMPLER_ARG}); pokeload and Jaeger on CPU {settings.client_cpu}.")
    return lines


def soak_lines(figures, checks):
    """The soak's samples minute by minute, its growth, the latency seen by
    pokeload and by apimon, and its verdict."""
    extra = figures.extra
    row = "{:>6} {:>8} {:>8} {:>7} {:>7} {:>8} {:>8} {:>8}".format
    lines = ["", f"soak: {extra['asked_rate']}/s for {extra['duration_s']}s, a sample every {extra['interval_s']}s; "
                 "per minute:",
             row("minute", "RSS min", "RSS max", "fds min", "fds max", "thr min", "thr max", "req/s")]
    for m in extra["per_minute"]:
        lines.append(row(m["minute"], cell(m["rss_mib_min"]), cell(m["rss_mib_max"]), cell(m["fds_min"]),
                         cell(m["fds_max"]), cell(m["threads_min"]), cell(m["threads_max"]),
                         cell(m["served_per_sec"])))
    lines += [
        f"soak after the first {extra['warmup_s']}s ({extra['samples_judged']} samples): RSS "
        f"{cell(extra['rss_baseline_mib'])} -> {cell(extra['rss_last_mib'])} MiB ({cell(extra['rss_growth_mib'])} "
        f"MiB, {cell(extra['rss_growth_pct'])} %; peak {cell(extra['rss_peak_growth_mib'])} MiB; trend "
        f"{cell(extra['rss_trend_kib_per_min'])} KiB/min), fds {cell(extra['fds_baseline'])} "
        f"(drift {cell(extra['fds_drift'])} under load; {cell(extra.get('fds_before_load'))} before the load, "
        f"{cell(extra.get('fds_after_load'))} after it), threads {cell(extra['threads_baseline'])} (drift "
        f"{cell(extra['threads_drift'])})",
        f"soak: {figures.requests} sent at {figures.requests_per_sec}/s, errors {figures.errors}, dropped "
        f"{cell(extra['dropped'])}; latency p50/p99 {cell(figures.latency_p50_ms)}/{cell(figures.latency_p99_ms)} ms "
        f"(pokeload) vs {cell(extra['server_latency_p50_ms'])}/{cell(extra['server_latency_p99_ms'])} ms (apimon's "
        "histogram)",
        f"soak: apimon sampled {cell(extra.get('spans_sampled'))} spans, exported {cell(extra.get('spans_exported'))}"
        f", dropped {cell(extra.get('spans_dropped'))}; Jaeger returned {cell(extra.get('jaeger_traces_found'))} "
        f"traces (limit 20); {cell(extra.get('access_log_lines'))} access log lines",
        f"soak verdict: {soak.verdict(checks)}"]
    return lines


def _span_benchmarks(figures):
    return [key[:-len("_cpu_ns")] for key in figures if key.endswith("_cpu_ns")]


def noisiest(settings, results):
    """The highest share of the server CPU that other processes took during a case's measured run."""
    return max((results[name].other_load_on_server_cpu_pct for name in comparisons.rows(settings.cases)
                if results[name].other_load_on_server_cpu_pct is not None), default=0)


def document(settings, results, checks, generated_at=None):
    """results.json."""
    generated_at = generated_at or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = descriptions(settings)
    return {
        "generated_at": generated_at,
        "ok": not results.failed,
        "method": {
            "load": f"wrk -t1 -c{CONNECTIONS} --latency, random ids 1..1025 (bench/random_id.lua)",
            "duration_s": settings.duration,
            "warmup_s": settings.warmup,
            "connections": CONNECTIONS,
            "db_pool_size": settings.db_pool,
            "server_cpu": settings.server_cpu,
            "client_cpu": settings.client_cpu,
            "mariadbd_cpus": settings.mariadb_cpu_list,
            "pinning": "server under test and telemetry_bench on the server CPU; wrk, sysbench and Jaeger "
                       "on the client CPU; mariadbd on mariadbd_cpus",
            "telemetry": {
                "bare": "sqlite, sqlite-cache, mariadb, rss, telemetry-off and the -off side of access-log and "
                        "always-on: --telemetry false --access-log false, OTEL_SDK_DISABLED=true",
                "traced": "telemetry-on: --telemetry true --access-log false, OTEL_TRACES_EXPORTER=otlp to a "
                          f"live Jaeger, OTEL_TRACES_SAMPLER={SAMPLER}, OTEL_TRACES_SAMPLER_ARG={SAMPLER_ARG}, "
                          f"OTEL_SERVICE_NAME={TRACED_SERVICE}",
                "access_log": "access-log: the bare flags but --access-log true, its stdout to a file in the run's "
                              "temporary directory (at least one line per request answered, else the case fails)",
                "always_on": "always-on: as telemetry-on with OTEL_TRACES_SAMPLER=always_on (every request traced), "
                             "exporting to a span sink that keeps nothing (nginx answering each OTLP/HTTP POST with "
                             "an empty 200, on the client CPU): apimon's own cost of tracing",
                "always_on_jaeger": "always-on-jaeger: the same, exporting to the live Jaeger (on the client CPU "
                                    "under SCHED_IDLE, beside wrk): reported, as on two cores Jaeger's ingestion "
                                    "takes CPU from wrk",
                "configured": "configured: apimon's default flags (access log and telemetry on, the default "
                              "sampler parentbased_always_on, --threads 1 --db-pool-size 4, no cache) with traces to "
                              "the live Jaeger",
                "seed": f"seed: the seed peer (bench/peers/seed: Flask, gunicorn {settings.seed_workers} sync "
                        "workers, PyMySQL, prometheus_client, OpenTelemetry) against apimon on MariaDB (pool "
                        f"{settings.db_pool}, no cache, --telemetry true), both OTEL_TRACES_SAMPLER=always_on to one "
                        "live Jaeger, the same wrk load; gunicorn and its workers on the server CPU",
                "rounds": settings.rounds,
                "pairs_per_round": settings.pairs,
                "run_s": settings.slice,
                "rounds_note": "paired cases (telemetry, nginx-log, access-log, always-on(-jaeger), seed): each round "
                               "starts "
                               "a fresh server of each side side by side on the server CPU, warms both up, then "
                               "measures pairs_per_round pairs of run_s-second runs back to back, alternating which "
                               "goes first; a side's figures are medians over its runs, an overhead the median over "
                               "pairs of 1 - on/off, seed's ratio the median over pairs of apimon/peer",
                "jaeger": "on the client CPU under SCHED_IDLE: it runs only when wrk leaves the CPU idle",
                "span_sink": "always-on's: nginx on the client CPU at ordinary priority, answering each POST "
                             "/v1/traces with an empty 200 and logging its Content-Length; the case fails if it "
                             "received nothing or if apimon dropped more than 0.1 % of its spans",
                "inherited_environment": "every OTEL_* and APIMON_* variable is removed",
            },
            "soak": {
                "load": f"pokeload --rate {settings.soak_rate} --duration {settings.soak_duration}s --bad-share 0 "
                        "(open model, even arrivals; pokeload itself untraced) on the client CPU",
                "apimon": "sqlite, no cache, --telemetry true --access-log true, OTEL_TRACES_EXPORTER=otlp to a "
                          f"live Jaeger, OTEL_TRACES_SAMPLER={SAMPLER}, OTEL_TRACES_SAMPLER_ARG={SOAK_SAMPLER_ARG}",
                "samples": f"every {settings.soak_interval}s: VmRSS, open fds and threads from /proc, then "
                           "/metrics",
                "warmup_s": settings.soak_warmup,
                "bounds": f"after the warm-up, against its first sample: RSS grows at most "
                          f"{soak.RSS_GROWTH_MIB:g} MiB and threads change by at most {soak.THREADS_DRIFT}; once "
                          "the load is over and its connections closed, apimon has at most "
                          f"{soak.FDS_LEFT_OPEN} more open fds than before it; at least {soak.RATE_SHARE:g} of the "
                          "rate asked is sent; any failed request or dropped arrival fails the case",
            },
            "apimon": settings.apimon,
            "note": "ratios are meaningful within one run only",
        },
        "cases": {name: results[name].as_json(labels[name]) for name in comparisons.rows(settings.cases)},
        "checks": checks,
    }


def markdown(doc):
    """results.md, from results.json's document."""
    method, cases = doc["method"], doc["cases"]
    telemetry = method["telemetry"]
    lines = [
        "# apimon benchmark", "",
        f"Generated {doc['generated_at']}; {method['duration_s']} s per case after {method['warmup_s']} s warm-up; "
        f"wrk -t1 -c{method['connections']}, random ids 1..1025; sysbench oltp_point_select with "
        f"{method['connections']} threads.", "",
        f"Pinning: server under test on CPU {method['server_cpu']}, wrk/sysbench/Jaeger on CPU {method['client_cpu']}, "
        f"mariadbd on CPUs {method['mariadbd_cpus']}. Compare ratios within one run only. CPU %: 100 = one core. "
        f"noise %: CPU {method['server_cpu']} time used by other processes during the measured run.", "",
        f"Telemetry: {telemetry['bare']}. {telemetry['traced']}. The telemetry rows are medians of "
        f"{telemetry['rounds'] * telemetry['pairs_per_round']} runs of {telemetry['run_s']} s: {telemetry['rounds']} "
        f"rounds of {telemetry['pairs_per_round']} pairs, each pair one run of each back to back, by apimons running "
        "side by side.", "",
        "| case | description | req/s (q/s) | p50 ms | p99 ms | non-2xx | socket errors | RSS MiB "
        "| server CPU % | mariadbd CPU % | noise % | status |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, c in cases.items():
        row = (name, c["description"], cell(c.get("requests_per_sec")), cell(c.get("latency_p50_ms")),
               cell(c.get("latency_p99_ms")), cell(c.get("errors")), cell(c.get("socket_errors")),
               cell(c.get("rss_mib")), cell(c.get("server_cpu_pct")), cell(c.get("mariadbd_cpu_pct")),
               cell(c.get("other_load_on_server_cpu_pct")), c["status"])
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "| check | value | target | result |", "|---|---:|---|---|"]
    for c in doc["checks"].values():
        lines.append(f"| {c['label']} | {cell(c.get('value'))} | {c['target']} | {c['result']} |")
    notes = [(name, c["note"]) for name, c in cases.items() if c.get("note")]
    if notes:
        lines += [""] + [f"- {name}: {note}" for name, note in notes]
    runs = [(name, c["requests_per_sec_runs"]) for name, c in cases.items() if c.get("requests_per_sec_runs")]
    if runs:
        lines += ["", "| case | req/s by run (round by round, pair by pair) | median |", "|---|---|---:|"]
        for name, values in runs:
            lines.append(f"| {name} | {' '.join(cell(v) for v in values)} | "
                         f"{cell(cases[name].get('requests_per_sec'))} |")
    for name, c in cases.items():
        for key, what in (("overhead_pct_runs", "overhead by pair (%, 1 - on/off)"),
                          ("cpu_cost_pct_runs", "more CPU per request by pair (%)"),
                          ("ratio_runs", "apimon / peer by pair"),
                          ("cpu_ratio_runs", "peer / apimon CPU per request by pair")):
            if c.get(key):
                lines += ["", f"{name}: {what}: {' '.join(cell(v) for v in c[key])}"]
    soaked = cases.get("soak", {})
    if soaked.get("per_minute"):
        soak_method = method["soak"]
        lines += ["", f"Soak: {soak_method['load']}; {soak_method['apimon']}. Samples {soak_method['samples']}. "
                  f"Bounds {soak_method['bounds']}.", "",
                  "| minute | RSS MiB min | RSS MiB max | fds min | fds max | threads min | threads max | req/s |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for m in soaked["per_minute"]:
            lines.append(f"| {m['minute']} | {cell(m['rss_mib_min'])} | {cell(m['rss_mib_max'])} | "
                         f"{cell(m['fds_min'])} | {cell(m['fds_max'])} | {cell(m['threads_min'])} | "
                         f"{cell(m['threads_max'])} | {cell(m['served_per_sec'])} |")
        lines += ["", f"After the first {soaked['warmup_s']} s ({soaked['samples_judged']} samples): RSS "
                      f"{cell(soaked['rss_baseline_mib'])} -> {cell(soaked['rss_last_mib'])} MiB "
                      f"({cell(soaked['rss_growth_mib'])} MiB, {cell(soaked['rss_growth_pct'])} %, trend "
                      f"{cell(soaked['rss_trend_kib_per_min'])} KiB/min), fds drift {cell(soaked['fds_drift'])} "
                      f"under load and {cell(soaked.get('fds_before_load'))} -> {cell(soaked.get('fds_after_load'))}"
                      " around it, "
                      f"threads drift {cell(soaked['threads_drift'])}; latency p50/p99 "
                      f"{cell(soaked.get('latency_p50_ms'))}/{cell(soaked.get('latency_p99_ms'))} ms (pokeload) vs "
                      f"{cell(soaked['server_latency_p50_ms'])}/{cell(soaked['server_latency_p99_ms'])} ms "
                      f"(apimon); verdict {soak.verdict(doc['checks'])}."]
    spans = cases.get("spans", {})
    benchmarks = _span_benchmarks(spans)
    if benchmarks:
        lines += ["", "| span benchmark | CPU ns | real ns | iterations |", "|---|---:|---:|---:|"]
        for b in benchmarks:
            lines.append(f"| {b} | {cell(spans.get(b + '_cpu_ns'))} | {cell(spans.get(b + '_real_ns'))} | "
                         f"{cell(spans.get(b + '_iterations'))} |")
    return "\n".join(lines) + "\n"


def write(settings, results):
    """Judges the targets, prints the report and writes results.json and results.md."""
    checks = judge(settings, results)
    print("\n".join(console(settings, results, checks)))
    noise = noisiest(settings, results)
    if noise > NOISE_WARNING_PERCENT:
        print(f"WARNING: other processes took up to {noise}% of CPU {settings.server_cpu} during a measured run; "
              "these figures are disturbed, rerun when the machine is quieter.", file=sys.stderr)
    doc = document(settings, results, checks)
    with open(os.path.join(settings.out, "results.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    with open(os.path.join(settings.out, "results.md"), "w") as f:
        f.write(markdown(doc))
    print(f"\nWrote {settings.out}/results.json and {settings.out}/results.md")
