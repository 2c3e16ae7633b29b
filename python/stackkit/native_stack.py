#!/usr/bin/env python3
"""The study stack without Docker: the topology of compose.yaml as plain
processes on one Debian host, on loopback, with the same configuration files.

    scripts/stack up        start what is not running, wait until all is ready
    scripts/stack down      stop everything (add --remove to delete the state)
    scripts/stack status    each component: pid, ready or not, address, memory

Components and their default addresses (every port moves by
POKEDEX_STACK_PORT_OFFSET, so a second stack can run beside the first):

    mariadb          127.0.0.1:3306   Debian's mariadb-server, a private datadir
    jaeger           127.0.0.1:16686  query API; OTLP 4317/4318; own metrics 8888
    apimon           127.0.0.1:5000
    api-prometheus   127.0.0.1:8689
    pokeload         127.0.0.1:9464 (load on api-prometheus)
    pokeload-apimon  127.0.0.1:9465 (load on apimon)
    node-exporter    127.0.0.1:9100   node_exporter
    mysqld-exporter  127.0.0.1:9104   Debian's prometheus-mysqld-exporter
    alertmanager     127.0.0.1:9093   Alertmanager
    prometheus       127.0.0.1:9090   Prometheus

Jaeger, Prometheus, Alertmanager and node_exporter are the releases
scripts/tool-versions pins, built from their Go modules by
scripts/install-tools into its tool cache (the same releases compose.yaml
names as images). Those builds carry no web UI assets: the HTTP APIs of
Jaeger, Prometheus and Alertmanager answer (/api/..., /-/ready, /metrics)
but their UI pages do not (Alertmanager's root page says so and links its
API); the compose images have the UIs.

Not here: Grafana (not packaged in Debian) and cAdvisor (it watches
containers; there are none). The dashboards' queries run against this
Prometheus all the same.

What differs from compose.yaml is only addresses: Prometheus reads
deploy/prometheus/prometheus.yml with each target's address replaced by its
loopback one (its instance label keeps the compose name, so alerts and
dashboards read the same) and without the cadvisor job; Jaeger reads
deploy/jaeger/config.yaml with its listen addresses from the environment;
Alertmanager's configuration is rendered by deploy/alertmanager/render-config.sh
and mysqld-exporter's credentials by deploy/mysqld-exporter/run.sh, as in
the containers.

Settings (environment):
    POKEDEX_STACK_DIR           state: data, logs, pids (default ~/.local/state/pokedex-stack)
    POKEDEX_STACK_PORT_OFFSET   added to every port (default 0)
    APIMON_BIN, APIPROM_BIN, POKELOAD_BIN
                                the service binaries (default: build/release,
                                built by `up` when missing)
    JAEGER_BIN, PROMETHEUS_BIN, ALERTMANAGER_BIN, NODE_EXPORTER_BIN
                                other builds of the tools (default: the tool
                                cache; `up` fails naming scripts/install-tools
                                when one is missing)
    POKEDEX_LOAD_RATE_APIMON, POKEDEX_LOAD_RATE_APIPROM
                                pokeload's requests per second (default 5 and 2)
    POKEDEX_TRACE_SAMPLE_RATIO  share of new traces kept (default 0.1)
    TELEGRAM_BOT_TOKEN_FILE, TELEGRAM_CHAT_ID, TELEGRAM_API_URL,
    ALERTMANAGER_GROUP_WAIT, ALERTMANAGER_GROUP_INTERVAL
                                as for render-config.sh; without a token and a
                                chat id, alerts are shown in Alertmanager only

The fault-injection admin API of apimon and api-prometheus is on, with a
random token written to $POKEDEX_STACK_DIR/fault_admin_token (mode 0600).
"""

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

from stackkit import jaeger  # the pinned Jaeger build's location
from stackkit import mariadb  # a private MariaDB with the schema, seed and accounts
from stackkit import processes
from stackkit import prometheus  # the pinned Prometheus-family builds' locations

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HOST = "127.0.0.1"
READY_TIMEOUT = 90
STOP_GRACE = 20
# As in compose.yaml: the monitor account may not run SHOW SLAVE STATUS.
MYSQLD_EXPORTER_FLAGS = ("--no-collect.slave_status",)
PROMETHEUS_FLAGS = ("--enable-feature=exemplar-storage", "--storage.tsdb.retention.time=31d",
                    "--web.enable-lifecycle")

# The compose ports, by name; every one moves by the offset.
PORTS = {
    "mariadb": 3306, "apimon": 5000, "api-prometheus": 8689, "pokeload": 9464, "pokeload-apimon": 9465,
    "jaeger-ui": 16686, "jaeger-query-grpc": 16685, "jaeger-otlp-grpc": 4317, "jaeger-otlp-http": 4318,
    "jaeger-health": 13133, "jaeger-health-grpc": 13132, "jaeger-metrics": 8888,
    "node-exporter": 9100, "mysqld-exporter": 9104, "alertmanager": 9093, "prometheus": 9090,
}
# Compose "service:port" → the key in PORTS, for Prometheus's targets.
COMPOSE_TARGETS = {
    "apimon:5000": "apimon", "api-prometheus:8689": "api-prometheus", "pokeload:9464": "pokeload",
    "pokeload-apimon:9464": "pokeload-apimon", "jaeger:8888": "jaeger-metrics",
    "node-exporter:9100": "node-exporter", "mysqld-exporter:9104": "mysqld-exporter",
    "alertmanager:9093": "alertmanager", "prometheus:9090": "prometheus",
}
CONTAINER_ONLY_JOBS = {"cadvisor"}


class StackError(Exception):
    pass


class Stack:
    def __init__(self, state_dir=None, offset=None):
        self.dir = os.path.abspath(state_dir or os.environ.get("POKEDEX_STACK_DIR")
                                   or os.path.expanduser("~/.local/state/pokedex-stack"))
        self.offset = int(offset if offset is not None else os.environ.get("POKEDEX_STACK_PORT_OFFSET", "0"))
        if not 0 <= self.offset <= 65535 - max(PORTS.values()):
            raise StackError("POKEDEX_STACK_PORT_OFFSET must be from 0 to %d" % (65535 - max(PORTS.values())))

    def port(self, name):
        return PORTS[name] + self.offset

    def url(self, name):
        return "http://%s:%d" % (HOST, self.port(name))

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def admin_token_file(self):
        return self.path("fault_admin_token")

    def admin_token(self):
        with open(self.admin_token_file) as f:
            return f.read().strip()

    # -------------------------------------------------------------- components

    def components(self):
        """Every process but MariaDB, in start order: (name, argv, env, ready URL)."""
        db = mariadb.load_state(self.path("mariadb"))
        tracing = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": self.url("jaeger-otlp-http"),
                   "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                   "OTEL_TRACES_SAMPLER_ARG": os.environ.get("POKEDEX_TRACE_SAMPLE_RATIO", "0.1")}
        jaeger_env = {"JAEGER_LISTEN_HOST": HOST, "JAEGER_OTLP_GRPC_PORT": self.port("jaeger-otlp-grpc"),
                      "JAEGER_OTLP_HTTP_PORT": self.port("jaeger-otlp-http"),
                      "JAEGER_QUERY_HTTP_PORT": self.port("jaeger-ui"),
                      "JAEGER_QUERY_GRPC_PORT": self.port("jaeger-query-grpc"),
                      "JAEGER_HEALTH_PORT": self.port("jaeger-health"),
                      "JAEGER_HEALTH_GRPC_PORT": self.port("jaeger-health-grpc"),
                      "JAEGER_METRICS_PORT": self.port("jaeger-metrics")}
        alertmanager_env = {k: v for k, v in os.environ.items()
                            if k.startswith(("TELEGRAM_", "ALERTMANAGER_GROUP_"))}
        alertmanager_env["ALERTMANAGER_CONFIG_OUT"] = self.path("alertmanager", "alertmanager.yml")
        if "TELEGRAM_BOT_TOKEN_FILE" not in alertmanager_env:
            alertmanager_env["TELEGRAM_BOT_TOKEN_FILE"] = self.path("alertmanager", "no_telegram_bot_token")
        binaries = self.binaries()
        return [
            ("jaeger", [jaeger.binary_path(), "--config=" + os.path.join(REPO, "deploy/jaeger/config.yaml")],
             jaeger_env, self.url("jaeger-health") + "/status"),
            ("apimon", [binaries["apimon"]], {
                **tracing, "OTEL_SERVICE_NAME": "apimon",
                "APIMON_LISTEN_ADDRESS": HOST, "APIMON_PORT": self.port("apimon"),
                "APIMON_DATABASE_URL": "mysql://%s@%s:%d/%s" % (db["app_user"], HOST, db["port"], db["database"]),
                "APIMON_DATABASE_PASSWORD_FILE": db["app_password_file"],
                "APIMON_ADMIN_TOKEN_FILE": self.admin_token_file}, self.url("apimon") + "/readyz"),
            ("api-prometheus", [binaries["api-prometheus"]], {
                **tracing, "OTEL_SERVICE_NAME": "api-prometheus",
                "APIPROM_LISTEN_ADDRESS": HOST, "APIPROM_PORT": self.port("api-prometheus"),
                "APIPROM_APIMON_URL": self.url("apimon"),
                "APIPROM_ADMIN_TOKEN_FILE": self.admin_token_file}, self.url("api-prometheus") + "/readyz"),
            ("pokeload", [binaries["pokeload"]], {
                **tracing, "OTEL_SERVICE_NAME": "pokeload",
                "POKELOAD_TARGET": self.url("api-prometheus"), "POKELOAD_API": "api-prometheus",
                "POKELOAD_RATE": os.environ.get("POKEDEX_LOAD_RATE_APIPROM", "2"),
                "POKELOAD_METRICS_ADDRESS": HOST, "POKELOAD_METRICS_PORT": self.port("pokeload"),
                "POKELOAD_REPORT_INTERVAL": "60s"}, self.url("pokeload") + "/metrics"),
            ("pokeload-apimon", [binaries["pokeload"]], {
                **tracing, "OTEL_SERVICE_NAME": "pokeload",
                "POKELOAD_TARGET": self.url("apimon"), "POKELOAD_API": "apimon",
                "POKELOAD_RATE": os.environ.get("POKEDEX_LOAD_RATE_APIMON", "5"),
                "POKELOAD_METRICS_ADDRESS": HOST, "POKELOAD_METRICS_PORT": self.port("pokeload-apimon"),
                "POKELOAD_REPORT_INTERVAL": "60s"}, self.url("pokeload-apimon") + "/metrics"),
            ("node-exporter", [prometheus.cached_binary("node_exporter"),
                               "--web.listen-address=%s:%d" % (HOST, self.port("node-exporter"))],
             {}, self.url("node-exporter") + "/metrics"),
            ("mysqld-exporter", ["sh", os.path.join(REPO, "deploy/mysqld-exporter/run.sh"),
                                 "/usr/bin/prometheus-mysqld-exporter", *MYSQLD_EXPORTER_FLAGS,
                                 "--web.listen-address=%s:%d" % (HOST, self.port("mysqld-exporter"))],
             {"MYSQLD_EXPORTER_HOST": HOST, "MYSQLD_EXPORTER_PORT": db["port"],
              "MYSQLD_EXPORTER_USER": db["monitor_user"],
              "MYSQLD_EXPORTER_PASSWORD_FILE": db["monitor_password_file"],
              "MYSQLD_EXPORTER_CNF": self.path("mysqld-exporter", "my.cnf")}, self.url("mysqld-exporter") + "/metrics"),
            ("alertmanager", ["sh", os.path.join(REPO, "deploy/alertmanager/render-config.sh"),
                              prometheus.cached_binary("alertmanager"),
                              "--storage.path=" + self.path("alertmanager", "data"),
                              "--web.listen-address=%s:%d" % (HOST, self.port("alertmanager")),
                              "--web.external-url=" + self.url("alertmanager"),
                              "--cluster.listen-address="],
             alertmanager_env, self.url("alertmanager") + "/-/ready"),
            ("prometheus", [prometheus.cached_binary("prometheus"),
                            "--config.file=" + self.path("prometheus", "prometheus.yml"),
                            "--storage.tsdb.path=" + self.path("prometheus", "data"),
                            "--web.listen-address=%s:%d" % (HOST, self.port("prometheus")),
                            "--web.external-url=" + self.url("prometheus"), *PROMETHEUS_FLAGS],
             {}, self.url("prometheus") + "/-/ready"),
        ]

    def binaries(self):
        build = os.path.join(REPO, "build", "release", "services")
        return {
            "apimon": os.environ.get("APIMON_BIN") or os.path.join(build, "apimon", "apimon"),
            "api-prometheus": os.environ.get("APIPROM_BIN") or os.path.join(build, "api-prometheus", "api-prometheus"),
            "pokeload": os.environ.get("POKELOAD_BIN") or os.path.join(build, "pokeload", "pokeload"),
        }

    def build_missing_binaries(self):
        missing = [name for name, path in self.binaries().items() if not os.access(path, os.X_OK)]
        if not missing:
            return
        print("stack: building %s (cmake --preset release)" % ", ".join(missing), flush=True)
        subprocess.run(["cmake", "--preset", "release", "-DPOKEDEX_BUILD_TESTS=OFF",
                        "-DPOKEDEX_BUILD_BENCHMARKS=OFF"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", "--preset", "release", "--target", *missing], cwd=REPO, check=True)

    def render_prometheus_config(self):
        """deploy/prometheus/prometheus.yml with loopback addresses."""
        source = os.path.join(REPO, "deploy", "prometheus", "prometheus.yml")
        with open(source) as f:
            config = yaml.safe_load(f)
        config["rule_files"] = [os.path.join(REPO, "deploy", "prometheus", rule) for rule in config["rule_files"]]
        for manager in config["alerting"]["alertmanagers"]:
            for static in manager["static_configs"]:
                static["targets"] = [self.native_address(t) for t in static["targets"]]
        jobs = []
        for job in config["scrape_configs"]:
            if job["job_name"] in CONTAINER_ONLY_JOBS:
                continue
            statics = []
            for static in job["static_configs"]:
                for target in static["targets"]:
                    # One static config per target, so each keeps its compose name as instance.
                    labels = dict(static.get("labels", {}), instance=target)
                    statics.append({"targets": [self.native_address(target)], "labels": labels})
            job["static_configs"] = statics
            jobs.append(job)
        config["scrape_configs"] = jobs
        os.makedirs(self.path("prometheus"), exist_ok=True)
        with open(self.path("prometheus", "prometheus.yml"), "w") as f:
            f.write("# Rendered by scripts/stack from deploy/prometheus/prometheus.yml: only addresses differ.\n")
            yaml.safe_dump(config, f, sort_keys=False)

    def native_address(self, target):
        if target not in COMPOSE_TARGETS:
            raise StackError("deploy/prometheus/prometheus.yml names %s, which the native stack does not run" % target)
        return "%s:%d" % (HOST, self.port(COMPOSE_TARGETS[target]))

    # ------------------------------------------------------------------ verbs

    def up(self):
        os.makedirs(self.dir, exist_ok=True)
        self.build_missing_binaries()
        if not os.path.exists(self.admin_token_file):
            fd = os.open(self.admin_token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24) + "\n")
        mariadb.start(self.path("mariadb"), port=self.port("mariadb"))
        self.render_prometheus_config()
        for directory in ("alertmanager", "mysqld-exporter", "logs"):
            os.makedirs(self.path(directory), exist_ok=True)
        # Without Telegram settings: an empty token file, as compose's default secret.
        open(self.path("alertmanager", "no_telegram_bot_token"), "a").close()
        for name, argv, env, ready_url in self.components():
            if self.pid(name) is None:
                self.spawn(name, argv, env)
        for name, _, _, ready_url in self.components():
            self.wait_ready(name, ready_url)
        print("stack: up; state in %s" % self.dir, flush=True)

    def spawn(self, name, argv, env):
        if not os.access(argv[0], os.X_OK) and argv[0] != "sh":
            raise StackError("%s: %s is missing (run scripts/bootstrap)" % (name, argv[0]))
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("APIMON_", "APIPROM_", "POKELOAD_", "OTEL_", "JAEGER_", "MYSQLD_EXPORTER_"))}
        full_env.update({k: str(v) for k, v in env.items()})
        stdout, stderr = self.path("logs", name + ".log"), self.path("logs", name + ".err")
        result = subprocess.run([sys.executable, "-I", "-W", "ignore", "-c", processes.DETACH, stdout, stderr, *argv],
                                env=full_env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise StackError("could not start %s: %s" % (name, result.stderr.strip()))
        with open(self.path(name + ".pid"), "w") as f:
            f.write(result.stdout.strip() + "\n")
        with open(self.path(name + ".cmdline"), "w") as f:
            json.dump(argv, f)

    def pid(self, name):
        """The pid of our running `name`, or None. A pid is ours while the
        process runs the command line we started (pids get reused)."""
        try:
            with open(self.path(name + ".pid")) as f:
                pid = int(f.read())
            with open(self.path(name + ".cmdline")) as f:
                argv = json.load(f)
        except (OSError, ValueError):
            return None
        if not processes.alive(pid):
            return None
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                running = f.read().split(b"\0")
        except OSError:
            return None
        # Wrapper scripts exec the server: the server's own arguments remain.
        wanted = argv[-1].encode()
        return pid if wanted in running else None

    def wait_ready(self, name, url):
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.pid(name) is None:
                raise StackError("%s exited:\n%s" % (name, self.log_tail(name)))
            if http_status(url) == 200:
                return
            if time.monotonic() > deadline:
                raise StackError("%s not ready at %s after %ds:\n%s" % (name, url, READY_TIMEOUT, self.log_tail(name)))
            time.sleep(0.3)

    def log_tail(self, name, lines=20):
        out = []
        for suffix in (".log", ".err"):
            try:
                with open(self.path("logs", name + suffix), errors="replace") as f:
                    out += f.read().splitlines()[-lines:]
            except OSError:
                pass
        return "\n".join(out)

    def down(self, remove=False):
        names = [name for name, *_ in self.components_or_empty()]
        for name in reversed(names):
            pid = self.pid(name)
            if pid is not None:
                processes.terminate(pid, STOP_GRACE)
        if os.path.isdir(self.path("mariadb")):
            mariadb.stop(self.path("mariadb"), remove=remove)
        if remove and os.path.isdir(self.dir):
            shutil.rmtree(self.dir)
        print("stack: down", flush=True)

    def components_or_empty(self):
        try:
            return self.components()
        except Exception:  # no database state yet: nothing else can be running
            return [(name, None, None, None) for name in (
                "jaeger", "apimon", "api-prometheus", "pokeload", "pokeload-apimon",
                "node-exporter", "mysqld-exporter", "alertmanager", "prometheus")]

    def status(self):
        """[(name, pid or None, ready, address, rss MiB or None)] for every component."""
        rows = []
        db_state = self.path("mariadb")
        db_pid = None
        if os.path.exists(os.path.join(db_state, "state.json")):
            db_pid = mariadb.load_state(db_state).get("pid") if mariadb.is_ready(db_state) else None
        rows.append(("mariadb", db_pid, db_pid is not None, "%s:%d" % (HOST, self.port("mariadb")), rss_mib(db_pid)))
        for name, _, _, ready_url in self.components_or_empty():
            pid = self.pid(name)
            ready = pid is not None and ready_url is not None and http_status(ready_url) == 200
            address = ready_url.split("/")[2] if ready_url else "-"
            rows.append((name, pid, ready, address, rss_mib(pid)))
        return rows


def http_status(url, timeout=2):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def rss_mib(pid):
    """Resident memory of the process and its children (a wrapper's server)."""
    if pid is None:
        return None
    total = 0
    for candidate in [pid] + children(pid):
        try:
            with open("/proc/%d/status" % candidate) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            direct = [int(c) for c in f.read().split()]
    except OSError:
        return []
    return direct + [g for c in direct for g in children(c)]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/stack", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("up", help="start the stack and wait until every component is ready")
    down = sub.add_parser("down", help="stop the stack")
    down.add_argument("--remove", action="store_true", help="also delete its data and logs")
    status = sub.add_parser("status", help="show each component; exit 1 unless all are ready")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        stack = Stack()
        if args.verb == "up":
            stack.up()
        elif args.verb == "down":
            stack.down(remove=args.remove)
        else:
            rows = stack.status()
            if args.json:
                print(json.dumps([dict(zip(("name", "pid", "ready", "address", "rss_mib"), row)) for row in rows]))
            else:
                print("%-24s %8s  %-6s %-22s %9s" % ("component", "pid", "ready", "address", "RSS MiB"))
                for name, pid, ready, address, rss in rows:
                    print("%-24s %8s  %-6s %-22s %9s" % (name, pid or "-", "yes" if ready else "NO", address,
                                                        "%.1f" % rss if rss is not None else "-"))
            return 0 if all(row[2] for row in rows) else 1
    except (StackError, processes.FixtureError, subprocess.CalledProcessError) as error:
        print("stack: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
