"""scripts/bench (python/stackkit/bench): what it reads from wrk, sysbench
and Google Benchmark (samples captured from real runs), its arithmetic (the
soak's verdict too), its options, its report, and short real runs that prove
it measures, writes its report and stops everything it started, also when
interrupted. No test asserts a performance figure.
"""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from stackkit import exposition
from stackkit.bench import (
    apimon,
    comparisons,
    launch,
    paired,
    parse,
    peer,
    pinning,
    procfs,
    report,
    soak,
    span_sink,
    stats,
)
from stackkit.bench.results import Results
from stackkit.bench.settings import CASES, UsageError
from stackkit.bench.settings import parse as parse_settings
from stackkit.server import http_request

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "scripts" / "bench"

WRK_CLEAN = """\
Running 1s test @ http://127.0.0.1:44191
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.38ms    2.85ms  18.41ms   80.36%
    Req/Sec    20.49k     1.70k   22.06k    90.00%
  Latency Distribution
     50%    2.45ms
     75%    5.06ms
     90%    7.74ms
     99%   11.06ms
  20535 requests in 1.01s, 6.76MB read
Requests/sec:  20323.86
Transfer/sec:      6.69MB
"""

WRK_NOT_FOUND = """\
Running 1s test @ http://127.0.0.1:38111/pokemon/0
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.74ms    2.36ms  14.81ms   87.04%
    Req/Sec     5.08k     1.03k    6.22k    70.00%
  Latency Distribution
     50%  290.00us
     75%    2.81ms
     90%    4.78ms
     99%   10.60ms
  5151 requests in 1.02s, 1.24MB read
  Non-2xx or 3xx responses: 5151
Requests/sec:   5048.58
Transfer/sec:      1.22MB
"""

WRK_SOCKET_ERRORS = """\
Running 1s test @ http://127.0.0.1:38113/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   319.49us  659.11us   7.12ms   93.02%
    Req/Sec     3.67k     1.72k    5.99k    70.00%
  Latency Distribution
     50%  170.00us
     75%  211.00us
     90%  294.00us
     99%    3.56ms
  3660 requests in 1.01s, 142.97KB read
  Socket errors: connect 0, read 7320, write 0, timeout 0
Requests/sec:   3627.25
Transfer/sec:    141.69KB
"""

SYSBENCH = """\
sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)

Running the test with following options:
Number of threads: 64
Initializing random number generator from current time


Initializing worker threads...

Threads started!

SQL statistics:
    queries performed:
        read:                            22110
        write:                           0
        other:                           0
        total:                           22110
    transactions:                        22110  (10858.41 per sec.)
    queries:                             22110  (10858.41 per sec.)
    ignored errors:                      0      (0.00 per sec.)
    reconnects:                          0      (0.00 per sec.)

General statistics:
    total time:                          2.0359s
    total number of events:              22110

Latency (ms):
         min:                                    0.03
         avg:                                    5.82
         max:                                   73.53
         99th percentile:                       20.74
         sum:                               128590.41

Threads fairness:
    events (avg/stddev):           345.4688/19.43
    execution time (avg/stddev):   2.0092/0.01
"""

# telemetry_bench --benchmark_repetitions=2 --benchmark_format=json, its first entries.
BENCHMARK_JSON = """\
{"benchmarks": [
  {"name": "span_sampled_out", "family_index": 0, "per_family_instance_index": 0, "run_name": "span_sampled_out",
   "run_type": "iteration", "repetitions": 2, "repetition_index": 0, "threads": 1, "iterations": 1196735,
   "real_time": 78.40719540981247, "cpu_time": 10.870278716674955, "time_unit": "ns"},
  {"name": "span_sampled_out", "family_index": 0, "per_family_instance_index": 0, "run_name": "span_sampled_out",
   "run_type": "iteration", "repetitions": 2, "repetition_index": 1, "threads": 1, "iterations": 1196735,
   "real_time": 44.930997254427574, "cpu_time": 11.415559835719687, "time_unit": "ns"},
  {"name": "span_sampled_out_mean", "family_index": 0, "per_family_instance_index": 0,
   "run_name": "span_sampled_out", "run_type": "aggregate", "repetitions": 2, "threads": 1,
   "aggregate_name": "mean", "aggregate_unit": "time", "iterations": 2, "real_time": 61.66909633212003,
   "cpu_time": 11.142919276197322, "time_unit": "ns"}
]}
"""

# apimon's /metrics with telemetry on, the span pipeline's series.
SPAN_METRICS = """\
# TYPE otel_sdk_spans_dropped_total counter
otel_sdk_spans_dropped_total{reason="export_failed"} 0
otel_sdk_spans_dropped_total{reason="queue_full"} 12893
otel_sdk_spans_exported_total 2560
otel_sdk_spans_started_total{sampled="false"} 319142
otel_sdk_spans_started_total{sampled="true"} 3116
"""


# ------------------------------------------------------------ tool output --

def test_a_clean_wrk_run():
    report = parse.wrk_report(WRK_CLEAN)
    assert report == parse.WrkReport(requests_per_sec=20323.86, requests=20535, latency_p50_ms=2.45,
                                      latency_p99_ms=11.06, non_2xx=0, socket_errors=0)
    assert report.failures == 0


def test_wrk_non_2xx_responses_and_microsecond_latencies():
    report = parse.wrk_report(WRK_NOT_FOUND)
    assert (report.non_2xx, report.socket_errors, report.failures) == (5151, 0, 5151)
    assert report.latency_p50_ms == 0.29 and report.latency_p99_ms == 10.6
    assert report.requests == 5151 and report.requests_per_sec == 5048.58


def test_wrk_socket_errors_are_summed():
    report = parse.wrk_report(WRK_SOCKET_ERRORS)
    assert (report.non_2xx, report.socket_errors) == (0, 7320)
    assert report.latency_p50_ms == 0.17


def test_wrk_output_without_a_result():
    report = parse.wrk_report("unable to connect to 127.0.0.1:38112 Connection refused\n")
    assert report.requests_per_sec is None and report.requests is None and report.latency_p99_ms is None


@pytest.mark.parametrize(("text", "ms"), [("812.00us", 0.812), ("1.03ms", 1.03), ("1.20s", 1200.0),
                                          ("1.00m", 60000.0), ("0.50h", 1800000.0), ("7", None), ("fast", None)])
def test_wrk_latency_units(text, ms):
    assert parse.latency_ms(text) == ms


def test_sysbench_report():
    assert parse.sysbench_report(SYSBENCH) == parse.SysbenchReport(
        queries_per_sec=10858.41, queries=22110, latency_p99_ms=20.74, ignored_errors=0, reconnects=0)


def test_benchmark_timings_skip_aggregates():
    timings = parse.benchmark_timings(BENCHMARK_JSON)
    assert timings == [parse.BenchmarkTiming("span_sampled_out", 10.9, 78.4, 1196735),
                       parse.BenchmarkTiming("span_sampled_out", 11.4, 44.9, 1196735)]


def test_span_counts_sum_every_series():
    assert parse.span_counts(SPAN_METRICS) == parse.SpanCounts(sampled=3116, not_sampled=319142, exported=2560,
                                                               dropped=12893)


# ------------------------------------------------------------ arithmetic --

def test_medians():
    assert stats.median([]) is None
    assert stats.median([3, 1, 2]) == 2 and isinstance(stats.median([3, 1, 2]), int)
    assert stats.median([75995.12, 77283.45, 70001.5]) == 75995.12
    assert stats.median([99, 98]) == 98.5
    assert stats.median([99, 99]) == 99 and isinstance(stats.median([99, 99]), int)
    assert stats.median([0.1234, 0.2345]) == 0.179


def test_ratios_and_overheads():
    assert stats.ratio(154272, 151685) == 1.017
    assert stats.ratio(22903, 36612) == 0.626
    assert stats.ratio(None, 1) is None and stats.ratio(1, 0) is None
    assert stats.overhead_percent(72929, 77283) == 5.63
    assert stats.overhead_percent(80000, 78000) == -2.56
    assert stats.overhead_percent(1, 0) is None


def test_histogram_quantiles_interpolate_inside_their_bucket():
    buckets = {0.005: 50, 0.01: 90, 0.025: 100, float("inf"): 100}
    assert stats.histogram_quantile(0.5, buckets) == pytest.approx(0.005)
    assert stats.histogram_quantile(0.99, buckets) == pytest.approx(0.01 + 0.015 * 9 / 10)
    assert stats.histogram_quantile(0.25, buckets) == pytest.approx(0.0025)
    assert stats.histogram_quantile(0.99, {0.1: 90, float("inf"): 100}) is None  # in the +Inf bucket
    assert stats.histogram_quantile(0.5, {0.1: 0, float("inf"): 0}) is None
    assert stats.histogram_quantile(0.5, {}) is None


def test_least_squares_trend_per_minute():
    assert stats.slope_per_minute([(0, 100), (60, 110), (120, 120)]) == pytest.approx(10)
    assert stats.slope_per_minute([(0, 100), (30, 90), (60, 100), (90, 90)]) == pytest.approx(-4)
    assert stats.slope_per_minute([(5, 1)]) is None
    assert stats.slope_per_minute([(5, 1), (5, 2)]) is None


def test_cpu_shares():
    assert stats.cpu_percent(100, 199, 1.0, 100) == 99
    assert stats.cpu_percent(None, 199, 1.0, 100) is None
    assert stats.noise_percent(busy_seconds=1.0, measured_seconds=0.9, seconds=1.0) == 10
    assert stats.noise_percent(busy_seconds=0.9, measured_seconds=1.0, seconds=1.0) == 0
    assert stats.mib(9316) == 9.1


# --------------------------------------------------------------- options --

ALL_CPUS = frozenset({0, 1})


def settings_of(*argv, allowed=ALL_CPUS, **environ):
    return parse_settings(list(argv), environ, allowed)


def test_defaults():
    s = settings_of()
    assert s.cases == CASES and CASES[-1] == "soak"
    assert (s.duration, s.warmup, s.db_pool, s.rounds, s.pairs, s.slice) == (10, 2, 8, 3, 6, 3)
    assert (s.soak_duration, s.soak_warmup, s.soak_interval, s.soak_rate) == (600, 60, 5, 200)
    assert s.seed_workers == 2
    assert (s.server_cpu, s.client_cpu, s.mariadb_cpus) == (1, 0, {0, 1})
    assert s.out == str(REPO / "build" / "bench")


def test_environment_and_flags():
    s = settings_of("--duration", "4", "--out", "/tmp/elsewhere", BENCH_DURATION="7", BENCH_WARMUP="0",
                    BENCH_TELEMETRY_SLICE="2", BENCH_OUT="relative/out", APIMON_BIN="/opt/apimon")
    assert (s.duration, s.warmup, s.slice) == (4, 0, 2)  # a flag wins over its variable
    assert s.out == "/tmp/elsewhere" and s.apimon == "/opt/apimon"
    assert settings_of(BENCH_OUT="relative/out").out == str(REPO / "relative" / "out")


def test_only_keeps_the_run_order():
    assert settings_of("--only", "spans,nginx").cases == ("nginx", "spans")
    assert settings_of("--only=telemetry-on").cases == ("telemetry-on",)


@pytest.mark.parametrize(("argv", "environ", "says"), [
    (["--duration", "0"], {}, "--duration ($BENCH_DURATION) must be a whole number of 1 or more, not '0'"),
    ([], {"BENCH_DURATION": "ten"}, "--duration ($BENCH_DURATION) must be a whole number of 1 or more, not 'ten'"),
    (["--warmup", "-1"], {}, "--warmup ($BENCH_WARMUP) must be a whole number of 0 or more"),
    (["--db-pool", "257"], {}, "--db-pool ($BENCH_DB_POOL) must be a whole number from 1 to 256, not '257'"),
    ([], {"BENCH_TELEMETRY_ROUNDS": "0"}, "--telemetry-rounds ($BENCH_TELEMETRY_ROUNDS) must be a whole number"),
    (["--telemetry-pairs", "101"], {}, "--telemetry-pairs ($BENCH_TELEMETRY_PAIRS) must be a whole number from 1"),
    (["--telemetry-slice", "601"], {}, "--telemetry-slice ($BENCH_TELEMETRY_SLICE) must be a whole number from 1"),
    (["--server-cpu", "0"], {}, "must be two different CPUs, not both 0"),
    (["--client-cpu", "2"], {}, "CPU 2 is not available to this process (allowed: 0,1)"),
    (["--mariadb-cpus", "1-0"], {}, "--mariadb-cpus ($BENCH_MARIADB_CPUS) must be a CPU list like 0,1 or 0-3"),
    (["--only", "nginx,foo"], {}, "unknown case 'foo' (known: nginx, nginx-log, sqlite,"),
    (["--seed-workers", "0"], {}, "--seed-workers ($BENCH_SEED_WORKERS) must be a whole number from 1 to 64, not '0'"),
    ([], {"BENCH_SEED_WORKERS": "65"}, "--seed-workers ($BENCH_SEED_WORKERS) must be a whole number from 1 to 64"),
    (["--only", "seed", "--mariadb-cpus", "0-3"], {}, "CPU 2,3 is not available"),
    (["--soak-rate", "0"], {}, "--soak-rate ($BENCH_SOAK_RATE) must be a whole number from 1 to 100000, not '0'"),
    ([], {"BENCH_SOAK_INTERVAL": "0"}, "--soak-interval ($BENCH_SOAK_INTERVAL) must be a whole number from 1"),
    (["--soak-duration", "1"], {}, "--soak-duration ($BENCH_SOAK_DURATION) must be a whole number from 2"),
    (["--soak-duration", "60"], {}, "--soak-warmup ($BENCH_SOAK_WARMUP) must be shorter than --soak-duration"),
    (["--only", "soak", "--soak-warmup", "30", "--soak-duration", "30"], {}, "30 s of 30 s leave nothing to judge"),
    (["--only", ","], {}, "--only needs at least one case"),
    (["--bogus"], {}, "unrecognized arguments: --bogus"),
    (["--duration"], {}, "expected one argument"),
])
def test_bad_options_are_named(argv, environ, says):
    with pytest.raises(UsageError) as error:
        settings_of(*argv, **environ)
    assert says in str(error.value)


def test_the_soak_warmup_is_checked_only_when_the_soak_runs():
    assert settings_of("--only", "nginx", "--soak-duration", "30").soak_duration == 30
    s = settings_of("--only", "soak", BENCH_SOAK_DURATION="20", BENCH_SOAK_WARMUP="5", BENCH_SOAK_INTERVAL="2",
                    BENCH_SOAK_RATE="50", POKELOAD_BIN="/opt/pokeload")
    assert (s.soak_duration, s.soak_warmup, s.soak_interval, s.soak_rate, s.pokeload) == (20, 5, 2, 50,
                                                                                           "/opt/pokeload")


def test_mariadb_cpus_must_be_available_only_for_the_mariadb_cases():
    assert settings_of("--only", "sqlite", BENCH_MARIADB_CPUS="0-3").mariadb_cpus == {0, 1, 2, 3}
    with pytest.raises(UsageError, match=r"CPU 2,3 is not available"):
        settings_of("--only", "sysbench", BENCH_MARIADB_CPUS="0-3")


def run_bench(*argv, timeout=60, **environ):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env.update(environ)
    return subprocess.run([str(BENCH), *argv], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("argv", [["--duration", "0"], ["--only", "bogus"], ["--server-cpu", "x"], ["extra"]])
def test_bad_options_exit_2_before_anything_starts(argv):
    result = run_bench(*argv)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("bench: ") and result.stderr.rstrip().endswith("(see --help)")
    assert result.stdout == ""


def test_help():
    result = run_bench("--help")
    assert result.returncode == 0
    text = "".join(result.stdout.split())  # as argparse wraps it, at hyphens too
    for words in ("--only", "BENCH_DURATION", "BENCH_TELEMETRY_PAIRS", "BENCH_MARIADB_CPUS", "docs/performance.md",
                  "--soak-duration", "BENCH_SOAK_RATE", "POKELOAD_BIN", "--seed-workers", "BENCH_SEED_WORKERS",
                  "nginx,nginx-log,sqlite", "access-log,always-on,always-on-jaeger,configured,seed"):
        assert words in text


def test_missing_binary_exits_1_naming_it(tmp_path):
    result = run_bench("--only", "rss", "--out", str(tmp_path), APIMON_BIN=str(tmp_path / "no-apimon"))
    assert result.returncode == 1
    assert f"bench: no apimon binary at {tmp_path / 'no-apimon'}" in result.stderr
    result = run_bench("--only", "soak", "--out", str(tmp_path), POKELOAD_BIN=str(tmp_path / "no-pokeload"))
    assert result.returncode == 1
    assert f"bench: no pokeload binary at {tmp_path / 'no-pokeload'}" in result.stderr


# ---------------------------------------------------------------- report --

def measured_settings(*cases):
    return settings_of("--only", ",".join(cases), "--telemetry-rounds", "1", "--telemetry-pairs", "2")


def ok(results, name, **figures):
    for key, value in figures.items():
        setattr(results[name], key, value)
    results[name].status = "ok"


def test_targets_pass_miss_skip_and_n_a():
    settings = measured_settings("nginx", "sqlite-cache", "rss", "telemetry-off", "telemetry-on")
    results = Results()
    ok(results, "nginx", requests_per_sec=150000.0)
    ok(results, "sqlite-cache", requests_per_sec=100000.0)
    ok(results, "rss", rss_mib=9.1)
    results.fail("telemetry-on", "the Jaeger fixture did not start")
    checks = report.judge(settings, results)
    assert checks["cache_vs_nginx"] == {"label": "apimon sqlite-cache / nginx (req/s)", "value": 0.667,
                                        "target": ">= 0.75", "result": "MISS"}
    assert checks["idle_rss"]["value"] == 9.1 and checks["idle_rss"]["result"] == "PASS"
    assert checks["mariadb_vs_sysbench"]["result"] == "skipped"
    assert checks["telemetry_overhead"] == {"label": "telemetry overhead, median of pairs' 1 - on/off req/s (%)",
                                            "value": None, "target": "<= 5", "result": "n/a (telemetry-off failed)"}
    assert results.failed


def test_telemetry_overhead_is_the_median_over_pairs():
    settings = measured_settings("telemetry-off", "telemetry-on")
    results = Results()
    for pair, (off, on) in enumerate([(80000.0, 76000.0), (78000.0, 77000.0)], start=1):
        ok(results, f"telemetry-off.r1.p{pair}", requests_per_sec=off)
        ok(results, f"telemetry-on.r1.p{pair}", requests_per_sec=on)
    ok(results, "telemetry-off")
    ok(results, "telemetry-on")
    checks = report.judge(settings, results)
    assert results["telemetry-on"].extra["overhead_pct_runs"] == [5.0, 1.28]
    assert checks["telemetry_overhead"]["value"] == 3.1 and checks["telemetry_overhead"]["result"] == "PASS"


def test_results_json_and_markdown():
    settings = measured_settings("sqlite", "sysbench", "spans")
    results = Results()
    ok(results, "sqlite", requests_per_sec=75995.12, requests=759950, latency_p50_ms=0.81, latency_p99_ms=1.34,
       errors=0, socket_errors=0, rss_mib=9.5, server_cpu_pct=99, other_load_on_server_cpu_pct=1)
    results.fail("sysbench", "the MariaDB fixture did not start")
    ok(results, "spans", note="CPU time per span")
    results["spans"].extra.update(span_sampled_cpu_ns=141.5, span_sampled_real_ns=200.1, span_sampled_iterations=5,
                                  span_sampled_out_cpu_ns=16.1, span_sampled_out_real_ns=16.2,
                                  span_sampled_out_iterations=7)
    doc = report.document(settings, results, report.judge(settings, results), generated_at="2026-12-06T05:00:00Z")
    assert doc["ok"] is False
    assert list(doc["cases"]) == ["sqlite", "sysbench", "spans"]
    assert list(doc["cases"]["sqlite"]) == [
        "description", "status", "requests_per_sec", "requests", "latency_p50_ms", "latency_p99_ms", "errors",
        "socket_errors", "rss_mib", "server_cpu_pct", "mariadbd_cpu_pct", "span_backend_cpu_pct",
        "other_load_on_server_cpu_pct"]
    assert doc["cases"]["sysbench"]["note"] == "the MariaDB fixture did not start"
    assert doc["cases"]["spans"]["span_sampled_out_cpu_ns"] == 16.1
    assert doc["checks"]["span_sampled"] == {"label": "span_sampled, CPU time (ns)", "value": 141.5,
                                             "target": "<= 300", "result": "PASS"}
    assert doc["method"]["telemetry"]["rounds"] == 1 and doc["method"]["mariadbd_cpus"] == "0,1"
    assert json.loads(json.dumps(doc)) == doc

    lines = report.markdown(doc).splitlines()
    assert lines[0] == "# apimon benchmark"
    assert lines[2].startswith("Generated 2026-12-06T05:00:00Z; 10 s per case after 2 s warm-up; wrk -t1 -c64")
    assert ("| sqlite | apimon SQLite, no cache | 75995.12 | 0.81 | 1.34 | 0 | 0 | 9.5 | 99 | - | 1 | ok |"
            in lines)
    assert "| sysbench | sysbench point-select (DB ceil.) | - | - | - | - | - | - | - | - | - | failed |" in lines
    assert "| apimon mariadb / sysbench point-select (req/s per q/s) | - | >= 0.8 | skipped |" in lines
    assert "| span_sampled_out, CPU time (ns) | 16.1 | <= 50 | PASS |" in lines
    assert "- sysbench: the MariaDB fixture did not start" in lines
    assert "| span_sampled | 141.5 | 200.1 | 5 |" in lines

    console = report.console(settings, results, doc["checks"])
    assert any(line.split()[:3] == ["sqlite", "apimon", "SQLite,"] and line.split()[-1] == "ok" for line in console)
    rss_line = ["apimon", "idle", "RSS", "(MiB)", "-", "target", "<=", "10", "skipped"]
    assert rss_line in [line.split() for line in console]


# --------------------------------------------------------- paired cases --

def test_the_report_rows_put_each_comparisons_other_side_before_its_case():
    assert comparisons.rows(("nginx", "nginx-log", "telemetry-off", "telemetry-on", "access-log", "always-on",
                             "always-on-jaeger", "configured", "seed")) == [
        "nginx", "nginx-log-off", "nginx-log", "telemetry-off", "telemetry-on", "access-log-off", "access-log",
        "always-on-off", "always-on", "always-on-jaeger-off", "always-on-jaeger", "configured", "seed-apimon", "seed"]
    assert comparisons.rows(("telemetry-on",)) == ["telemetry-on"]  # telemetry's sides are cases of their own
    assert set(comparisons.BY_CASE) == {"telemetry-off", "telemetry-on", "nginx-log", "access-log", "always-on",
                                        "always-on-jaeger", "seed"}
    assert set(comparisons.BY_CASE) < set(CASES)


def test_only_a_selected_telemetry_side_is_measured_but_both_sides_of_the_others():
    sides = paired.measured_sides
    assert [s.name for s in sides(settings_of("--only", "telemetry-on"), comparisons.TELEMETRY)] == ["telemetry-on"]
    assert [s.name for s in sides(settings_of("--only", "access-log"), comparisons.ACCESS_LOG)] == [
        "access-log-off", "access-log"]
    seed = comparisons.SEED
    assert [s.name for s in sides(settings_of("--only", "seed"), seed)] == ["seed", "seed-apimon"]
    assert seed.mariadb and all(side.traced for side in seed.sides)
    assert set(seed.traced_services) == {"apimon-bench", peer.SERVICE}
    assert comparisons.ACCESS_LOG.variant.access_log and not comparisons.ACCESS_LOG.traced_services


def paired_runs(results, comparison, pairs, cpu=None):
    """Runs of one round: (base, variant) req/s by pair, and CPU µs per request if given."""
    for number, (base, variant) in enumerate(pairs, start=1):
        for side, rate, index in ((comparison.base, base, 0), (comparison.variant, variant, 1)):
            ok(results, f"{side.name}.r1.p{number}", requests_per_sec=rate)
            if cpu:
                results[f"{side.name}.r1.p{number}"].extra["cpu_us_per_request"] = cpu[number - 1][index]
    for side in comparison.sides:
        ok(results, side.name)


def test_pair_values_overhead_ratio_and_cpu_cost():
    settings = measured_settings("access-log", "seed")
    results = Results()
    paired_runs(results, comparisons.ACCESS_LOG, [(80000.0, 76000.0), (78000.0, 78780.0)],
                cpu=[(12.5, 13.0), (12.8, None)])
    assert comparisons.pair_values(settings, results, comparisons.ACCESS_LOG) == [5.0, -1.0]
    assert comparisons.pair_values(settings, results, comparisons.ACCESS_LOG, "cpu_cost") == [4.0]
    paired_runs(results, comparisons.SEED, [(600.0, 21000.0), (500.0, 20000.0)], cpu=[(1100.0, 44.0), (990.0, None)])
    assert comparisons.pair_values(settings, results, comparisons.SEED, "ratio") == [35.0, 40.0]
    assert comparisons.pair_values(settings, results, comparisons.SEED, "cpu_ratio") == [25.0]
    ok(results, "seed.r1.p2", requests_per_sec=None)  # a pair with a figure missing is left out
    assert comparisons.pair_values(settings, results, comparisons.SEED, "ratio") == [35.0]


def test_the_new_targets_judge_their_pairs():
    settings = measured_settings("nginx", "nginx-log", "sqlite", "access-log", "always-on", "always-on-jaeger",
                                 "configured", "seed")
    results = Results()
    ok(results, "nginx", requests_per_sec=150000.0)
    ok(results, "sqlite", requests_per_sec=119000.0)
    ok(results, "configured", requests_per_sec=60000.0)
    paired_runs(results, comparisons.NGINX_LOG, [(150000.0, 147000.0), (151000.0, 150000.0)],
                cpu=[(5.0, 5.2), (5.0, 5.1)])
    paired_runs(results, comparisons.ACCESS_LOG, [(80000.0, 76400.0), (80000.0, 75120.0)],
                cpu=[(12.5, 13.0), (12.5, 13.25)])
    paired_runs(results, comparisons.ALWAYS_ON, [(80000.0, 68000.0), (80000.0, 67200.0)],
                cpu=[(12.5, 14.5), (12.5, 14.75)])
    paired_runs(results, comparisons.ALWAYS_ON_JAEGER, [(80000.0, 44000.0), (80000.0, 40000.0)])
    paired_runs(results, comparisons.SEED, [(700.0, 21000.0), (800.0, 20000.0)], cpu=[(1000.0, 50.0), (990.0, 45.0)])
    checks = report.judge(settings, results)
    summary = {key: (c["value"], c["target"], c["result"]) for key, c in checks.items()
               if c["result"] != "skipped"}
    assert summary == {
        "sqlite_vs_nginx": (0.793, ">= 0.8", "MISS"),
        "nginx_log_cost": (1.3, "-", "reported"),
        "nginx_log_cpu_cost": (3.0, "-", "reported"),
        "access_log_overhead": (5.3, "<= 5", "MISS"),
        "access_log_cpu_cost": (5.0, "-", "reported"),
        "always_on_overhead": (15.5, "<= 15", "MISS"),
        "always_on_cpu_cost": (17.0, "-", "reported"),
        "always_on_jaeger_overhead": (47.5, "-", "reported"),
        "configured_vs_nginx": (0.4, "-", "reported"),
        "apimon_vs_seed": (27.5, ">= 30", "MISS"),
        "seed_cpu_vs_apimon": (21.0, "-", "reported")}
    assert results["access-log"].extra["overhead_pct_runs"] == [4.5, 6.1]
    assert results["seed"].extra["ratio_runs"] == [30.0, 25.0]
    assert not results.failed

    results["nginx"].requests_per_sec = 148000.0
    paired_runs(results, comparisons.ACCESS_LOG, [(80000.0, 76400.0), (80000.0, 76000.0)])
    paired_runs(results, comparisons.ALWAYS_ON, [(80000.0, 68000.0), (80000.0, 68400.0)])
    paired_runs(results, comparisons.SEED, [(700.0, 21000.0), (600.0, 21000.0)])
    checks = report.judge(settings, results)
    assert [checks[key]["result"] for key in ("sqlite_vs_nginx", "access_log_overhead", "always_on_overhead",
                                              "apimon_vs_seed")] == ["PASS"] * 4


class SinkBench:
    """What span_sink needs of a bench: a temporary directory, the settings'
    client CPU, and start(), whose processes close() stops."""

    def __init__(self, tmp):
        self.tmp, self.processes = str(tmp), []
        self.settings = measured_settings("always-on")

    def start(self, argv, output, cpus, env=None):
        process = launch.start(argv, output, cpus, env)
        self.processes.append(process)
        return process

    def close(self):
        for process in self.processes:
            launch.stop(process)


def test_the_span_sink_accepts_otlp_exports_and_counts_them(tmp_path):
    """A real nginx: an export of 300 KiB answered 200 with an empty body (an
    empty ExportTraceServiceResponse), anything else refused and counted so,
    and the counts read from its log once it has stopped."""
    bench = SinkBench(tmp_path)
    try:
        sink = span_sink.start(bench)
        assert sink is not None
        body = bytes(300 * 1024)
        for _ in range(3):
            status, answer = http_request(sink.otlp_http_endpoint + "/v1/traces", method="POST", body=body,
                                          headers={"Content-Type": "application/x-protobuf"}, timeout=10)
            assert (status, answer) == (200, b"")
        assert http_request(sink.otlp_http_endpoint + "/v1/metrics", method="POST", body=b"x", timeout=10)[0] == 404
        received = span_sink.stop(sink)
    finally:
        bench.close()
    assert (received.exports, received.refused) == (3, 1)
    assert received.bytes == 3 * len(body)


def test_the_span_sink_log_is_read_line_by_line(tmp_path):
    log = tmp_path / "exports.log"
    log.write_text("POST /v1/traces 200 1000\nPOST /v1/traces 200 24\nGET /healthz 200 80\n"
                   "POST /v1/traces 413 999\nPOST /v1/logs 404 10\ngarbage\n")
    assert span_sink.received(str(log)) == span_sink.Received(exports=2, refused=3, bytes=1024)
    assert span_sink.received(str(tmp_path / "none")) == span_sink.Received()


@pytest.mark.parametrize("exports, exported, dropped, refused, failure", [
    (40, 20000, 0, 0, None),
    (40, 20000, 20, 0, None),  # 0.1 % of 20,000 dropped: still the whole cost
    (40, 20000, 21, 0, "the sink did not keep up"),
    (0, 0, 0, 0, "nothing was traced"),
    (40, 20000, 0, 2, "refused 2 requests"),
])
def test_always_on_against_the_sink_fails_unless_every_span_got_there(exports, exported, dropped, refused, failure):
    settings = measured_settings("always-on")
    results = Results()
    paired_runs(results, comparisons.ALWAYS_ON, [(80000.0, 68000.0), (80000.0, 67200.0)])
    bench = dataclasses.make_dataclass("B", ["settings", "results"])(settings, results)
    totals = paired.SpanTotals(counts=parse.SpanCounts(sampled=20000, exported=exported, dropped=dropped))
    received = span_sink.Received(exports=exports, refused=refused, bytes=exports * 100000)
    paired.check_sink(bench, received, totals, comparisons.ALWAYS_ON)
    extra = results["always-on"].extra
    assert (extra["sink_exports"], extra["spans_dropped"]) == (exports, dropped)
    if failure is None:
        assert results.ok("always-on")
    else:
        assert not results.ok("always-on") and failure in results.note("always-on")


def test_the_unchanged_and_changed_limits():
    limits = {target.key: target.limit for target in report.TARGETS}
    assert limits["sqlite_vs_nginx"] == ">= 0.8" and limits["mariadb_vs_sysbench"] == ">= 0.8"
    assert limits["cache_vs_nginx"] == ">= 0.75" and limits["idle_rss"] == "<= 10"
    assert limits["telemetry_overhead"] == "<= 5" and limits["access_log_overhead"] == "<= 5"
    assert limits["always_on_overhead"] == "<= 15" and limits["apimon_vs_seed"] == ">= 30"
    assert limits["configured_vs_nginx"] is None and limits["nginx_log_cost"] is None
    assert limits["always_on_jaeger_overhead"] is None  # reported: Jaeger's CPU is wrk's on two cores


def test_the_report_has_both_sides_of_each_pair():
    settings = measured_settings("access-log", "seed")
    results = Results()
    paired_runs(results, comparisons.ACCESS_LOG, [(80000.0, 76000.0), (78000.0, 77000.0)], cpu=[(12.5, 13.0)] * 2)
    paired_runs(results, comparisons.SEED, [(700.0, 21000.0), (800.0, 20000.0)])
    for name, figures in (("access-log-off", (79000, 0.8, 1.2)), ("access-log", (76500, 0.85, 1.4)),
                          ("seed", (750, 80.0, 120.0)), ("seed-apimon", (20500, 2.9, 5.1))):
        ok(results, name, requests_per_sec=figures[0], latency_p50_ms=figures[1], latency_p99_ms=figures[2])
    results["access-log-off"].extra["cpu_us_per_request"] = 12.6
    results["access-log"].extra["cpu_us_per_request"] = 13.1
    results["seed"].extra.update(spans_sampled=40000, spans_not_sampled=0, spans_exported_before_shutdown=39000,
                                 spans_dropped=0)
    checks = report.judge(settings, results)
    lines = report.console(settings, results, checks)
    names = [line.split()[0] for line in lines if line.split() and line.split()[-1] == "ok"]
    assert names == ["access-log-off", "access-log", "seed-apimon", "seed"]
    assert ("access-log: access-log-off 79000 req/s p50/p99 0.8/1.2 ms 12.6 us CPU/req vs access-log 76500 req/s "
            "p50/p99 0.85/1.4 ms 13.1 us CPU/req") in lines
    assert any(line.startswith("seed: seed 750 req/s p50/p99 80.0/120.0 ms") and "vs seed-apimon 20500 req/s" in line
               for line in lines), lines
    assert any(line.startswith("seed: Jaeger used") and "sampled 40000 spans" in line for line in lines), lines
    assert "access-log req/s by run: 76000.0 77000.0" in lines
    doc = report.document(settings, results, checks, generated_at="2026-12-06T05:00:00Z")
    assert list(doc["cases"]) == ["access-log-off", "access-log", "seed-apimon", "seed"]
    assert "always_on" in doc["method"]["telemetry"] and "gunicorn 2 sync" in doc["method"]["telemetry"]["seed"]
    markdown = report.markdown(doc).splitlines()
    assert "access-log: overhead by pair (%, 1 - on/off): 5.0 1.28" in markdown
    assert "access-log: more CPU per request by pair (%): 4.0 4.0" in markdown
    assert "seed: apimon / peer by pair: 30.0 25.0" in markdown
    assert "| apimon / seed peer, both traced, MariaDB (req/s, pairs) | 27.5 | >= 30 | MISS |" in markdown


def test_cpu_per_request_and_process_groups():
    assert stats.cpu_us_per_request(0.99, 75000) == 13.2
    assert stats.cpu_us_per_request(None, 75000) is None and stats.cpu_us_per_request(1.0, 0) is None
    me, parent = os.getpid(), os.getppid()
    assert procfs.cpu_ticks((me, parent)) >= procfs.cpu_ticks(me)
    assert procfs.rss_kib((me, me)) == pytest.approx(2 * procfs.rss_kib(me), rel=0.1)
    assert procfs.cpu_ticks((me, 2**22 + 1)) is None and procfs.rss_kib((me, 2**22 + 1)) is None


def test_samplers_of_the_traced_cases(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")  # inherited settings never leak in
    ratio = apimon.environment("http://127.0.0.1:4318")
    assert (ratio["OTEL_TRACES_SAMPLER"], ratio["OTEL_TRACES_SAMPLER_ARG"]) == ("parentbased_traceidratio", "0.01")
    always = apimon.environment("http://127.0.0.1:4318", sampler=apimon.ALWAYS_ON)
    assert always["OTEL_TRACES_SAMPLER"] == "always_on" and "OTEL_TRACES_SAMPLER_ARG" not in always
    default = apimon.environment("http://127.0.0.1:4318", sampler=apimon.DEFAULT_SAMPLER)
    assert "OTEL_TRACES_SAMPLER" not in default and "OTEL_TRACES_SAMPLER_ARG" not in default
    assert default["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
    assert apimon.environment()["OTEL_SDK_DISABLED"] == "true"
    env = peer.environment("mysql://app@127.0.0.1:3306/pokedex", "/run/pw", "/tmp/m", "http://127.0.0.1:4318")
    assert (env["OTEL_TRACES_SAMPLER"], env["OTEL_SERVICE_NAME"]) == ("always_on", peer.SERVICE)
    assert "OTEL_TRACES_SAMPLER_ARG" not in env and env["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/m"
    assert peer.environment("mysql://a@h:1/d", "/pw", "/m")["OTEL_SDK_DISABLED"] == "true"
    argv = peer.argv(5000, workers=3)
    assert argv[0].endswith("/seed-venv/bin/gunicorn") and argv[-4:] == ["--bind", "127.0.0.1:5000", "--workers", "3"]


def test_access_log_lines_are_counted_and_the_end_kept(tmp_path):
    log = tmp_path / "apimon.log"
    log.write_bytes(b"".join(b'{"level":"info","message":"request","status":200,"n":%d}\n' % i for i in range(120))
                    + b'{"level":"info","message":"stopping"}\n')
    lines, tail = paired.count_access_lines(str(log))
    assert lines == 120 and len(tail) == paired.LOG_TAIL_LINES
    assert tail[-1].startswith(b'{"level":"info","message":"stopping"}') and b'"n":119' in tail[-2]


# ------------------------------------------------------------------ soak --

def sample(t_s, rss_kib, fds=20, threads=6, served=None):
    return soak.Sample(t_s=t_s, rss_kib=rss_kib, fds=fds, threads=threads, served=served)


def test_soak_growth_leaves_out_the_warmup():
    samples = [sample(0, 10_000, fds=12, threads=4),   # start-up: left out
               sample(30, 15_000, fds=30, threads=5),  # warm-up: left out
               sample(60, 20_480, fds=20, threads=6),  # the baseline
               sample(120, 21_504, fds=23, threads=6),
               soak.Sample(t_s=150, rss_kib=None, fds=None, threads=None),  # a failed look is not judged
               sample(180, 22_528, fds=18, threads=7)]
    assert soak.growth(samples, warmup=60) == {
        "warmup_s": 60, "samples_judged": 3, "baseline_t_s": 60, "rss_baseline_mib": 20.0, "rss_last_mib": 22.0,
        "rss_growth_mib": 2.0, "rss_growth_pct": 10.0, "rss_peak_growth_mib": 2.0, "rss_trend_kib_per_min": 1024.0,
        "fds_baseline": 20, "fds_drift": 3, "threads_baseline": 6, "threads_drift": 1}


def test_soak_growth_counts_shrinking_and_the_peak():
    samples = [sample(10, 20_480, fds=20), sample(20, 23_552, fds=20), sample(30, 19_456, fds=20)]
    judged = soak.growth(samples, warmup=5)
    assert (judged["rss_growth_mib"], judged["rss_growth_pct"], judged["rss_peak_growth_mib"]) == (-1.0, -5.0, 3.0)
    assert judged["fds_drift"] == 0 and judged["threads_drift"] == 0


def test_soak_growth_without_a_sample_after_the_warmup():
    judged = soak.growth([sample(0, 10_000), sample(5, 10_100)], warmup=60)
    assert judged["samples_judged"] == 0 and judged["warmup_s"] == 60
    assert all(value is None for key, value in judged.items() if key not in ("samples_judged", "warmup_s"))


def test_soak_minutes_give_extents_and_the_rate_served():
    samples = [sample(0, 10_240, fds=10, threads=6, served=0), sample(30, 11_264, fds=14, threads=6, served=3000),
               sample(60, 11_264, fds=12, threads=6, served=6000), sample(90, 12_288, fds=12, threads=7, served=9000),
               sample(120, 12_288, fds=12, threads=7, served=None)]
    assert soak.per_minute(samples) == [
        {"minute": 0, "samples": 2, "rss_mib_min": 10.0, "rss_mib_max": 11.0, "fds_min": 10, "fds_max": 14,
         "threads_min": 6, "threads_max": 6, "served_per_sec": 100.0},
        {"minute": 1, "samples": 2, "rss_mib_min": 11.0, "rss_mib_max": 12.0, "fds_min": 12, "fds_max": 12,
         "threads_min": 6, "threads_max": 7, "served_per_sec": 100.0},  # from the last sample of minute 0
        {"minute": 2, "samples": 1, "rss_mib_min": 12.0, "rss_mib_max": 12.0, "fds_min": 12, "fds_max": 12,
         "threads_min": 7, "threads_max": 7, "served_per_sec": None}]  # its scrape failed


def test_soak_fds_left_open_after_the_load():
    assert soak.fds_left_open(15, 17) == 2
    assert soak.fds_left_open(15, 14) == -1
    assert soak.fds_left_open(None, 14) is None and soak.fds_left_open(15, None) is None


def test_soak_served_requests_leave_the_bench_scrapes_out():
    metrics = exposition.parse(
        'http_server_request_duration_seconds_count{http_route="/pokemon/{id}",http_response_status_code="200"} 40\n'
        'http_server_request_duration_seconds_count{http_route="/pokemon/{id}",http_response_status_code="404"} 2\n'
        'http_server_request_duration_seconds_count{http_route="/metrics",http_response_status_code="200"} 9\n'
        'http_server_request_duration_seconds_bucket{http_route="/pokemon/{id}",le="0.005"} 30\n'
        'http_server_request_duration_seconds_bucket{http_route="/pokemon/{id}",le="+Inf"} 42\n'
        'http_server_request_duration_seconds_bucket{http_route="/metrics",le="0.005"} 9\n'
        'http_server_request_duration_seconds_bucket{http_route="/metrics",le="+Inf"} 9\n')
    assert soak.served_requests(metrics) == 42
    assert soak.latency_buckets(metrics) == {0.005: 30, float("inf"): 42}
    assert soak.bucket_delta({0.005: 10, float("inf"): 12}, {0.005: 30, float("inf"): 42}) == {
        0.005: 20, float("inf"): 30}


def soaked(results, **extra):
    ok(results, "soak", requests_per_sec=199.9, requests=11994, errors=0)
    results["soak"].extra.update(extra)


def test_soak_targets_pass_and_miss_on_their_bounds():
    settings = measured_settings("soak")
    results = Results()
    soaked(results, rss_growth_mib=2.0, fds_drift=40, fds_left_open=soak.fds_left_open(15, 17), threads_drift=0,
           rate_share=soak.rate_share(199.9, 200))
    checks = report.judge(settings, results)
    assert {key: (c["value"], c["target"], c["result"]) for key, c in checks.items() if key.startswith("soak_")} == {
        "soak_rss_growth": (2.0, "<= 2", "PASS"), "soak_fds_left_open": (2, "<= 2", "PASS"),
        "soak_threads_drift": (0, "<= 0", "PASS"), "soak_rate": (1.0, ">= 0.99", "PASS")}
    assert soak.verdict(checks) == "PASS"
    assert checks["idle_rss"]["result"] == "skipped"

    results = Results()
    soaked(results, rss_growth_mib=2.01, fds_drift=0, fds_left_open=soak.fds_left_open(15, 18), threads_drift=1,
           rate_share=soak.rate_share(197.0, 200))
    checks = report.judge(settings, results)
    assert [checks[key]["result"] for key in ("soak_rss_growth", "soak_fds_left_open", "soak_threads_drift",
                                              "soak_rate")] == ["MISS"] * 4
    assert soak.verdict(checks) == "MISS"
    assert not results.failed  # a miss does not fail the run

    results = Results()
    results.fail("soak", "3 of 11994 requests failed")
    checks = report.judge(settings, results)
    assert checks["soak_rss_growth"]["result"] == "n/a (soak failed)"
    assert soak.verdict(checks) == "n/a (soak failed)"
    assert soak.verdict(report.judge(measured_settings("nginx"), Results())) == "skipped"


def test_soak_report_lines():
    settings = measured_settings("soak")
    results = Results()
    samples = [sample(0, 10_240, served=0), sample(5, 10_240, served=1000), sample(10, 10_752, served=2000)]
    soaked(results, asked_rate=200, duration_s=10, interval_s=5, dropped=0, server_latency_p50_ms=0.4,
           fds_before_load=19, fds_after_load=20, fds_left_open=1,
           server_latency_p99_ms=2.3, rate_share=1.0, **soak.growth(samples, warmup=5),
           per_minute=soak.per_minute(samples), samples=[dataclasses.asdict(s) for s in samples])
    results["soak"].latency_p50_ms, results["soak"].latency_p99_ms = 0.6, 3.1
    checks = report.judge(settings, results)
    lines = report.console(settings, results, checks)
    assert "soak: 200/s for 10s, a sample every 5s; per minute:" in lines
    assert any(line.split() == ["0", "10.0", "10.5", "20", "20", "6", "6", "200.0"] for line in lines), lines
    assert ("soak after the first 5s (2 samples): RSS 10.0 -> 10.5 MiB (0.5 MiB, 5.0 %; peak 0.5 MiB; trend 6144.0 "
            "KiB/min), fds 20 (drift 0 under load; 19 before the load, 20 after it), threads 6 (drift 0)") in lines
    assert ("soak: 11994 sent at 199.9/s, errors 0, dropped 0; latency p50/p99 0.6/3.1 ms (pokeload) vs 0.4/2.3 ms "
            "(apimon's histogram)") in lines
    assert "soak verdict: PASS" in lines
    doc = report.document(settings, results, checks, generated_at="2026-12-06T05:00:00Z")
    assert doc["cases"]["soak"]["samples"][2] == {"t_s": 10, "rss_kib": 10_752, "fds": 20, "threads": 6,
                                                  "served": 2000, "spans_sampled": None, "spans_exported": None,
                                                  "spans_dropped": None}
    assert "at most 2 MiB" in doc["method"]["soak"]["bounds"] and "at most 2 more open fds" in \
        doc["method"]["soak"]["bounds"]
    markdown = report.markdown(doc).splitlines()
    assert "| 0 | 10.0 | 10.5 | 20 | 20 | 6 | 6 | 200.0 |" in markdown
    assert any(line.startswith("After the first 5 s (2 samples): RSS 10.0 -> 10.5 MiB") and
               line.endswith("verdict PASS.") for line in markdown), markdown


# ------------------------------------------------------------- processes --

SLEEP_SECONDS = f"300.{os.getpid()}"  # names this test's sleep among all the machine's


def _sleeping_session():
    subprocess.Popen(["sleep", SLEEP_SECONDS], stdout=subprocess.DEVNULL)  # left behind on purpose
    time.sleep(300)


def processes_mentioning(text):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def _failing_call():
    raise OSError("no such thing")


def test_a_call_in_a_session_returns_its_result_on_the_cpus_asked():
    cpu = min(pinning.allowed_cpus())
    assert launch.call_in_session(lambda: sorted(os.sched_getaffinity(0)), 30, {cpu}) == [cpu]
    assert launch.call_in_session(lambda: os.getsid(0) == os.getpid(), 30) is True
    with pytest.raises(launch.SessionCallFailed, match="no such thing"):
        launch.call_in_session(_failing_call, 30)


def test_a_call_that_overruns_is_stopped_with_its_whole_session():
    started = time.monotonic()
    with pytest.raises(launch.SessionCallFailed, match="no answer after 1 s"):
        launch.call_in_session(_sleeping_session, 1)
    assert time.monotonic() - started < 15
    assert processes_mentioning("sleep\x00" + SLEEP_SECONDS) == []


def test_a_bounded_run_ends_by_itself(tmp_path):
    started = time.monotonic()
    with open(tmp_path / "out", "wb") as output:
        assert launch.run(["sleep", "60"], output, None, timeout=1) is None
        assert launch.run(["true"], output, None, timeout=10) == 0
    assert time.monotonic() - started < 15


# ------------------------------------------------------------- real runs --

def test_the_instruction_counts_cover_telemetry_and_the_access_log():
    """bench/telemetry_instructions.py counts the apimon under test in its
    three cases; each adds work to telemetry off: metrics and unsampled spans
    (telemetry on), a JSON line per request (access log)."""
    assert os.environ.get("APIMON_BIN"), "APIMON_BIN names the apimon under test"
    result = subprocess.run([sys.executable, str(REPO / "bench" / "telemetry_instructions.py"), "--apimon",
                             os.environ["APIMON_BIN"], "--requests", "300"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    counted = json.loads(result.stdout)
    off = counted["off_ir_per_request"]
    assert 5_000 < off < 200_000, counted
    assert counted["on_ir_per_request"] > off * 1.01, counted
    assert counted["access_log_ir_per_request"] > off * 1.01, counted
    logged = counted["access_log_ir_per_request"]
    assert abs(counted["access_log_overhead_percent"] - (logged / off - 1) * 100) < 0.1, counted


def short_run_cases():
    cases = ["nginx", "nginx-log", "sqlite", "mariadb", "sysbench", "rss", "telemetry-off", "telemetry-on",
             "access-log", "always-on", "always-on-jaeger", "configured", "seed"]
    if os.environ.get("TELEMETRY_BENCH_BIN"):
        cases.append("spans")
    return cases


@pytest.fixture
def scratch():
    """TMPDIR for a bench: short, as the MariaDB fixture's socket path must be."""
    path = Path(tempfile.mkdtemp(prefix="bench-test.", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_short_real_run_measures_every_case_and_leaves_nothing_behind(tmp_path, scratch):
    """Each case for a second, against the apimon under test: every case is
    measured (no figure is judged), the report is written, and nothing the
    bench started outlives it."""
    assert os.environ.get("APIMON_BIN"), "APIMON_BIN names the apimon under test"
    out = tmp_path / "out"
    cases = short_run_cases()
    result = run_bench("--only", ",".join(cases), "--duration", "1", "--warmup", "1", "--telemetry-rounds", "1",
                       "--telemetry-pairs", "1", "--telemetry-slice", "1", "--out", str(out), timeout=600,
                       TMPDIR=str(scratch))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    assert doc["ok"] is True and list(doc["cases"]) == comparisons.rows(cases)
    for name, case in doc["cases"].items():
        assert case["status"] == "ok", (name, case)
    for name in ("nginx", "sqlite", "mariadb", "sysbench", "telemetry-off", "telemetry-on", "nginx-log-off",
                 "nginx-log", "access-log-off", "access-log", "always-on-off", "always-on", "always-on-jaeger-off",
                 "always-on-jaeger", "configured", "seed", "seed-apimon"):
        assert doc["cases"][name]["requests"] > 0 and doc["cases"][name]["errors"] == 0, name
    # The new cases did what they say: logged, traced every request, ran the peer.
    assert doc["cases"]["access-log"]["access_log_lines"] >= doc["cases"]["access-log"]["requests"]
    assert doc["cases"]["configured"]["access_log_lines"] >= doc["cases"]["configured"]["requests"]
    assert doc["cases"]["always-on"]["spans_not_sampled"] == 0 and doc["cases"]["always-on"]["spans_sampled"] > 0
    assert doc["cases"]["always-on"]["sink_exports"] > 0 and doc["cases"]["always-on"]["sink_refused"] == 0
    assert doc["cases"]["always-on-jaeger"]["jaeger_traces_found"] > 0
    assert doc["cases"]["seed"]["jaeger_traces_found"] > 0 and doc["cases"]["seed"]["spans_not_sampled"] == 0
    assert doc["cases"]["seed"]["cpu_us_per_request"] > 0
    for key in ("access_log_overhead", "always_on_overhead", "apimon_vs_seed", "sqlite_vs_nginx"):
        assert doc["checks"][key]["result"] in ("PASS", "MISS"), key
    for key in ("nginx_log_cost", "access_log_cpu_cost", "seed_cpu_vs_apimon", "always_on_cpu_cost",
                "always_on_jaeger_overhead"):
        assert doc["checks"][key]["result"] == "reported", key
    assert doc["checks"]["configured_vs_nginx"]["value"] > 0
    for artefact in ("nginx.wrk.txt", "sqlite.wrk.txt", "mariadb.wrk.txt", "telemetry-on.r1.p1.wrk.txt",
                     "telemetry-off.r1.p1.wrk.txt", "sysbench.txt", "nginx.conf", "sqlite.apimon.log",
                     "access-log.apimon.log", "configured.apimon.log", "seed.r1.p1.wrk.txt", "seed.r1.peer.log",
                     "nginx-log.r1.p1.wrk.txt"):
        assert (out / artefact).exists(), artefact
    assert doc["cases"]["telemetry-on"]["jaeger_traces_found"] > 0
    assert doc["checks"]["cache_vs_nginx"]["result"] == "skipped"
    assert doc["checks"]["mariadb_vs_sysbench"]["result"] in ("PASS", "MISS")
    assert (out / "results.md").read_text().startswith("# apimon benchmark\n")
    assert "Wrote " in result.stdout
    assert processes_mentioning(str(scratch)) == []
    assert list(scratch.iterdir()) == []


def test_a_short_real_soak_samples_reports_and_leaves_nothing_behind(tmp_path, scratch):
    """The soak for 15 s against the apimon and pokeload under test: it
    samples apimon all along, every request is answered, the telemetry ran,
    the report has the samples, minutes, growth and verdict (none of whose
    figures is judged here), and nothing the bench started outlives it."""
    assert os.environ.get("APIMON_BIN") and os.environ.get("POKELOAD_BIN"), "the binaries under test"
    out = tmp_path / "out"
    result = run_bench("--only", "soak", "--soak-duration", "15", "--soak-warmup", "5", "--soak-interval", "1",
                       "--soak-rate", "40", "--out", str(out), timeout=300, TMPDIR=str(scratch))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    assert doc["ok"] is True and list(doc["cases"]) == ["soak"]
    case = doc["cases"]["soak"]
    assert case["status"] == "ok", case
    # The load: every arrival of 40/s over 15 s sent and answered, and apimon counted each.
    assert (case["due"], case["requests"], case["errors"], case["dropped"]) == (600, 600, 0, 0), case
    assert case["served"] >= 600
    # The samples: about one a second from the start to past the end, each complete.
    samples = case["samples"]
    times = [s["t_s"] for s in samples]
    assert times[0] == 0 and times == sorted(times) and times[-1] >= 15 and len(samples) >= 10, times
    for s in samples:
        assert s["rss_kib"] > 0 and s["fds"] > 0 and s["threads"] > 0 and s["served"] is not None, s
    served = [s["served"] for s in samples]
    assert served == sorted(served) and served[-1] - served[0] >= 600 - 40, served
    # Growth after the 5 s warm-up, against the first sample after it.
    assert case["warmup_s"] == 5 and case["baseline_t_s"] >= 5
    assert case["samples_judged"] == len([t for t in times if t >= 5])
    for key in ("rss_growth_mib", "rss_growth_pct", "rss_trend_kib_per_min", "fds_drift", "threads_drift"):
        assert case[key] is not None, key
    assert [m["minute"] for m in case["per_minute"]] == [0]
    assert case["per_minute"][0]["samples"] == len([t for t in times if t < 60])
    # Both sides' latency, and the telemetry that ran.
    assert case["latency_p99_ms"] > 0 and case["server_latency_p99_ms"] > 0
    assert case["jaeger_traces_found"] > 0 and case["spans_sampled"] > 0
    assert case["access_log_lines"] >= case["served"]
    assert case["fds_before_load"] > 0 and case["fds_after_load"] > 0
    assert case["fds_left_open"] == case["fds_after_load"] - case["fds_before_load"]
    for key in ("soak_rss_growth", "soak_fds_left_open", "soak_threads_drift", "soak_rate"):
        assert doc["checks"][key]["result"] in ("PASS", "MISS"), doc["checks"][key]
    assert doc["method"]["soak"]["warmup_s"] == 5
    # What it leaves in OUT: the samples as CSV, the end of apimon's log, the report.
    rows = (out / "soak.samples.csv").read_text().splitlines()
    assert rows[0] == "t_s,rss_kib,fds,threads,served,spans_sampled,spans_exported,spans_dropped"
    assert len(rows) == len(samples) + 1
    assert 0 < len((out / "soak.apimon.log").read_text().splitlines()) <= soak.LOG_TAIL_LINES
    assert "| minute | RSS MiB min |" in (out / "results.md").read_text()
    assert "soak verdict: " in result.stdout
    assert processes_mentioning(str(scratch)) == []
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_stops_what_it_started(tmp_path, scratch, signum):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env["TMPDIR"] = str(scratch)
    bench = subprocess.Popen(
        [str(BENCH), "--only", "telemetry-on", "--warmup", "0", "--telemetry-slice", "30", "--out",
         str(tmp_path / "out")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        # Jaeger and an apimon run, and wrk is measuring.
        while len(processes_mentioning(str(scratch))) < 2 and bench.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(processes_mentioning(str(scratch))) >= 2, bench.communicate(timeout=60)
        time.sleep(1)
        bench.send_signal(signum)
        stdout, stderr = bench.communicate(timeout=120)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert bench.returncode == 128 + signum, stdout + stderr
    assert "what it started is stopped" in stderr
    assert processes_mentioning(str(scratch)) == []
    assert list(scratch.iterdir()) == []

