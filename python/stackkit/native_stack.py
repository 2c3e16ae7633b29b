#!/usr/bin/env python3
"""The study stack without Docker: the topology of compose.yaml as plain
processes on one Debian host, on loopback, with the same configuration files.

    scripts/stack up        start what is not running, wait until all is ready
    scripts/stack down      stop everything (add --remove to delete the state)
    scripts/stack status    each component: pid, ready or not, address, memory
    scripts/stack stop NAME...
                            stop some components only; `up` starts them again

Components and their default addresses, compose.yaml's ports (every port
moves by POKEDEX_STACK_PORT_OFFSET, so a second stack can run beside the first):

    mariadb          127.0.0.1:3306   Debian's mariadb-server, a private datadir
    jaeger           127.0.0.1:16686  query API; OTLP 4317/4318; own metrics 8888
    otel-collector   127.0.0.1:13143  health check; OTLP 4327/4328 (the services send
                                      there), own metrics 8898, span metrics 8899
                                      (compose's 13133, 4317, 4318, 8888, 8889 are Jaeger's here)
    apimon           127.0.0.1:5000
    api-prometheus   127.0.0.1:8689
    pokeload         127.0.0.1:9464 (load on api-prometheus)
    pokeload-apimon  127.0.0.1:9465 (load on apimon; 9464 in its own container)
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

The services, their ports, the flags of the third-party servers and the
addresses the services call each other on are read from compose.yaml
(stackkit.compose); what differs is only addresses. Prometheus reads
deploy/prometheus/prometheus.yml with each target's address replaced by its
loopback one (its instance label keeps the compose name, so alerts and
dashboards read the same) and without the jobs of container-only services;
Jaeger reads deploy/jaeger/config.yaml and the OpenTelemetry Collector
deploy/otelcol/config.yaml (with the vendor overlay none.yaml: no vendor
natively, the key's path is the container's), each with its listen
addresses from the environment; Alertmanager's configuration is rendered by
deploy/alertmanager/render-config.sh and mysqld-exporter's credentials by
deploy/mysqld-exporter/run.sh, as in the containers.

Settings (environment):
    POKEDEX_STACK_DIR           state: data, logs, pids (default ~/.local/state/pokedex-stack)
    POKEDEX_STACK_PORT_OFFSET   added to every port (default 0)
    APIMON_BIN, API_PROMETHEUS_BIN, POKELOAD_BIN
                                the service binaries (default: build/release,
                                built by `up` when missing)
    JAEGER_BIN, OTELCOL_BIN, PROMETHEUS_BIN, ALERTMANAGER_BIN, NODE_EXPORTER_BIN
                                other builds of the tools (default: the tool
                                cache; `up` fails naming scripts/install-tools
                                when one is missing)
    POKEDEX_LOAD_RATE_APIMON, POKEDEX_LOAD_RATE_API_PROMETHEUS
                                pokeload's requests per second (default 5 and 2)
    POKEDEX_TRACE_SAMPLE_RATIO  share of new traces the services send to the
                                Collector (default: compose's, 1)
    OTELCOL_LATENCY_THRESHOLD_MS, OTELCOL_BASE_PERCENTAGE, OTELCOL_DECISION_WAIT,
    OTELCOL_NUM_TRACES, OTELCOL_MEMORY_LIMIT_MIB, OTELCOL_MEMORY_SPIKE_LIMIT_MIB
                                the Collector's settings, as in .env.example
                                (default: compose's)
    TELEGRAM_BOT_TOKEN_FILE, TELEGRAM_CHAT_ID, TELEGRAM_API_URL,
    ALERTMANAGER_GROUP_WAIT, ALERTMANAGER_GROUP_INTERVAL
                                as for render-config.sh; without a token and a
                                chat id, alerts are shown in Alertmanager only

The fault-injection admin API of apimon and api-prometheus is on, with a
random token written to $POKEDEX_STACK_DIR/fault_admin_token (mode 0600).
"""

import argparse
import functools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from typing import NamedTuple

import yaml

from stackkit import compose, mariadb, processes, tools
from stackkit.server import http_request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HOST = "127.0.0.1"
READY_TIMEOUT = 90
STOP_GRACE = 20

# The compose services the native stack leaves out, and why.
CONTAINER_ONLY = {
    "grafana": "not packaged in Debian, and its source is under the AGPL, which this project's tooling must not build",
    "cadvisor": "it watches containers; natively there are none",
}
# Native names of compose services: the database is the MariaDB of stackkit.mariadb.
NATIVE_NAMES = {"db": "mariadb"}
# Ports that exist only natively, (service, its port in compose) -> native port:
# both load generators listen on 9464, each in its own container; on one host
# the second one moves.
NATIVE_PORTS = {("pokeload-apimon", 9464): 9465}
# The Collector's ports in compose are Jaeger's (OTLP, own metrics, health):
# on one host it moves by 10 (and its span metrics port with them).
NATIVE_PORTS.update((("otel-collector", port), port + 10) for port in (4317, 4318, 8888, 8889, 13133))
# Components that listen on several ports, each a ${env:PREFIX_..._PORT:-port}
# of the configuration file compose runs them with: component -> prefix.
CONFIGURED_PORTS = {"jaeger": "JAEGER", "otel-collector": "OTELCOL"}
# The port a component is known by where compose publishes none of its
# several: the Collector's OTLP/HTTP intake, which the services call.
MAIN_PORTS = {"otel-collector": 4318}
# Compose flags that name a container's paths or addresses, and what each is
# natively (None: left out). Every other flag is passed as compose.yaml has it.
NATIVE_FLAGS = {
    "prometheus": lambda stack: {
        "--config.file": stack.path("prometheus", "prometheus.yml"),  # rendered with loopback addresses
        "--storage.tsdb.path": stack.path("prometheus", "data"),
        "--web.listen-address": stack.address("prometheus"),
        "--web.external-url": stack.url("prometheus"),
    },
    "alertmanager": lambda stack: {
        "--storage.path": stack.path("alertmanager", "data"),
        "--web.listen-address": stack.address("alertmanager"),
        # Compose leaves it to the container's host name; natively links lead to loopback.
        "--web.external-url": stack.url("alertmanager"),
    },
    "mysqld-exporter": lambda stack: {"--web.listen-address": stack.address("mysqld-exporter")},
    "node-exporter": lambda stack: {
        "--path.rootfs": None,  # the container sees the host's / at /host; natively it is /
        "--web.listen-address": stack.address("node-exporter"),
    },
}
# Compose's healthchecks ask the APIs whether they are alive (/healthz), so
# that a container is not restarted while its upstream is away; `up` waits,
# and `status` asks, until they can serve.
READY_PATHS = {"apimon": "/readyz", "api-prometheus": "/readyz"}
# Compose's check of the Collector validates its configuration (its image has
# no HTTP client); natively `up` and `status` ask its health_check extension.
READY_ADDRESSES = {"otel-collector": (13133, "/")}
# The programs compose's images run, natively.
NATIVE_PROGRAMS = {
    "jaeger": lambda: tools.cached_binary("jaeger"),
    "otel-collector": lambda: tools.cached_binary("otelcol"),
    "prometheus": lambda: tools.cached_binary("prometheus"),
    "alertmanager": lambda: tools.cached_binary("alertmanager"),
    "node-exporter": lambda: tools.cached_binary("node_exporter"),
    "mysqld-exporter": lambda: "/usr/bin/prometheus-mysqld-exporter",  # Debian's
}


class StackError(Exception):
    pass


class Component(NamedTuple):
    name: str
    argv: list
    env: dict


def start_order(services):
    """The compose services the native stack runs, each after those it depends on."""
    order = []

    def visit(name):
        if name not in order and name not in CONTAINER_ONLY:
            for dependency in services[name].get("depends_on") or ():
                visit(dependency)
            order.append(name)
    for name in services:
        visit(name)
    return order


class Stack:
    def __init__(self, state_dir=None, offset=None, services=None):
        self.dir = os.path.abspath(state_dir or os.environ.get("POKEDEX_STACK_DIR")
                                   or os.path.expanduser("~/.local/state/pokedex-stack"))
        self.services = services if services is not None else compose.services()
        self.offset = 0
        highest = max(self.ports().values())
        self.offset = int(offset if offset is not None else os.environ.get("POKEDEX_STACK_PORT_OFFSET", "0"))
        if not 0 <= self.offset <= 65535 - highest:
            raise StackError("POKEDEX_STACK_PORT_OFFSET must be from 0 to %d" % (65535 - highest))

    # ------------------------------------------------------------ addresses

    def service(self, name):
        """The compose service of a native component."""
        return next((service for service, native in NATIVE_NAMES.items() if native == name), name)

    def names(self):
        """The components but MariaDB, in start order."""
        return [NATIVE_NAMES.get(s, s) for s in start_order(self.services) if s not in NATIVE_NAMES]

    def port(self, name, container_port=None):
        """Where component `name` listens natively on what is its container's
        port container_port in compose (by default the one port it serves on)."""
        service = self.service(name)
        if container_port is None:
            container_port = MAIN_PORTS.get(service) or compose.service_port(self.services, service)
        return NATIVE_PORTS.get((service, container_port), container_port) + self.offset

    def address(self, name, container_port=None):
        return "%s:%d" % (HOST, self.port(name, container_port))

    def url(self, name, container_port=None):
        return "http://" + self.address(name, container_port)

    def ports(self):
        """{component: port} of every port the stack listens on; Jaeger's,
        which are several, under the variables of its configuration."""
        ports = {"mariadb": self.port("mariadb")}
        ports.update((name, self.port(name)) for name in self.names() if name not in CONFIGURED_PORTS)
        for name in CONFIGURED_PORTS:
            ports.update((variable, self.port(name, port)) for variable, port in self.config_ports(name).items())
        return ports

    def config_ports(self, name):
        """{variable: container port} of the ports the configuration file
        compose runs component `name` with (its first --config) listens on,
        as ${env:PREFIX_..._PORT:-port}: the defaults are the container's ports."""
        service = self.services[name]
        config = compose.host_path(service, compose.flag_value(compose.command_list(service), "--config"))
        pattern = r"\$\{env:(%s_[A-Z_]+_PORT):-(\d+)\}" % CONFIGURED_PORTS[name]
        with open(config, encoding="utf-8") as f:
            return {variable: int(port) for variable, port in re.findall(pattern, f.read())}

    def jaeger_ports(self):
        return self.config_ports("jaeger")

    def native_url(self, url):
        """A URL of compose's network (http://apimon:5000) with the native address of its host."""
        def native(match):
            service, port = match.group(2), int(match.group(3))
            return "//%s%s" % (match.group(1) or "", self.address(NATIVE_NAMES.get(service, service), port))
        return re.sub(r"//([^@/\s]+@)?(%s):(\d+)" % "|".join(map(re.escape, self.services)), native, url)

    def compose_setting(self, name, variable):
        """One environment variable of component `name` in compose.yaml."""
        return compose.environment(self.services[self.service(name)])[variable]

    def ready_url(self, name):
        """What compose's healthcheck of the service asks, natively (READY_PATHS's path instead, if any)."""
        port, path = READY_ADDRESSES.get(name) or compose.healthcheck_address(self.services[self.service(name)])
        return self.url(name, port) + READY_PATHS.get(name, path)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def admin_token_file(self):
        return self.path("fault_admin_token")

    def admin_token(self):
        with open(self.admin_token_file) as f:
            return f.read().strip()

    # ---------------------------------------------------------- components

    def native_arguments(self, name, args):
        """Compose arguments of component `name`, natively: NATIVE_FLAGS's
        values for the flags naming the container's paths and addresses,
        files bind-mounted from the repository at their place in it, the
        other values as a clean clone without .env has them."""
        service = self.services[self.service(name)]
        replaced = NATIVE_FLAGS.get(name, lambda stack: {})(self)
        native = []
        for arg in args:
            flag = compose.flag_name(arg)
            if flag in replaced:
                if replaced[flag] is not None:
                    native.append("%s=%s" % (flag, replaced[flag]))
                continue
            prefix, value = (flag + "=", arg.split("=", 1)[1]) if flag is not None and "=" in arg else ("", arg)
            value = compose.interpolation_default(value)
            native.append(prefix + (compose.host_path(service, value) or value))
        given = {compose.flag_name(arg) for arg in args}
        native += ["%s=%s" % (flag, value) for flag, value in replaced.items()
                   if flag not in given and value is not None]
        return native

    def native_command(self, name):
        """The service's entrypoint and command as compose.yaml has them, run
        natively: its program replaced by the native one (NATIVE_PROGRAMS)."""
        service = self.services[self.service(name)]
        entrypoint = compose.command_list(service, "entrypoint")
        # A wrapper script from the repository that execs the program, its last argument.
        wrapper = [compose.host_path(service, arg) or arg for arg in entrypoint[:-1]]
        return [*wrapper, NATIVE_PROGRAMS[name](), *self.native_arguments(name, compose.command_list(service))]

    def components(self, database=None):
        """Every process but MariaDB, in start order. database: the MariaDB
        state (stackkit.mariadb), by default the stack's."""
        db = database or mariadb.load_state(self.path("mariadb"))

        def tracing(name):
            setting = functools.partial(self.compose_setting, name)
            return {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SERVICE_NAME": setting("OTEL_SERVICE_NAME"),
                    "OTEL_EXPORTER_OTLP_ENDPOINT": self.native_url(setting("OTEL_EXPORTER_OTLP_ENDPOINT")),
                    "OTEL_TRACES_SAMPLER": setting("OTEL_TRACES_SAMPLER"),
                    "OTEL_TRACES_SAMPLER_ARG": os.environ.get("POKEDEX_TRACE_SAMPLE_RATIO")
                    or compose.interpolation_default(setting("OTEL_TRACES_SAMPLER_ARG"))}
        alertmanager_env = {k: v for k, v in os.environ.items()
                            if k.startswith(("TELEGRAM_", "ALERTMANAGER_GROUP_"))}
        alertmanager_env["ALERTMANAGER_CONFIG_OUT"] = self.path("alertmanager", "alertmanager.yml")
        if "TELEGRAM_BOT_TOKEN_FILE" not in alertmanager_env:
            alertmanager_env["TELEGRAM_BOT_TOKEN_FILE"] = self.path("alertmanager", "no_telegram_bot_token")
        binaries = self.binaries()

        def pokeload(name, rate):
            return Component(name, [binaries["pokeload"]], {
                **tracing(name),
                "POKELOAD_TARGET": self.native_url(self.compose_setting(name, "POKELOAD_TARGET")),
                "POKELOAD_API": self.compose_setting(name, "POKELOAD_API"),
                "POKELOAD_RATE": rate,
                "POKELOAD_METRICS_ADDRESS": HOST, "POKELOAD_METRICS_PORT": self.port(name),
                "POKELOAD_REPORT_INTERVAL": "60s"})
        builders = {
            "jaeger": lambda: Component("jaeger", self.native_command("jaeger"), {
                "JAEGER_LISTEN_HOST": HOST,
                **{variable: self.port("jaeger", port) for variable, port in self.jaeger_ports().items()}}),
            "otel-collector": lambda: Component("otel-collector", self.native_command("otel-collector"), {
                **self.collector_settings(),
                "OTELCOL_LISTEN_HOST": HOST,
                "OTELCOL_JAEGER_ENDPOINT": self.address("jaeger", 4317),
                "OTELCOL_ENVIRONMENT": "native",
                **{variable: self.port("otel-collector", port)
                   for variable, port in self.config_ports("otel-collector").items()}}),
            "apimon": lambda: Component("apimon", [binaries["apimon"]], {
                **tracing("apimon"),
                "APIMON_LISTEN_ADDRESS": HOST, "APIMON_PORT": self.port("apimon"),
                "APIMON_DATABASE_URL": "mysql://%s@%s:%d/%s" % (db["app_user"], HOST, db["port"], db["database"]),
                "APIMON_DATABASE_PASSWORD_FILE": db["app_password_file"],
                "APIMON_ADMIN_TOKEN_FILE": self.admin_token_file}),
            "api-prometheus": lambda: Component("api-prometheus", [binaries["api-prometheus"]], {
                **tracing("api-prometheus"),
                "APIPROM_LISTEN_ADDRESS": HOST, "APIPROM_PORT": self.port("api-prometheus"),
                "APIPROM_APIMON_URL": self.native_url(self.compose_setting("api-prometheus", "APIPROM_APIMON_URL")),
                "APIPROM_ADMIN_TOKEN_FILE": self.admin_token_file}),
            "pokeload": lambda: pokeload("pokeload", os.environ.get("POKEDEX_LOAD_RATE_API_PROMETHEUS", "2")),
            "pokeload-apimon": lambda: pokeload("pokeload-apimon", os.environ.get("POKEDEX_LOAD_RATE_APIMON", "5")),
            "node-exporter": lambda: Component("node-exporter", self.native_command("node-exporter"), {}),
            "mysqld-exporter": lambda: Component("mysqld-exporter", self.native_command("mysqld-exporter"), {
                "MYSQLD_EXPORTER_HOST": HOST, "MYSQLD_EXPORTER_PORT": db["port"],
                "MYSQLD_EXPORTER_USER": db["monitor_user"],
                "MYSQLD_EXPORTER_PASSWORD_FILE": db["monitor_password_file"],
                "MYSQLD_EXPORTER_CNF": self.path("mysqld-exporter", "my.cnf")}),
            "alertmanager": lambda: Component("alertmanager", self.native_command("alertmanager"), alertmanager_env),
            "prometheus": lambda: Component("prometheus", self.native_command("prometheus"), {}),
        }
        unknown = [name for name in self.names() if name not in builders]
        if unknown:
            raise StackError("compose.yaml runs %s, which the native stack has no way to run"
                             % ", ".join(unknown))
        return [builders[name]() for name in self.names()]

    def collector_settings(self):
        """The Collector's OTELCOL_* settings compose passes, from this
        environment or else compose's defaults."""
        settings = compose.environment(self.services["otel-collector"])
        return {name: os.environ.get(name) or compose.interpolation_default(value)
                for name, value in settings.items() if name.startswith("OTELCOL_")}

    def binaries(self):
        build = os.path.join(REPO, "build", "release", "services")
        return {
            "apimon": os.environ.get("APIMON_BIN") or os.path.join(build, "apimon", "apimon"),
            "api-prometheus": os.environ.get("API_PROMETHEUS_BIN")
            or os.path.join(build, "api-prometheus", "api-prometheus"),
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
        """deploy/prometheus/prometheus.yml with loopback addresses, without
        the jobs that scrape container-only services."""
        source = os.path.join(REPO, "deploy", "prometheus", "prometheus.yml")
        with open(source) as f:
            config = yaml.safe_load(f)
        config["rule_files"] = [os.path.join(REPO, "deploy", "prometheus", rule) for rule in config["rule_files"]]
        for manager in config["alerting"]["alertmanagers"]:
            for static in manager["static_configs"]:
                static["targets"] = [self.native_address(t) for t in static["targets"]]
        jobs = []
        for job in config["scrape_configs"]:
            targets = [t for static in job["static_configs"] for t in static["targets"]]
            if all(t.rsplit(":", 1)[0] in CONTAINER_ONLY for t in targets):
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
        """The loopback address of a compose "service:port"."""
        service, port = target.rsplit(":", 1)
        if service not in self.services or service in CONTAINER_ONLY:
            raise StackError("deploy/prometheus/prometheus.yml names %s, which the native stack does not run" % target)
        return self.address(NATIVE_NAMES.get(service, service), int(port))

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
        for component in self.components():
            if self.pid(component.name) is None:
                self.spawn(component)
        for name in self.names():
            self.wait_ready(name)
        print("stack: up; state in %s" % self.dir, flush=True)

    def spawn(self, component):
        program = component.argv[0]
        if not os.access(program, os.X_OK):
            raise StackError("%s: %s is missing (run scripts/bootstrap)" % (component.name, program))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("APIMON_", "APIPROM_", "POKELOAD_", "OTEL_", "OTELCOL_", "JAEGER_",
                                          "MYSQLD_EXPORTER_"))}
        env.update({k: str(v) for k, v in component.env.items()})
        pid = processes.spawn_detached(component.argv, self.path("logs", component.name + ".log"),
                                       self.path("logs", component.name + ".err"), env)
        with open(self.path(component.name + ".pid"), "w") as f:
            f.write("%d\n" % pid)
        with open(self.path(component.name + ".cmdline"), "w") as f:
            json.dump(component.argv, f)

    def pid(self, name):
        """The pid of our running `name`, or None. A pid is ours while the
        process runs with the flags we started it with (pids get reused);
        wrapper scripts exec the server, whose own flags remain."""
        try:
            with open(self.path(name + ".cmdline")) as f:
                argv = json.load(f)
        except (OSError, ValueError):
            return None
        flags = [arg for arg in argv if arg.startswith("--")] or argv[-1:]
        return processes.running_pid(self.path(name + ".pid"), *flags)

    def wait_ready(self, name):
        url = self.ready_url(name)
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
        return processes.log_tail([self.path("logs", name + suffix) for suffix in (".log", ".err")],
                                  self.path("logs"), lines)

    def down(self, remove=False):
        for name in reversed(self.names()):
            pid = self.pid(name)
            if pid is not None:
                processes.terminate(pid, STOP_GRACE)
        if os.path.isdir(self.path("mariadb")):
            mariadb.stop(self.path("mariadb"), remove=remove)
        if remove and os.path.isdir(self.dir):
            shutil.rmtree(self.dir)
        print("stack: down", flush=True)

    def stop(self, names):
        """Stops the named components only (`up` starts them again): to
        watch the stack lose one, as `docker compose stop` does."""
        known = ["mariadb"] + self.names()
        unknown = [name for name in names if name not in known]
        if unknown:
            raise StackError("no component %s; the components are %s" % (", ".join(unknown), ", ".join(known)))
        for name in names:
            if name == "mariadb":
                if os.path.isdir(self.path("mariadb")):
                    mariadb.stop(self.path("mariadb"), remove=False)
            else:
                pid = self.pid(name)
                if pid is not None:
                    processes.terminate(pid, STOP_GRACE)
            print("stack: stopped %s" % name, flush=True)

    def status(self):
        """[(name, pid or None, ready, address, rss MiB or None)] for every component."""
        rows = []
        db_state = self.path("mariadb")
        db_pid = None
        if os.path.exists(os.path.join(db_state, "state.json")):
            db_pid = mariadb.load_state(db_state).get("pid") if mariadb.is_ready(db_state) else None
        rows.append(("mariadb", db_pid, db_pid is not None, self.address("mariadb"), rss_mib(db_pid)))
        for name in self.names():
            pid = self.pid(name)
            url = self.ready_url(name)
            ready = pid is not None and http_status(url) == 200
            rows.append((name, pid, ready, url.split("/")[2], rss_mib(pid)))
        return rows


def http_status(url, timeout=2):
    return http_request(url, timeout=timeout)[0] or None


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
    stop = sub.add_parser("stop", help="stop some components only (up starts them again)")
    stop.add_argument("names", nargs="+", metavar="NAME", help="a component, as status names it")
    status = sub.add_parser("status", help="show each component; exit 1 unless all are ready")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        stack = Stack()
        if args.verb == "up":
            stack.up()
        elif args.verb == "down":
            stack.down(remove=args.remove)
        elif args.verb == "stop":
            stack.stop(args.names)
        else:
            rows = stack.status()
            if args.json:
                fields = ("name", "pid", "ready", "address", "rss_mib")
                print(json.dumps([dict(zip(fields, row, strict=True)) for row in rows]))
            else:
                print("%-24s %8s  %-6s %-22s %9s" % ("component", "pid", "ready", "address", "RSS MiB"))
                for name, pid, ready, address, rss in rows:
                    print("%-24s %8s  %-6s %-22s %9s" % (name, pid or "-", "yes" if ready else "NO", address,
                                                        "%.1f" % rss if rss is not None else "-"))
            return 0 if all(row[2] for row in rows) else 1
    except (StackError, processes.FixtureError, compose.ComposeError, subprocess.CalledProcessError) as error:
        print("stack: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
