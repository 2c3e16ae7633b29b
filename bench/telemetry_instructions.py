#!/usr/bin/env python3
"""Telemetry's cost in instructions per request, counted by callgrind: a
figure that does not move with the machine's noise, unlike req/s.

apimon (embedded SQLite, one thread, no access log) runs under callgrind
with instrumentation off; after a warm-up, instrumentation is switched on,
REQUESTS then 2 x REQUESTS requests for seeded random ids are sent one after
the other on a kept-alive connection, and the counts are dumped. The
difference divided by REQUESTS is the marginal cost of one request, without
start-up and warm-up. Telemetry off is --telemetry false with
OTEL_SDK_DISABLED=true; on is --telemetry true, parentbased_traceidratio at
SAMPLE_RATIO and no exporter (what an export costs is paid on the exporter's
own thread, once per batch). Prints one JSON object.

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
import shutil
import socket
import subprocess
import sys
import tempfile
import time


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


def instructions(apimon, telemetry, requests, sample_ratio, workdir):
    """Ir of `requests` requests, counted from the instrumentation switch-on to the dump."""
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if telemetry:
        env.update(OTEL_TRACES_EXPORTER="none", OTEL_TRACES_SAMPLER="parentbased_traceidratio",
                   OTEL_TRACES_SAMPLER_ARG=str(sample_ratio))
    else:
        env["OTEL_SDK_DISABLED"] = "true"
    out = os.path.join(workdir, "cg.%s.%d" % ("on" if telemetry else "off", requests))
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + out + ".%p",
         apimon, "--listen-address", "127.0.0.1", "--port", str(port), "--threads", "1", "--db-pool-size", "1",
         "--access-log", "false", "--telemetry", "true" if telemetry else "false"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        def control(action):
            subprocess.run(["callgrind_control", action, str(process.pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        control("--instr=on")
        send(port, requests, seed=1)
        control("--dump")
        control("--instr=off")
    finally:
        process.terminate()
        process.wait(timeout=120)
    dumps = sorted(glob.glob(out + ".%d.*" % process.pid))
    if not dumps:
        raise SystemExit("callgrind wrote no dump")
    with open(dumps[0]) as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise SystemExit("no summary in %s" % dumps[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apimon", required=True)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--sample-ratio", type=float, default=0.01)
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is missing (apt-get install valgrind)")
    per_request = {}
    with tempfile.TemporaryDirectory() as workdir:
        for telemetry in (False, True):
            once = instructions(args.apimon, telemetry, args.requests, args.sample_ratio, workdir)
            twice = instructions(args.apimon, telemetry, 2 * args.requests, args.sample_ratio, workdir)
            per_request["on" if telemetry else "off"] = (twice - once) / args.requests
    off, on = per_request["off"], per_request["on"]
    json.dump({"requests": args.requests, "off_ir_per_request": round(off), "on_ir_per_request": round(on),
               "overhead_percent": round((on / off - 1) * 100, 2)}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
