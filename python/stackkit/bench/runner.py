"""scripts/bench: runs the selected cases in one go, then reports. Everything
it starts (servers, load generators, the MariaDB and Jaeger fixtures) is
stopped when it ends, fails or is interrupted."""

import contextlib
import glob
import os
import shutil
import signal
import sys
import tempfile
import time

from stackkit import jaeger, mariadb
from stackkit.bench import comparisons, launch, paired, peer, pinning, report, scenarios, soak
from stackkit.bench.results import Results
from stackkit.bench.settings import (
    APIMON_CASES,
    CONNECTIONS,
    JAEGER_CASES,
    MARIADB_CASES,
    NGINX_CASES,
    WRK_CASES,
    UsageError,
    parse,
)

MARIADB_START_TIMEOUT = 900  # it loads the Pokédex


class MissingPrerequisite(RuntimeError):
    pass


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that the same cleanup runs."""


class Bench:
    """One run: its settings and results, a temporary directory, private
    copies of the binaries under test (a rebuild during the run changes
    nothing), and what it started, stopped by close()."""

    def __init__(self, settings):
        self.settings = settings
        self.results = Results()
        self.out = settings.out
        self.apimon = None
        self.telemetry_bench = None
        self.pokeload = None
        self._mariadb_state = None
        self._mariadb_failed = False
        self.comparisons_measured = set()
        self._cleanup = contextlib.ExitStack()
        self.tmp = tempfile.mkdtemp(prefix="apimon-bench.")
        self._cleanup.callback(shutil.rmtree, self.tmp, ignore_errors=True)
        # The fixtures' state directories; a fixture is stopped when the bench ends.
        self.mariadb_dir = os.path.join(self.tmp, "mariadb")
        self.jaeger_dir = os.path.join(self.tmp, "jaeger")
        self._cleanup.callback(_stop_fixture, mariadb, "MariaDB", self.mariadb_dir)
        self._cleanup.callback(self.stop_jaeger)

    def close(self):
        self._cleanup.close()

    def copy_binaries(self):
        if os.access(self.settings.apimon, os.X_OK):
            self.apimon = shutil.copy2(self.settings.apimon, os.path.join(self.tmp, "apimon"))
        if self.settings.selected("spans"):
            self.telemetry_bench = shutil.copy2(self.settings.telemetry_bench,
                                                os.path.join(self.tmp, "telemetry_bench"))
        if self.settings.selected("soak"):
            self.pokeload = shutil.copy2(self.settings.pokeload, os.path.join(self.tmp, "pokeload"))

    def start(self, argv, output, cpus, env=None):
        """A server, stopped at the latest when the bench ends."""
        process = launch.start(argv, output, cpus, env)
        self._cleanup.callback(launch.stop, process)
        return process

    def mariadb(self):
        """The MariaDB fixture's state, started on first use with mariadbd on
        the MariaDB CPUs; None if it did not start."""
        if self._mariadb_state is None and not self._mariadb_failed:
            self._mariadb_failed = True
            print("  starting the MariaDB fixture (loads the Pokédex; may take a while)")
            try:
                state = launch.call_in_session(lambda: mariadb.start(self.mariadb_dir), MARIADB_START_TIMEOUT)
                pinning.pin_threads(state["pid"], self.settings.mariadb_cpus)
            except (launch.SessionCallFailed, OSError) as error:
                print(f"bench: {error}", file=sys.stderr)
                return None
            self._mariadb_state, self._mariadb_failed = state, False
        return self._mariadb_state

    def pin_mariadb(self):
        """Every thread of mariadbd on the MariaDB CPUs, those it started since too."""
        pinning.pin_threads(self._mariadb_state["pid"], self.settings.mariadb_cpus)

    def stop_jaeger(self):
        _stop_fixture(jaeger, "Jaeger", self.jaeger_dir)


def _stop_fixture(module, name, state_dir):
    if not os.path.isdir(state_dir):
        return
    try:
        module.stop(state_dir, remove=True)
    except (module.FixtureError, OSError) as error:
        print(f"bench: could not stop the {name} fixture in {state_dir}: {error}", file=sys.stderr)


def _measure_comparison(bench, case):
    """A paired case: its comparison is measured once, for whichever of its
    cases comes first."""
    comparison = comparisons.BY_CASE[case]
    if comparison in bench.comparisons_measured:
        print(f"  (measured together with {comparison.cases[0]} above)")
        return
    bench.comparisons_measured.add(comparison)
    paired.measure(bench, comparison)


CASE_MEASUREMENTS = {
    "nginx": scenarios.nginx,
    "sqlite": scenarios.sqlite,
    "sqlite-cache": scenarios.sqlite_cache,
    "mariadb": scenarios.mariadb,
    "sysbench": scenarios.sysbench,
    "rss": scenarios.rss,
    "configured": scenarios.configured,
    "spans": scenarios.spans,
    "telemetry-instructions": scenarios.telemetry_instructions,
    "soak": soak.measure,
}
CASE_MEASUREMENTS.update((case, lambda bench, case=case: _measure_comparison(bench, case))
                         for case in comparisons.BY_CASE)


def check_prerequisites(settings):
    """Raises MissingPrerequisite naming the first tool or binary the selected
    cases need and this machine lacks."""
    tools = []
    if settings.selected(*WRK_CASES):
        tools.append(("wrk", "apt-get install wrk"))
    if settings.selected(*NGINX_CASES):
        tools.append(("nginx", "apt-get install nginx-light"))
    if settings.selected("sysbench"):
        tools.append(("sysbench", "apt-get install sysbench"))
    if settings.selected(*MARIADB_CASES):
        tools += [("mariadb", "apt-get install mariadb-server"), ("mariadbd", "apt-get install mariadb-server")]
    if settings.selected("telemetry-instructions"):
        tools.append(("valgrind", "apt-get install valgrind"))
    for tool, install in tools:
        if shutil.which(tool) is None:
            raise MissingPrerequisite(f"'{tool}' not found ({install})")
    if settings.selected(*APIMON_CASES) and not os.access(settings.apimon, os.X_OK):
        raise MissingPrerequisite(f"no apimon binary at {settings.apimon} (build it: cmake --preset ci && ninja -C "
                                  "build/ci apimon, or give --apimon / APIMON_BIN)")
    if settings.selected(*JAEGER_CASES):
        try:
            jaeger.binary_path()
        except jaeger.FixtureError as error:
            raise MissingPrerequisite(f"no Jaeger binary: {error}") from None
    if settings.selected("seed"):
        try:
            peer.ensure_venv()
        except (peer.PeerError, OSError) as error:
            raise MissingPrerequisite(f"the seed peer's venv: {error}") from None
    if settings.selected("spans") and not os.access(settings.telemetry_bench, os.X_OK):
        raise MissingPrerequisite(f"no telemetry_bench binary at {settings.telemetry_bench} (build it: ninja -C "
                                  "build/ci telemetry_bench, or give --telemetry-bench / TELEMETRY_BENCH_BIN)")
    if settings.selected("soak") and not os.access(settings.pokeload, os.X_OK):
        raise MissingPrerequisite(f"no pokeload binary at {settings.pokeload} (build it: ninja -C build/ci "
                                  "pokeload, or give --pokeload / POKELOAD_BIN)")


def remove_stale_artefacts(settings):
    """What an earlier run left of the cases measured now."""
    stale = [os.path.join(settings.out, "results.json"), os.path.join(settings.out, "results.md")]
    for name in comparisons.rows(settings.cases):
        for pattern in (f"{name}.*.log", f"{name}.wrk.txt", f"{name}.r*.wrk.txt"):
            stale += glob.glob(os.path.join(glob.escape(settings.out), pattern))
    for name, artefact in (("nginx", "nginx.conf"), ("sysbench", "sysbench.txt"), ("spans", "spans.json"),
                           ("soak", "soak.samples.csv")):
        if settings.selected(name):
            stale.append(os.path.join(settings.out, artefact))
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def _header(settings, bench):
    lines = [
        f"apimon bench: wrk -t1 -c{CONNECTIONS}, {settings.duration}s per case ({settings.warmup}s warm-up), random "
        "ids 1..1025",
        f"pinning: server under test on CPU {settings.server_cpu}, wrk/sysbench/Jaeger/span sink on CPU "
        f"{settings.client_cpu}, "
        f"mariadbd on CPUs {settings.mariadb_cpu_list}",
        "apimon cases without telemetry (--telemetry false --access-log false, OTEL_SDK_DISABLED=true) but "
        "telemetry-on, access-log, always-on(-jaeger), configured, seed and soak; paired cases in "
        f"{settings.rounds} rounds of {settings.pairs} pairs of {settings.slice}s runs"]
    if settings.selected("soak"):
        lines.append(f"soak: pokeload at {settings.soak_rate}/s for {settings.soak_duration}s against apimon with "
                     f"telemetry on, a sample every {settings.soak_interval}s, growth after {settings.soak_warmup}s")
    if bench.apimon:
        built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(settings.apimon)))
        lines.append(f"apimon: {settings.apimon} (built {built}, run from a private copy)")
    return "\n".join(lines) + "\n"


def run(settings):
    """Measures the selected cases and writes the report; the exit status."""
    check_prerequisites(settings)
    os.makedirs(settings.out, exist_ok=True)
    bench = Bench(settings)
    try:
        bench.copy_binaries()
        remove_stale_artefacts(settings)
        print(_header(settings, bench))
        for name in comparisons.rows(settings.cases):
            bench.results[name]  # failed until it is measured
        for name in settings.cases:
            print(f"== {name}")
            CASE_MEASUREMENTS[name](bench)
        report.write(settings, bench.results)
    finally:
        # Nothing interrupts the cleanup itself; each step of it is bounded.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.close()
    if bench.results.failed:
        print("bench: at least one measurement FAILED (see above)", file=sys.stderr)
        return 1
    return 0


def _terminate(signum, frame):
    raise Terminated()


def main(argv=None):
    sys.stdout.reconfigure(line_buffering=True)  # progress and errors interleave in a log too
    try:
        settings = parse(argv)
    except UsageError as error:
        print(f"bench: {error} (see --help)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return run(settings)
    except MissingPrerequisite as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; what it started is stopped", file=sys.stderr)
        return 128 + signal.SIGINT
    except Terminated:
        print("bench: terminated; what it started is stopped", file=sys.stderr)
        return 128 + signal.SIGTERM
