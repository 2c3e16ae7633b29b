"""One measured wrk run against a server: an optional warm-up, the run with
the CPU use of the server (and of mariadbd or Jaeger) and the noise on the
server CPU around it, and its figures. A run fails when wrk fails, the
server dies, or wrk sees a non-2xx response or a socket error."""

import os
import shutil
import sys

from stackkit.bench import launch, parse, procfs, stats
from stackkit.bench.settings import CONNECTIONS, RANDOM_ID_SCRIPT

WRK_GRACE = 30  # seconds past its duration before a hung wrk is stopped


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def one_line(text):
    return " ".join(text.splitlines())


def run_wrk(bench, url, seconds, output_path):
    """wrk -t1 -c64 --latency with the random-id script, on the client CPU;
    True if it exited 0."""
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", RANDOM_ID_SCRIPT, url]
    with open(output_path, "wb") as output:
        status = launch.run(argv, output, {bench.settings.client_cpu}, seconds + WRK_GRACE)
    return status == 0


def measure_http(bench, name, url, server, *, warmup, duration, cpu_pid=None, db_pid=None, aux_pid=None,
                 quiet=False):
    """Measures `server` (a Popen) at `url` as case or run `name`; True if the
    run counts. cpu_pid is the process whose CPU and RSS are reported (the
    server's by default); db_pid and aux_pid are mariadbd and Jaeger, whose CPU
    use is also reported."""
    results, figures = bench.results, bench.results[name]
    say = (lambda *_: None) if quiet else print
    cpu_pid = cpu_pid or server.pid
    if warmup > 0:
        warmup_path = os.path.join(bench.tmp, f"{name}.warmup.wrk")
        say(f"  warm-up {warmup}s")
        if not run_wrk(bench, url, warmup, warmup_path):
            results.fail(name, f"wrk warm-up failed: {one_line(read_text(warmup_path))}")
            return False
        report = parse.wrk_report(read_text(warmup_path))
        if report.failures:
            print(f"  warning: warm-up saw {report.non_2xx} non-2xx responses and {report.socket_errors} socket "
                  "errors", file=sys.stderr)
    if not launch.running(server):
        results.fail(name, "server died during warm-up")
        return False

    output_path = os.path.join(bench.tmp, f"{name}.wrk")
    say(f"  measuring {duration}s")
    window = procfs.CpuWindow(bench.settings.server_cpu, server=cpu_pid, db=db_pid, aux=aux_pid)
    if not run_wrk(bench, url, duration, output_path):
        results.fail(name, f"wrk failed: {one_line(read_text(output_path))}")
        return False
    window.close()
    figures.server_cpu_pct = window.percent("server")
    figures.mariadbd_cpu_pct = window.percent("db")
    figures.span_backend_cpu_pct = window.percent("aux")
    figures.other_load_on_server_cpu_pct = window.noise("server", "db")
    shutil.copyfile(output_path, os.path.join(bench.out, f"{name}.wrk.txt"))

    text = read_text(output_path)
    report = parse.wrk_report(text)
    figures.requests_per_sec = report.requests_per_sec
    figures.requests = report.requests
    figures.latency_p50_ms = report.latency_p50_ms
    figures.latency_p99_ms = report.latency_p99_ms
    figures.errors = report.non_2xx
    figures.socket_errors = report.socket_errors
    figures.rss_mib = stats.mib(procfs.rss_kib(cpu_pid))
    figures.extra["cpu_us_per_request"] = stats.cpu_us_per_request(window.cpu_seconds("server"), report.requests)
    if report.requests_per_sec is None or not report.requests:
        results.fail(name, f"no result in wrk output: {one_line(text)}")
        return False
    if not launch.running(server):
        results.fail(name, "server died during the measured run")
        return False
    if report.failures:
        results.fail(name, f"{report.non_2xx} non-2xx responses and {report.socket_errors} socket errors out of "
                           f"{report.requests} requests")
        print("".join("    " + line for line in text.splitlines(keepends=True)), file=sys.stderr)
        return False
    figures.status = "ok"
    say(f"  {report.requests_per_sec} req/s, p50 {report.latency_p50_ms} ms, p99 {report.latency_p99_ms} ms")
    return True
