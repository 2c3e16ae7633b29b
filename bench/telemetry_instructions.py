#!/usr/bin/env python3
"""Telemetry's and the access log's cost in instructions per request,
counted by callgrind: a figure that does not move with the machine's noise,
unlike req/s.

apimon (embedded SQLite, one thread, no access log) runs under callgrind
with instrumentation off; after a warm-up, instrumentation is switched on,
REQUESTS then 2 x REQUESTS requests for seeded random ids are sent one after
the other on a kept-alive connection, and the counts are dumped. The
difference divided by REQUESTS is the marginal cost of one request, without
start-up and warm-up. Telemetry off is --telemetry false with
OTEL_SDK_DISABLED=true; on is --telemetry true, parentbased_traceidratio at
SAMPLE_RATIO and no exporter (what an export costs is paid on the exporter's
own thread, once per batch). A third case, access_log, is telemetry off with
the access log on (to /dev/null): callgrind counts the writer's thread too.
Prints one JSON object.

With --otlp-endpoint (an OTLP/HTTP collector such as a Jaeger that is already
running; its base URL), a third case, always_on, samples every request and
exports every span there. Callgrind counts every thread of apimon, the
exporter's included: the batch processor's schedule delay is set short and
the counting waits for the queue to drain before it starts and before it
dumps, so each span made in the counted window is also exported in it. That
case also reports instructions per exported span, and per exported span for
each stage (callgrind's inclusive counts of the functions that do it):
making spans (start, attributes, end), the hand-off to the batch processor,
the protobuf encoding, compression and the HTTP transport. Syscalls and the
kernel's work are not instructions callgrind sees: count them with strace.

Instructions are not time: atomic read-modify-writes, clock reads and cache
misses cost more than their count says, so this complements the req/s
overhead of scripts/bench, it does not replace it.
"""

import argparse
import glob
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

# The stages of the span pipeline, each the inclusive cost of the functions
# named (callgrind_annotate's names, matched at the start of the symbol).
STAGES = (
    ("span_start", ("trace::Tracer::start_span(",)),
    ("span_attributes", ("trace::Span::set_attribute(", "trace::Span::add_event(", "trace::Span::set_status(")),
    ("span_end", ("trace::Span::end(",)),
    ("handoff", ("trace::BatchSpanProcessor::on_end(",)),
    ("export_total", ("otlp::OtlpHttpExporter::export_spans(",)),
    ("span_release", ("trace::SpanData::~SpanData(",)),
    ("encoding", ("otlp::append_export_trace_request(",)),
    ("compression", ("otlp::GzipCompressor::compress(",)),
    ("transport", ("otlp::HttpTransport::post(",)),
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send(port, count, seed):
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(count):
        connection.request("GET", "/pokemon/%d" % rng.randint(1, 1025))
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit("apimon answered %d" % response.status)
    connection.close()


def span_pipeline(port):
    """(spans exported, export batches, spans queued now, spans sampled) from apimon's /metrics."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()

    def value(pattern):
        match = re.search(r"^" + pattern + r"\s+(\S+)$", text, re.MULTILINE)
        return int(float(match.group(1))) if match else 0

    return (
        value(r"otel_sdk_spans_exported_total"),
        value(r'otel_sdk_span_export_duration_seconds_count\{outcome="success"\}'),
        value(r"otel_sdk_span_queue_length"),
        value(r'otel_sdk_spans_started_total\{sampled="true"\}'),
    )


def wait_for_export(port, schedule_delay_ms):
    """Polls /metrics until the batch processor has exported every span but
    the one of the scrape that asks (/metrics is traced too); returns the
    last reading and how many scrapes it took."""
    deadline = time.monotonic() + 300
    scrapes = 0
    while time.monotonic() < deadline:
        time.sleep(2 * schedule_delay_ms / 1000)
        now = span_pipeline(port)
        scrapes += 1
        if now[2] == 0 and now[0] == now[3] - 1:
            return now, scrapes
    raise SystemExit("the span queue did not drain")


def call_costs(dump):
    """{function: inclusive Ir of its calls} of a callgrind dump, read from its
    call records. Callgrind names a function by its symbol (inlined code
    counts to the function it is inlined into) and marks a nested call of a
    function already on the stack with 'N; counts are summed over those
    levels. (A thread that was inside a function when counting began shows its
    later calls of it as such nested calls.) None of the stages recurses."""
    names = {}
    costs = {}

    def name_of(spec):
        match = re.match(r"\((\d+)\)(?: (.*))?$", spec)
        if not match:
            return spec
        if match.group(2) is not None:
            names[match.group(1)] = match.group(2)
        return names[match.group(1)]

    caller = callee = None
    pending_call = False
    with open(dump) as f:
        for line in f:
            if line.startswith("fn="):
                caller = name_of(line[3:].rstrip("\n"))
            elif line.startswith("cfn="):
                callee = name_of(line[4:].rstrip("\n"))
            elif line.startswith("calls="):
                pending_call = True
            elif pending_call and line[:1] in "0123456789+-*":
                pending_call = False
                if callee != caller:
                    fields = line.split()
                    function = re.sub(r"'\d+$", "", callee)
                    costs[function] = costs.get(function, 0) + (int(fields[1]) if len(fields) > 1 else 0)
    return costs


def stage_costs(dump):
    costs = call_costs(dump)
    stages = {}
    for stage, prefixes in STAGES:
        stages[stage] = sum(cost for symbol, cost in costs.items() if symbol.startswith(prefixes))
    return stages


def instructions(apimon, case, requests, sample_ratio, workdir, otlp=None):
    """(Ir of `requests` requests, counted from the instrumentation switch-on
    to the dump; the dump's path; spans exported and export batches in that
    window, always_on only)."""
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if case == "on":
        env.update(
            OTEL_TRACES_EXPORTER="none",
            OTEL_TRACES_SAMPLER="parentbased_traceidratio",
            OTEL_TRACES_SAMPLER_ARG=str(sample_ratio),
        )
    elif case == "always_on":
        env.update(
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_TRACES_SAMPLER="always_on",
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp["endpoint"],
            OTEL_SERVICE_NAME="apimon-instructions",
            OTEL_BSP_SCHEDULE_DELAY=str(otlp["schedule_delay_ms"]),
        )
        if otlp["compression"]:
            env["OTEL_EXPORTER_OTLP_COMPRESSION"] = otlp["compression"]
        for name in ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"):
            if name in os.environ:
                env[name] = os.environ[name]
    else:
        env["OTEL_SDK_DISABLED"] = "true"
    out = os.path.join(workdir, "cg.%s.%d" % (case, requests))
    process = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--callgrind-out-file=" + out + ".%p",
            apimon,
            "--listen-address",
            "127.0.0.1",
            "--port",
            str(port),
            "--threads",
            "1",
            "--db-pool-size",
            "1",
            "--access-log",
            "true" if case == "access_log" else "false",
            "--telemetry",
            "false" if case in ("off", "access_log") else "true",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    exported = None
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("apimon did not start under callgrind") from error
                time.sleep(0.2)
        send(port, 500, seed=7)  # warm-up: caches, pools, the series of the metrics
        if case == "always_on":
            before, _ = wait_for_export(port, otlp["schedule_delay_ms"])

        def control(action):
            subprocess.run(
                ["callgrind_control", action, str(process.pid)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        control("--instr=on")
        send(port, requests, seed=1)
        if case == "always_on":
            time.sleep(2 * otlp["schedule_delay_ms"] / 1000 + 1)  # the last batch goes out
        control("--dump")
        control("--instr=off")
        if case == "always_on":
            after, scrapes = wait_for_export(port, otlp["schedule_delay_ms"])
            # Every scrape makes a span of its own; those after the dump are not the requests'.
            exported = {"spans": after[3] - before[3] - scrapes, "batches": after[1] - before[1] - scrapes}
    finally:
        process.terminate()
        process.wait(timeout=120)
    dumps = sorted(glob.glob(out + ".%d.*" % process.pid))
    if not dumps:
        raise SystemExit("callgrind wrote no dump")
    with open(dumps[0]) as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1]), dumps[0], exported
    raise SystemExit("no summary in %s" % dumps[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apimon", required=True)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--sample-ratio", type=float, default=0.01)
    parser.add_argument("--otlp-endpoint", help="base URL of a running OTLP/HTTP collector: adds the always_on case")
    parser.add_argument(
        "--compression",
        choices=("none", "gzip"),
        help="OTEL_EXPORTER_OTLP_COMPRESSION for always_on (default: apimon's)",
    )
    parser.add_argument("--schedule-delay-ms", type=int, default=500, help="OTEL_BSP_SCHEDULE_DELAY for always_on")
    parser.add_argument("--keep-dumps", metavar="DIR", help="write the callgrind dumps to DIR and keep them")
    parser.add_argument("--only-always-on", action="store_true", help="skip the off and ratio-sampled cases")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is missing (apt-get install valgrind)")
    cases = [] if args.only_always_on else ["off", "on", "access_log"]
    otlp = None
    if args.otlp_endpoint:
        cases.append("always_on")
        otlp = {
            "endpoint": args.otlp_endpoint,
            "compression": args.compression,
            "schedule_delay_ms": args.schedule_delay_ms,
        }
    per_request = {}
    result = {"requests": args.requests}
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.keep_dumps or scratch
        os.makedirs(workdir, exist_ok=True)
        for case in cases:
            once, once_dump, once_exported = instructions(
                args.apimon, case, args.requests, args.sample_ratio, workdir, otlp
            )
            twice, twice_dump, twice_exported = instructions(
                args.apimon, case, 2 * args.requests, args.sample_ratio, workdir, otlp
            )
            per_request[case] = (twice - once) / args.requests
            if case == "always_on":
                spans = twice_exported["spans"] - once_exported["spans"]
                once_stages, twice_stages = stage_costs(once_dump), stage_costs(twice_dump)
                result["always_on_spans_per_request"] = spans / args.requests
                result["always_on_spans_per_batch"] = round(
                    twice_exported["spans"] / max(1, twice_exported["batches"]), 1
                )
                result["always_on_ir_per_span"] = round((twice - once) / spans)
                result["always_on_stage_ir_per_span"] = {
                    stage: round((twice_stages[stage] - once_stages[stage]) / spans) for stage, _ in STAGES
                }
    if "off" in per_request:
        off, on = per_request["off"], per_request["on"]
        result.update(
            off_ir_per_request=round(off), on_ir_per_request=round(on), overhead_percent=round((on / off - 1) * 100, 2)
        )
    if "access_log" in per_request:
        off, logged = per_request["off"], per_request["access_log"]
        result.update(
            access_log_ir_per_request=round(logged), access_log_overhead_percent=round((logged / off - 1) * 100, 2)
        )
    if "always_on" in per_request:
        result["always_on_ir_per_request"] = round(per_request["always_on"])
        if "off" in per_request:
            result["always_on_overhead_percent"] = round((per_request["always_on"] / per_request["off"] - 1) * 100, 2)
            result["always_on_ir_per_span_over_off"] = round(
                (per_request["always_on"] - per_request["off"]) / result["always_on_spans_per_request"]
            )
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
