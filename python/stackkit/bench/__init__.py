"""The bench behind scripts/bench: apimon's throughput, latency and memory
measured against what the machine can do at all and against the seed
project's design, every case in one run.

    settings    the cases, the options (flags and environment variables)
    runner      the run: prerequisites, the cases in order, cleanup, exit status
    scenarios   the cases but the paired ones and the soak (configured included)
    comparisons the paired cases: telemetry, nginx-log, access-log, always-on(-jaeger), seed
    span_sink   the span sink always-on exports to
    paired      measuring two configurations side by side in rounds of pairs
    soak        minutes of steady load with telemetry on; RSS, fds and threads over time
    apimon      apimon as the cases start it; peer  the seed peer (bench/peers/seed)
    measure     one wrk-measured run
    launch      processes: start pinned, stop with what they started, bounded runs
    pinning     CPU affinity and SCHED_IDLE; procfs  CPU and memory from /proc
    parse       wrk, sysbench, Google Benchmark and span counter output
    stats       medians, ratios, CPU shares; results, report  figures and report

The method, and the figures it produced, are in docs/performance.md.
"""
