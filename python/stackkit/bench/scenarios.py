"""The cases but the paired ones (comparisons.py) and the soak (soak.py):
each measures one thing and records its figures, or fails saying why.
docs/performance.md describes them."""

import json
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass

from stackkit import mariadb as mariadb_fixture
from stackkit.bench import apimon, launch, paired, parse, procfs, stats
from stackkit.bench import nginx as nginx_process
from stackkit.bench.measure import measure_http, one_line, read_text
from stackkit.bench.settings import CONNECTIONS, SAMPLER_ARG, TELEMETRY_INSTRUCTIONS_SCRIPT, TRACED_SERVICE
from stackkit.server import http_request

# What nginx serves: apimon's own answer for /pokemon/25 (214 bytes).
FIXED_JSON = ('{"id":25,"name":"Pikachu","lang":"en","slug":"pikachu","generation":1,"types":["electric"],'
              '"height":4,"weight":60,"base_stats":{"hp":35,"attack":55,"defense":40,"special_attack":50,'
              '"special_defense":50,"speed":90}}')


SPAN_BENCHMARKS = ("span_sampled", "span_sampled_with_parent_and_attributes", "span_sampled_out",
                   "traceparent_parse")
SPAN_TARGETS = ("span_sampled", "span_sampled_out")

NGINX_START_TIMEOUT = 30
SYSBENCH_PREPARE_TIMEOUT = 300
SYSBENCH_GRACE = 60  # seconds past its run time before a hung sysbench is stopped
SPANS_TIMEOUT = 300
INSTRUCTIONS_TIMEOUT = 900


def _tail(path, lines=5):
    try:
        return one_line("\n".join(read_text(path).splitlines()[-lines:]))
    except OSError:
        return ""


# nginx-log's access log: nginx's own buffered writes, the usual way to keep
# a busy server's log off the request path.
NGINX_ACCESS_LOG = "access_log {prefix}/access.log combined buffer=64k flush=1s;"


@dataclass
class Nginx:
    process: object
    url: str
    log: str  # the error log
    prefix: str
    config: str
    counts_spans: bool = False

    @property
    def cpu_pids(self):
        return nginx_process.worker_pid(self.process)


def start_nginx(bench, name, access_log=False):
    """nginx serving the fixed response for case or run `name` on the server
    CPU, with the buffered access log if asked; None (and `name` failed) if
    it does not start."""
    log_directive = NGINX_ACCESS_LOG if access_log else "access_log off;"
    started = nginx_process.start(bench, f"{name}.nginx.", {bench.settings.server_cpu}, log_directive,
                                  f"default_type application/json;\n    location / {{ return 200 '{FIXED_JSON}'; }}")
    server = Nginx(started.process, started.url, started.error_log, started.prefix, started.config)
    if not launch.wait_http(f"{server.url}/pokemon/1", server.process, NGINX_START_TIMEOUT):
        bench.results.fail(name, f"nginx did not start: {_tail(server.log)}")
        launch.stop(server.process)
        return None
    return server


def nginx(bench):
    name, settings = "nginx", bench.settings
    server = start_nginx(bench, name)
    if server is None:
        return
    try:
        measure_http(bench, name, server.url, server.process, warmup=settings.warmup, duration=settings.duration,
                     cpu_pid=server.cpu_pids)
        shutil.copyfile(server.config, os.path.join(bench.out, "nginx.conf"))
    finally:
        launch.stop(server.process)


def configured(bench):
    """apimon as users run it: its default flags (access log and telemetry
    on, the default sampler, SQLite in memory), traces to a live Jaeger."""
    name, settings, results = "configured", bench.settings, bench.results
    jaeger_state = paired.start_jaeger(bench)
    if jaeger_state is None:
        results.fail(name, "the Jaeger fixture did not start")
        return
    log = os.path.join(bench.tmp, f"{name}.apimon.log")
    server = apimon.start(bench, name, otlp_endpoint=jaeger_state["otlp_http_endpoint"],
                          sampler=apimon.DEFAULT_SAMPLER, default_flags=True, log=log)
    if server is None:
        bench.stop_jaeger()
        return
    counts = parse.SpanCounts()
    try:
        if not measure_http(bench, name, server.url, server.process, warmup=settings.warmup,
                            duration=settings.duration, aux_pid=jaeger_state["pid"]):
            return
        status, body = http_request(server.url + "/metrics", timeout=5)
        if status == 200:
            counts = parse.span_counts(body.decode(errors="replace"))
    finally:
        launch.stop(server.process)
    figures = results[name]
    traces = paired.traces_in_jaeger(jaeger_state, TRACED_SERVICE)
    bench.stop_jaeger()
    lines, tail = paired.count_access_lines(log)
    with open(os.path.join(bench.out, f"{name}.apimon.log"), "wb") as f:
        f.writelines(tail)
    os.remove(log)
    figures.extra.update(jaeger_traces_found=traces, spans_sampled=counts.sampled,
                         spans_not_sampled=counts.not_sampled, spans_exported_before_shutdown=counts.exported,
                         spans_dropped=counts.dropped, access_log_lines=lines)
    figures.note = (f"apimon's default flags (--threads 1 --db-pool-size 4, no cache, access log and telemetry on, "
                    f"the default sampler); Jaeger used {figures.span_backend_cpu_pct} % of CPU {settings.client_cpu}; "
                    f"spans sampled {counts.sampled}, exported {counts.exported} before shutdown, dropped "
                    f"{counts.dropped}; {lines} access log lines; Jaeger returned {traces} traces (limit 20)")
    if traces == 0:
        results.fail(name, f"Jaeger has no traces of {TRACED_SERVICE}: nothing was exported")
    elif lines < (figures.requests or 0):
        results.fail(name, f"the access log has {lines} lines for {figures.requests} requests")
    else:
        print(f"  spans sampled {counts.sampled}, dropped {counts.dropped}; {lines} access log lines")


def _measure_apimon(bench, name, *args, mariadb_state=None):
    settings = bench.settings
    server = apimon.start(bench, name, *args)
    if server is None:
        return
    try:
        if mariadb_state is not None:
            bench.pin_mariadb()
        measure_http(bench, name, server.url, server.process, warmup=settings.warmup, duration=settings.duration,
                     db_pid=mariadb_state["pid"] if mariadb_state else None)
    finally:
        launch.stop(server.process)


def sqlite(bench):
    _measure_apimon(bench, "sqlite", *apimon.SQLITE_NO_CACHE)


def sqlite_cache(bench):
    _measure_apimon(bench, "sqlite-cache", "--threads", "1", "--db-pool-size", "1", "--cache-entries", "2048",
                    "--cache-ttl-ms", "600000")


def mariadb(bench):
    state = bench.mariadb()
    if state is None:
        bench.results.fail("mariadb", "the MariaDB fixture did not start")
        return
    _measure_apimon(bench, "mariadb", "--threads", "1", "--db-pool-size", str(bench.settings.db_pool),
                    "--cache-entries", "0", "--database-url", state["url"],
                    "--database-password-file", state["app_password_file"], mariadb_state=state)


def _run_sysbench(bench, port, password, output_path, timeout, *args):
    argv = ["sysbench", "oltp_point_select", "--db-driver=mysql", "--mysql-host=127.0.0.1", f"--mysql-port={port}",
            "--mysql-user=sbtest", f"--mysql-password={password}", "--mysql-db=sbtest", "--tables=1",
            "--table-size=10000", *args]
    with open(output_path, "ab") as output:
        return launch.run(argv, output, {bench.settings.client_cpu}, timeout) == 0


def sysbench(bench):
    name, settings, results = "sysbench", bench.settings, bench.results
    state = bench.mariadb()
    if state is None:
        results.fail(name, "the MariaDB fixture did not start")
        return
    # Over loopback TCP like apimon, as a user of its own with a password made for the run.
    password = secrets.token_hex(16)
    setup_path = os.path.join(bench.tmp, "sysbench-prepare.txt")
    try:
        mariadb_fixture.query(bench.mariadb_dir, f"""
            DROP DATABASE IF EXISTS sbtest; CREATE DATABASE sbtest;
            CREATE OR REPLACE USER 'sbtest'@'127.0.0.1' IDENTIFIED BY '{password}';
            GRANT ALL ON sbtest.* TO 'sbtest'@'127.0.0.1';""")
    except mariadb_fixture.FixtureError as error:
        results.fail(name, f"preparing sbtest failed: {one_line(str(error))}")
        return
    if not _run_sysbench(bench, state["port"], password, setup_path, SYSBENCH_PREPARE_TIMEOUT, "prepare"):
        results.fail(name, f"preparing sbtest failed: {_tail(setup_path)}")
        return
    bench.pin_mariadb()
    load = ("run", f"--threads={CONNECTIONS}")
    if settings.warmup > 0:
        print(f"  warm-up {settings.warmup}s")
        _run_sysbench(bench, state["port"], password, os.path.join(bench.tmp, "sysbench.warmup.txt"),
                      settings.warmup + SYSBENCH_GRACE, *load, f"--time={settings.warmup}")
    print(f"  measuring {settings.duration}s")
    output_path = os.path.join(bench.tmp, "sysbench.txt")
    window = procfs.CpuWindow(settings.server_cpu, db=state["pid"])
    if not _run_sysbench(bench, state["port"], password, output_path, settings.duration + SYSBENCH_GRACE,
                         *load, f"--time={settings.duration}", "--percentile=99"):
        results.fail(name, f"sysbench run failed: {_tail(output_path)}")
        return
    window.close()
    figures = results[name]
    figures.mariadbd_cpu_pct = window.percent("db")
    figures.other_load_on_server_cpu_pct = window.noise("db")
    shutil.copyfile(output_path, os.path.join(bench.out, "sysbench.txt"))
    report = parse.sysbench_report(read_text(output_path))
    figures.requests_per_sec = report.queries_per_sec
    figures.requests = report.queries
    figures.latency_p99_ms = report.latency_p99_ms
    figures.errors = report.ignored_errors
    figures.socket_errors = report.reconnects
    figures.rss_mib = stats.mib(procfs.rss_kib(state["pid"]))
    figures.note = ("q/s of SELECT c FROM sbtest1 WHERE id=?; errors = ignored errors, socket = reconnects; "
                    "RSS is mariadbd's")
    if report.queries_per_sec is None:
        results.fail(name, f"no q/s in sysbench output: {_tail(output_path, 20)}")
        return
    if report.ignored_errors or report.reconnects:
        results.fail(name, f"sysbench saw {report.ignored_errors} errors and {report.reconnects} reconnects")
        return
    figures.status = "ok"
    print(f"  {report.queries_per_sec} q/s, p99 {report.latency_p99_ms} ms")


def rss(bench):
    name, results = "rss", bench.results
    server = apimon.start(bench, name)
    if server is None:
        return
    try:
        if http_request(server.url + "/pokemon/25", timeout=5)[0] != 200:
            results.fail(name, "GET /pokemon/25 failed")
            return
        time.sleep(0.5)
        kib = procfs.rss_kib(server.pid)
    finally:
        launch.stop(server.process)
    if kib is None:
        results.fail(name, "no VmRSS for apimon")
        return
    figures = results[name]
    figures.rss_mib = stats.mib(kib)
    figures.note = ("apimon with default flags (SQLite in memory) but --telemetry false --access-log false and "
                    "OTEL_SDK_DISABLED=true, after start and one request")
    figures.status = "ok"
    print(f"  idle VmRSS {figures.rss_mib} MiB ({kib} kB)")


def spans(bench):
    name, settings, results = "spans", bench.settings, bench.results
    output_path = os.path.join(bench.tmp, "spans.json")
    errors_path = os.path.join(bench.tmp, "spans.err")
    print(f"  telemetry_bench on CPU {settings.server_cpu}")
    children_before = procfs.reaped_children_cpu_seconds()
    window = procfs.CpuWindow(settings.server_cpu)
    with open(output_path, "wb") as output, open(errors_path, "wb") as errors:
        status = launch.run([bench.telemetry_bench, "--benchmark_min_time=0.5", "--benchmark_format=json"], output,
                            {settings.server_cpu}, SPANS_TIMEOUT, errors=errors)
    if status != 0:
        results.fail(name, f"telemetry_bench failed: {_tail(errors_path)}")
        return
    window.close()
    shutil.copyfile(output_path, os.path.join(bench.out, "spans.json"))
    figures = results[name]
    figures.other_load_on_server_cpu_pct = window.noise(
        measured_seconds=procfs.reaped_children_cpu_seconds() - children_before)
    timings = {t.name: t for t in parse.benchmark_timings(read_text(output_path))}
    for timing in timings.values():
        figures.extra[f"{timing.name}_cpu_ns"] = timing.cpu_ns
        figures.extra[f"{timing.name}_real_ns"] = timing.real_ns
        figures.extra[f"{timing.name}_iterations"] = timing.iterations
    for target in SPAN_TARGETS:
        if target not in timings:
            results.fail(name, f"no {target} in the telemetry_bench output")
            return
    figures.note = ("CPU time per span of the thread starting and ending it; real time also counts the batch "
                    "processor thread sharing the CPU")
    figures.status = "ok"
    for benchmark in SPAN_BENCHMARKS:
        if benchmark in timings:
            print(f"  {benchmark:<42} {timings[benchmark].cpu_ns:>8} ns CPU {timings[benchmark].real_ns:>8} ns real")


def telemetry_instructions(bench):
    name, results = "telemetry-instructions", bench.results
    print("  apimon under callgrind: telemetry off, on, and off with the access log")
    output_path = os.path.join(bench.tmp, "instructions.json")
    errors_path = os.path.join(bench.tmp, "instructions.err")
    with open(output_path, "wb") as output, open(errors_path, "wb") as errors:
        status = launch.run([sys.executable, TELEMETRY_INSTRUCTIONS_SCRIPT, "--apimon", bench.apimon,
                             "--sample-ratio", SAMPLER_ARG], output, None, INSTRUCTIONS_TIMEOUT, errors=errors)
    if status != 0:
        results.fail(name, f"telemetry_instructions.py failed: {_tail(errors_path)}")
        return
    counted = json.loads(read_text(output_path))
    off, on, overhead = counted["off_ir_per_request"], counted["on_ir_per_request"], counted["overhead_percent"]
    logged, log_overhead = counted["access_log_ir_per_request"], counted["access_log_overhead_percent"]
    figures = results[name]
    figures.extra.update(off_instructions_per_request=off, on_instructions_per_request=on,
                         overhead_percent=overhead, access_log_instructions_per_request=logged,
                         access_log_overhead_percent=log_overhead)
    figures.note = (f"instructions per request (callgrind, marginal over 5000 requests): off {off}, on {on}, "
                    f"+{overhead} %; access log {logged}, +{log_overhead} %")
    figures.status = "ok"
    print(f"  off {off}, on {on} instructions per request: +{overhead} %; access log {logged}: +{log_overhead} %")
