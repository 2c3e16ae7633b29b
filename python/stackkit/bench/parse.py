"""Figures read from what the load generators and benchmarks print: wrk's
report, sysbench's, Google Benchmark's JSON and apimon's span counters."""

import json
import re
from dataclasses import dataclass

_LATENCY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)")
_MILLISECONDS_PER_UNIT = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def latency_ms(text):
    """A wrk latency (812.00us, 1.03ms, 1.20s, 1.00m) in milliseconds, to
    three decimals; None if it is not one."""
    match = _LATENCY.fullmatch(text.strip())
    if not match:
        return None
    return round(float(match[1]) * _MILLISECONDS_PER_UNIT[match[2]], 3)


def _figure(pattern, text, convert=int, default=None):
    """The first group of the first line matching `pattern`, converted."""
    match = re.search(pattern, text, re.MULTILINE)
    return convert(match[1]) if match else default


@dataclass
class WrkReport:
    requests_per_sec: float | None
    requests: int | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    non_2xx: int
    socket_errors: int

    @property
    def failures(self):
        return self.non_2xx + self.socket_errors


def wrk_report(text):
    """wrk --latency's report; a figure it does not print is None, errors it
    does not mention are 0."""
    sockets = re.search(r"^\s*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", text,
                        re.MULTILINE)
    return WrkReport(
        requests_per_sec=_figure(r"^Requests/sec:\s+([0-9.]+)", text, float),
        requests=_figure(r"^\s*([0-9]+) requests in ", text),
        latency_p50_ms=_figure(r"^\s*50%\s+(\S+)", text, latency_ms),
        latency_p99_ms=_figure(r"^\s*99%\s+(\S+)", text, latency_ms),
        non_2xx=_figure(r"^\s*Non-2xx or 3xx responses:\s*([0-9]+)", text, default=0),
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


@dataclass
class SysbenchReport:
    queries_per_sec: float | None
    queries: int | None
    latency_p99_ms: float | None
    ignored_errors: int | None
    reconnects: int | None


def sysbench_report(text):
    """sysbench run's report (with --percentile=99)."""
    return SysbenchReport(
        queries_per_sec=_figure(r"^\s*queries:\s*[0-9]+\s+\(([0-9.]+) per sec\.\)", text, float),
        queries=_figure(r"^\s*queries:\s*([0-9]+)", text),
        latency_p99_ms=_figure(r"^\s*99th percentile:\s*([0-9.]+)", text, lambda ms: round(float(ms), 3)),
        ignored_errors=_figure(r"^\s*ignored errors:\s*([0-9]+)", text),
        reconnects=_figure(r"^\s*reconnects:\s*([0-9]+)", text),
    )


@dataclass
class BenchmarkTiming:
    name: str
    cpu_ns: float
    real_ns: float
    iterations: int


def benchmark_timings(text):
    """The iterations (not aggregates) of Google Benchmark's JSON output that
    are timed in nanoseconds, in the order they ran."""
    return [BenchmarkTiming(b["name"], round(b["cpu_time"], 1), round(b["real_time"], 1), b["iterations"])
            for b in json.loads(text)["benchmarks"]
            if b.get("run_type", "iteration") == "iteration" and b.get("time_unit") == "ns"]


@dataclass
class SpanCounts:
    sampled: int = 0
    not_sampled: int = 0
    exported: int = 0
    dropped: int = 0

    def __iadd__(self, other):
        self.sampled += other.sampled
        self.not_sampled += other.not_sampled
        self.exported += other.exported
        self.dropped += other.dropped
        return self


_SPAN_SERIES = (
    ("sampled", re.compile(r'otel_sdk_spans_started_total\{sampled="true"\}\s')),
    ("not_sampled", re.compile(r'otel_sdk_spans_started_total\{sampled="false"\}\s')),
    ("exported", re.compile(r"otel_sdk_spans_exported_total\s")),
    ("dropped", re.compile(r"otel_sdk_spans_dropped_total")),
)


def span_counts(metrics_text):
    """apimon's span pipeline counters from one scrape of its /metrics."""
    totals = dict.fromkeys((field for field, _ in _SPAN_SERIES), 0.0)
    for line in metrics_text.splitlines():
        for field, series in _SPAN_SERIES:
            if series.match(line):
                totals[field] += float(line.split()[1])
    return SpanCounts(**{field: int(total) for field, total in totals.items()})
