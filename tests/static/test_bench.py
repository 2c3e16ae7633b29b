"""scripts/bench (python/stackkit/bench): what it reads from wrk, sysbench
and Google Benchmark (samples captured from real runs), its arithmetic, its
options, its report, and short real runs that prove it measures, writes its
report and stops everything it started, also when interrupted. No test
asserts a performance figure.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from stackkit.bench import launch, parse, pinning, report, stats
from stackkit.bench.results import Results
from stackkit.bench.settings import CASES, UsageError
from stackkit.bench.settings import parse as parse_settings

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
    assert s.cases == CASES
    assert (s.duration, s.warmup, s.db_pool, s.rounds, s.pairs, s.slice) == (10, 2, 8, 3, 6, 3)
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
    (["--only", "nginx,foo"], {}, "unknown case 'foo' (known: nginx, sqlite,"),
    (["--only", ","], {}, "--only needs at least one case"),
    (["--bogus"], {}, "unrecognized arguments: --bogus"),
    (["--duration"], {}, "expected one argument"),
])
def test_bad_options_are_named(argv, environ, says):
    with pytest.raises(UsageError) as error:
        settings_of(*argv, **environ)
    assert says in str(error.value)


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
    for words in ("--only", "BENCH_DURATION", "BENCH_TELEMETRY_PAIRS", "BENCH_MARIADB_CPUS", "docs/performance.md"):
        assert words in result.stdout


def test_missing_binary_exits_1_naming_it(tmp_path):
    result = run_bench("--only", "rss", "--out", str(tmp_path), APIMON_BIN=str(tmp_path / "no-apimon"))
    assert result.returncode == 1
    assert f"bench: no apimon binary at {tmp_path / 'no-apimon'}" in result.stderr


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
        "socket_errors", "rss_mib", "server_cpu_pct", "mariadbd_cpu_pct", "jaeger_cpu_pct",
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
    assert "| apimon mariadb / sysbench point-select (req/s per q/s) | - | >= 0.6 | skipped |" in lines
    assert "| span_sampled_out, CPU time (ns) | 16.1 | <= 50 | PASS |" in lines
    assert "- sysbench: the MariaDB fixture did not start" in lines
    assert "| span_sampled | 141.5 | 200.1 | 5 |" in lines

    console = report.console(settings, results, doc["checks"])
    assert any(line.split()[:3] == ["sqlite", "apimon", "SQLite,"] and line.split()[-1] == "ok" for line in console)
    assert "  apimon idle RSS (MiB)                                             -  target <= 10   skipped" in console


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

def short_run_cases():
    cases = ["nginx", "sqlite", "mariadb", "sysbench", "rss", "telemetry-off", "telemetry-on"]
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
    assert doc["ok"] is True and list(doc["cases"]) == cases
    for name, case in doc["cases"].items():
        assert case["status"] == "ok", (name, case)
    for name in ("nginx", "sqlite", "mariadb", "sysbench", "telemetry-off", "telemetry-on"):
        assert doc["cases"][name]["requests"] > 0 and doc["cases"][name]["errors"] == 0, name
    for artefact in ("nginx.wrk.txt", "sqlite.wrk.txt", "mariadb.wrk.txt", "telemetry-on.r1.p1.wrk.txt",
                     "telemetry-off.r1.p1.wrk.txt", "sysbench.txt", "nginx.conf", "sqlite.apimon.log"):
        assert (out / artefact).exists(), artefact
    assert doc["cases"]["telemetry-on"]["jaeger_traces_found"] > 0
    assert doc["checks"]["cache_vs_nginx"]["result"] == "skipped"
    assert doc["checks"]["mariadb_vs_sysbench"]["result"] in ("PASS", "MISS")
    assert (out / "results.md").read_text().startswith("# apimon benchmark\n")
    assert "Wrote " in result.stdout
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

