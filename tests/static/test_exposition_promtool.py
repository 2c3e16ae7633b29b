"""The metrics exposition, checked by Prometheus' own tools (promtool of the
Prometheus release scripts/tool-versions pins, built by scripts/install-tools).

tools/metrics_sample prints a registry holding every metric type, label values
that need escaping, an exemplar and the process metrics, in either format
(METRICS_SAMPLE_BIN names the binary).

* Text format 0.0.4: `promtool check metrics` parses and lints it (HELP
  present, _total on counters and only there, base units, ...). It must exit 0
  and say nothing.
* OpenMetrics 1.0.0: `promtool check metrics` reads only the text format (it
  stops at the first exemplar and takes `foo_total` for a family of its own),
  so this exposition goes through the strict parser Prometheus scrapes
  OpenMetrics with, which promtool runs for `tsdb create-blocks-from
  openmetrics`. That backfill needs a timestamp on every sample, which an
  exposer should not write, so one is added to each sample line, before any
  exemplar; nothing else is changed.
"""

import os
import re
import subprocess
import time

import pytest

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"


def exposition(format_name):
    binary = os.environ.get("METRICS_SAMPLE_BIN")
    if not binary:
        pytest.fail("METRICS_SAMPLE_BIN must name the metrics_sample binary")
    result = subprocess.run([binary, format_name], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def text():
    return exposition("text")


@pytest.fixture(scope="module")
def openmetrics():
    return exposition("openmetrics")


def sample_lines(body):
    return [line for line in body.splitlines() if line and not line.startswith("#")]


def split_after_value(line):
    """Splits a sample line after its value: ('name{labels} value', ' # {exemplar} ...')."""
    i = 0
    while line[i] not in "{ ":
        i += 1
    if line[i] == "{":
        in_quotes = False
        while True:
            c = line[i]
            if in_quotes and c == "\\":
                i += 2
                continue
            if c == '"':
                in_quotes = not in_quotes
            elif c == "}" and not in_quotes:
                i += 1
                break
            i += 1
    end = line.find(" ", i + 1)
    if end == -1:
        end = len(line)
    return line[:end], line[end:]


def series_key(line):
    """The sample's name and labels: what identifies its series."""
    head, _ = split_after_value(line)
    return head.rsplit(" ", 1)[0]


def with_timestamps(body, timestamp):
    lines = []
    for line in body.splitlines(keepends=False):
        if line and not line.startswith("#"):
            head, tail = split_after_value(line)
            line = f"{head} {timestamp}{tail}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_text_format_is_lint_clean(promtool, text):
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


def test_openmetrics_is_read_whole_by_prometheus_parser(promtool, openmetrics, tmp_path):
    exposition_file = tmp_path / "exposition.om"
    exposition_file.write_text(with_timestamps(openmetrics, int(time.time())), encoding="utf-8")
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(exposition_file), str(tmp_path / "blocks")],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

    # Its table of blocks counts what it ingested: every sample, none skipped.
    header, *rows = [line for line in result.stdout.splitlines() if line.strip()]
    column = header.index("NUM SAMPLES")
    ingested = sum(int(row[column:].split()[0]) for row in rows)
    assert ingested == len(sample_lines(openmetrics))


def test_openmetrics_ends_with_eof(openmetrics):
    assert openmetrics.endswith("\n# EOF\n")
    assert openmetrics.count("# EOF") == 1


def test_exemplar_only_in_openmetrics_on_the_bucket_of_its_value(text, openmetrics):
    assert " # {" not in text
    exemplars = [line for line in sample_lines(openmetrics) if " # {" in line]
    assert len(exemplars) == 1
    match = re.fullmatch(
        r'http_server_request_duration_seconds_bucket\{.*,le="0\.05"\} \d+ '
        rf'# \{{trace_id="{TRACE_ID}",span_id="{SPAN_ID}"\}} 0\.042 (\d+\.\d{{3}})',
        exemplars[0])
    assert match, exemplars[0]
    assert abs(float(match.group(1)) - time.time()) < 600


def test_counters_are_named_as_each_format_wants(text, openmetrics):
    assert "# TYPE http_server_requests_total counter\n" in text
    assert "# TYPE http_server_requests counter\n" in openmetrics
    assert "# TYPE process_cpu_seconds counter\n" in openmetrics
    for body in (text, openmetrics):
        assert '\nhttp_server_requests_total{method="GET",route="/pokemon/{id}",status_code="200"} 41\n' in body


def test_both_formats_expose_the_same_series(text, openmetrics):
    # le and quantile values are written alike, so a series keeps its
    # identity whichever format a scraper negotiates.
    assert [series_key(line) for line in sample_lines(text)] == \
        [series_key(line) for line in sample_lines(openmetrics)]


def test_escaping_and_non_finite_values(text, openmetrics):
    for body in (text, openmetrics):
        assert '{q="pika\\"chu\\\\\\nline two"} 1\n' in body
        assert 'pokedex_cache_entry_ttl_seconds{cache="species"} +Inf\n' in body
    assert 'by the "q" parameter received.\n' in text
    assert 'by the \\"q\\" parameter received.\n' in openmetrics


def test_process_metrics_are_plausible(text):
    values = {}
    for line in sample_lines(text):
        head, _ = split_after_value(line)
        name, value = head.rsplit(" ", 1)
        if name.startswith("process_"):
            values[name] = float(value)
    assert set(values) == {
        "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
        "process_open_fds", "process_max_fds", "process_start_time_seconds", "process_threads"}
    assert values["process_resident_memory_bytes"] > 0
    assert values["process_open_fds"] >= 3
    assert values["process_cpu_seconds_total"] >= 0
    assert time.time() - 600 < values["process_start_time_seconds"] <= time.time() + 1


def test_sample_refuses_an_unknown_format():
    binary = os.environ.get("METRICS_SAMPLE_BIN")
    if not binary:
        pytest.fail("METRICS_SAMPLE_BIN must name the metrics_sample binary")
    result = subprocess.run([binary, "json"], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "usage" in result.stderr
