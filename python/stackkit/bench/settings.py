"""What a run of the bench measures and how: the cases, the load, and the
options, each a flag and an environment variable. Bad values are a UsageError."""

import argparse
import os
import re
from dataclasses import dataclass

from stackkit.bench import pinning

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# In the order they run and are reported.
CASES = ("nginx", "nginx-log", "sqlite", "sqlite-cache", "mariadb", "sysbench", "rss", "telemetry-off",
         "telemetry-on", "access-log", "always-on", "always-on-jaeger", "configured", "seed", "spans",
         "telemetry-instructions", "soak")
APIMON_CASES = {"sqlite", "sqlite-cache", "mariadb", "rss", "telemetry-off", "telemetry-on", "access-log",
                "always-on", "always-on-jaeger", "configured", "seed", "telemetry-instructions", "soak"}
JAEGER_CASES = {"telemetry-on", "always-on-jaeger", "configured", "seed", "soak"}
WRK_CASES = {"nginx", "nginx-log", "sqlite", "sqlite-cache", "mariadb", "telemetry-off", "telemetry-on", "access-log",
             "always-on", "always-on-jaeger", "configured", "seed"}
NGINX_CASES = {"nginx", "nginx-log", "always-on"}  # always-on's span sink is an nginx
MARIADB_CASES = {"mariadb", "sysbench", "seed"}

CONNECTIONS = 64  # wrk's connections and sysbench's threads
RANDOM_ID_SCRIPT = os.path.join(REPO, "bench", "random_id.lua")
TELEMETRY_INSTRUCTIONS_SCRIPT = os.path.join(REPO, "bench", "telemetry_instructions.py")
# telemetry-on's tracing (the OTLP endpoint is the Jaeger started for the run;
# always-on-jaeger and seed sample every trace, configured leaves apimon's default).
SAMPLER = "parentbased_traceidratio"
SAMPLER_ARG = "0.01"
TRACED_SERVICE = "apimon-bench"
# The soak samples more: its span pipeline runs for minutes, not seconds.
SOAK_SAMPLER_ARG = "0.1"


class UsageError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    cases: tuple
    duration: int
    warmup: int
    db_pool: int
    rounds: int
    pairs: int
    slice: int
    out: str
    apimon: str
    telemetry_bench: str
    pokeload: str
    soak_duration: int
    soak_warmup: int
    soak_interval: int
    soak_rate: int
    seed_workers: int
    server_cpu: int
    client_cpu: int
    mariadb_cpus: frozenset

    def selected(self, *names):
        return any(name in self.cases for name in names)

    @property
    def mariadb_cpu_list(self):
        return pinning.format_cpu_list(self.mariadb_cpus)


def _default_build(relative):
    """build/ci's binary if it is there, else build/release's."""
    ci = os.path.join("build", "ci", relative)
    return ci if os.access(os.path.join(REPO, ci), os.X_OK) else os.path.join("build", "release", relative)


# flag, environment variable, default, (lowest, highest) for whole numbers, what it is
_WHOLE_NUMBERS = (
    ("--duration", "BENCH_DURATION", "10", (1, None), "seconds of each measured run"),
    ("--warmup", "BENCH_WARMUP", "2", (0, None), "seconds of load before each server's first measured run"),
    ("--db-pool", "BENCH_DB_POOL", "8", (1, 256), "apimon's database pool in the mariadb case"),
    ("--telemetry-rounds", "BENCH_TELEMETRY_ROUNDS", "3", (1, 100),
     "rounds of the paired cases (telemetry, nginx-log, access-log, always-on, always-on-jaeger, seed)"),
    ("--telemetry-pairs", "BENCH_TELEMETRY_PAIRS", "6", (1, 100), "pairs of runs in each round"),
    ("--telemetry-slice", "BENCH_TELEMETRY_SLICE", "3", (1, 600), "seconds of each run of a pair"),
    ("--seed-workers", "BENCH_SEED_WORKERS", "2", (1, 64), "gunicorn's sync workers in the seed peer"),
    ("--server-cpu", "BENCH_SERVER_CPU", "1", (0, None), "CPU of the server under test"),
    ("--client-cpu", "BENCH_CLIENT_CPU", "0", (0, None), "CPU of wrk, sysbench, pokeload and Jaeger"),
    ("--soak-duration", "BENCH_SOAK_DURATION", "600", (2, 86400), "seconds of the soak's load"),
    ("--soak-warmup", "BENCH_SOAK_WARMUP", "60", (0, 86400),
     "first seconds of the soak left out of its growth figures"),
    ("--soak-interval", "BENCH_SOAK_INTERVAL", "5", (1, 600), "seconds between the soak's samples"),
    ("--soak-rate", "BENCH_SOAK_RATE", "200", (1, 100000), "requests per second pokeload sends in the soak"),
)
_TEXTS = (
    ("--mariadb-cpus", "BENCH_MARIADB_CPUS", "0,1", "0,1", "CPUS", "CPUs of mariadbd (a list like 0,1 or 0-3)"),
    ("--out", "BENCH_OUT", os.path.join("build", "bench"), "build/bench", "DIR",
     "where results.json, results.md and the logs go"),
    ("--apimon", "APIMON_BIN", None, "build/ci's, else build/release's", "PATH", "apimon binary"),
    ("--telemetry-bench", "TELEMETRY_BENCH_BIN", None, "build/ci's, else build/release's", "PATH",
     "telemetry_bench binary"),
    ("--pokeload", "POKELOAD_BIN", None, "build/ci's, else build/release's", "PATH", "pokeload binary (soak)"),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parser():
    p = _Parser(
        prog="scripts/bench",
        description="Throughput, latency and memory of apimon against the machine's own ceilings (nginx, "
                    "sysbench on MariaDB) and the seed project's design (Flask under gunicorn), the cost of its "
                    "access log and telemetry, and a soak at a steady rate with telemetry on, every case in one run. "
                    "The method is in docs/performance.md.",
        epilog="Each option's environment variable is read when the option is not given. Relative paths are "
               "taken from the repository's root. Exit status: 0 every case measured, 1 a case failed or a "
               "tool is missing, 2 a bad option.")
    p.add_argument("--only", metavar="CASE[,CASE...]",
                   help="measure only these cases (default all): " + ", ".join(CASES))
    for flag, env, default, (_, high), what in _WHOLE_NUMBERS:
        p.add_argument(flag, metavar="N", help=f"{what} (${env}, default {default}" + (
            f", at most {high})" if high else ")"))
    for flag, env, _, shown_default, metavar, what in _TEXTS:
        p.add_argument(flag, metavar=metavar, help=f"{what} (${env}, default {shown_default})")
    return p


def _whole_number(text, flag, env, low, high):
    number = int(text) if re.fullmatch(r"[0-9]+", text.strip()) else None
    if number is None or number < low or (high is not None and number > high):
        bounds = f"from {low} to {high}" if high is not None else f"of {low} or more"
        raise UsageError(f"{flag} (${env}) must be a whole number {bounds}, not {text!r}")
    return number


def _selected_cases(text):
    if text is None:
        return CASES
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError("--only needs at least one case")
    for name in names:
        if name not in CASES:
            raise UsageError(f"unknown case {name!r} (known: {', '.join(CASES)})")
    return tuple(case for case in CASES if case in names)


def parse(argv, environ=None, allowed_cpus=None):
    """Settings from the command line and the environment; UsageError naming
    the option if one is bad."""
    environ = os.environ if environ is None else environ
    args = vars(parser().parse_args(argv))

    def given(flag, env, default):
        value = args[flag[2:].replace("-", "_")]
        return value if value is not None else environ.get(env, default)

    numbers = {flag: _whole_number(given(flag, env, default), flag, env, low, high)
               for flag, env, default, (low, high), _ in _WHOLE_NUMBERS}
    texts = {flag: given(flag, env, default) for flag, env, default, *_ in _TEXTS}
    cases = _selected_cases(args["only"])

    server_cpu, client_cpu = numbers["--server-cpu"], numbers["--client-cpu"]
    if server_cpu == client_cpu:
        raise UsageError("--server-cpu ($BENCH_SERVER_CPU) and --client-cpu ($BENCH_CLIENT_CPU) must be two "
                         f"different CPUs, not both {server_cpu}")
    try:
        mariadb_cpus = pinning.parse_cpu_list(texts["--mariadb-cpus"])
    except ValueError:
        raise UsageError(f"--mariadb-cpus ($BENCH_MARIADB_CPUS) must be a CPU list like 0,1 or 0-3, not "
                         f"{texts['--mariadb-cpus']!r}") from None
    if "soak" in cases and numbers["--soak-warmup"] >= numbers["--soak-duration"]:
        raise UsageError(f"--soak-warmup ($BENCH_SOAK_WARMUP) must be shorter than --soak-duration "
                         f"($BENCH_SOAK_DURATION): {numbers['--soak-warmup']} s of {numbers['--soak-duration']} s "
                         "leave nothing to judge")
    allowed = pinning.allowed_cpus() if allowed_cpus is None else allowed_cpus
    used = {server_cpu, client_cpu} | (mariadb_cpus if MARIADB_CASES & set(cases) else set())
    unavailable = sorted(used - allowed)
    if unavailable:
        raise UsageError(f"CPU {pinning.format_cpu_list(unavailable)} is not available to this process "
                         f"(allowed: {pinning.format_cpu_list(allowed)})")

    def path(flag, default):
        return os.path.abspath(os.path.join(REPO, texts[flag] or default))

    return Settings(
        cases=cases,
        duration=numbers["--duration"],
        warmup=numbers["--warmup"],
        db_pool=numbers["--db-pool"],
        rounds=numbers["--telemetry-rounds"],
        pairs=numbers["--telemetry-pairs"],
        slice=numbers["--telemetry-slice"],
        out=path("--out", None),
        apimon=path("--apimon", _default_build(os.path.join("services", "apimon", "apimon"))),
        telemetry_bench=path("--telemetry-bench", _default_build(os.path.join("bench", "telemetry_bench"))),
        pokeload=path("--pokeload", _default_build(os.path.join("services", "pokeload", "pokeload"))),
        soak_duration=numbers["--soak-duration"],
        soak_warmup=numbers["--soak-warmup"],
        soak_interval=numbers["--soak-interval"],
        soak_rate=numbers["--soak-rate"],
        seed_workers=numbers["--seed-workers"],
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        mariadb_cpus=mariadb_cpus,
    )
