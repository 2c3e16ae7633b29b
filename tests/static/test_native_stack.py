"""scripts/stack runs the topology of compose.yaml with the same
configuration files and flags: only addresses differ. The native stack's
processes, as it would start them, and the Prometheus configuration it
renders are checked here against compose.yaml and deploy/; the e2e suite
(tests/e2e/test_native_stack.py) runs it."""
import pathlib
import re

import pytest
import yaml

from stackkit import compose
from stackkit import native_stack as native

REPO = pathlib.Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]
PROMETHEUS = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
OFFSET = 1000
# A MariaDB as stackkit.mariadb describes it in its state.json.
DATABASE = {"port": 3306 + OFFSET, "database": "pokedex", "app_user": "pokedex_app",
            "app_password_file": "/state/mariadb/app-password", "monitor_user": "pokedex_monitor",
            "monitor_password_file": "/state/mariadb/monitor-password"}
# The ports the issue names, where the native stack listens without an offset.
ISSUE_PORTS = {"apimon": 5000, "api-prometheus": 8689, "prometheus": 9090, "alertmanager": 9093,
               "jaeger": 16686, "node-exporter": 9100, "mysqld-exporter": 9104, "mariadb": 3306}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    return native.Stack(state_dir=str(tmp_path_factory.mktemp("stack")), offset=OFFSET)


@pytest.fixture(scope="module")
def components(stack):
    # Any executable stands in for the tool builds: nothing is started here.
    with pytest.MonkeyPatch.context() as patch:
        for variable in ("JAEGER_BIN", "OTELCOL_BIN", "PROMETHEUS_BIN", "ALERTMANAGER_BIN", "NODE_EXPORTER_BIN"):
            patch.setenv(variable, "/bin/true")
        return {c.name: c for c in stack.components(DATABASE)}


@pytest.fixture(scope="module")
def rendered(stack):
    stack.render_prometheus_config()
    return yaml.safe_load(pathlib.Path(stack.path("prometheus", "prometheus.yml")).read_text())


def compose_name(component):
    return {v: k for k, v in native.NATIVE_NAMES.items()}.get(component, component)


def listens_on(component):
    """The loopback ports a component is told to listen on, by flag or setting."""
    ports = set()
    for arg in component.argv:
        m = re.fullmatch(r"--web\.listen-address=127\.0\.0\.1:(\d+)", arg)
        if m:
            ports.add(int(m.group(1)))
    for key, value in component.env.items():
        if key.endswith("_PORT") and key != "MYSQLD_EXPORTER_PORT":  # that one is the database's
            ports.add(int(value))
    return ports


def test_every_compose_service_runs_natively_but_the_container_only_ones(components):
    expected = {native.NATIVE_NAMES.get(name, name) for name in COMPOSE if name not in native.CONTAINER_ONLY}
    assert set(components) | {"mariadb"} == expected
    assert set(native.CONTAINER_ONLY) <= set(COMPOSE), "CONTAINER_ONLY names a service compose does not run"
    assert all(len(reason) > 20 for reason in native.CONTAINER_ONLY.values())


def test_each_component_starts_after_what_it_depends_on_in_compose(components):
    order = ["mariadb", *components]
    for name in components:
        for dependency in COMPOSE[compose_name(name)].get("depends_on") or ():
            if dependency not in native.CONTAINER_ONLY:
                native_dependency = native.NATIVE_NAMES.get(dependency, dependency)
                assert order.index(native_dependency) < order.index(name), (name, dependency)


def test_ports_are_the_compose_ports_moved_by_the_offset(stack, components):
    at_zero = native.Stack(state_dir=stack.dir, offset=0)
    for name, port in ISSUE_PORTS.items():
        assert at_zero.port(name) == port, name
    assert at_zero.port("jaeger") == at_zero.ports()["JAEGER_QUERY_HTTP_PORT"]
    at_zero = at_zero.ports()
    assert {name: port + OFFSET for name, port in at_zero.items()} == stack.ports()
    assert len(set(stack.ports().values())) == len(stack.ports()), "two components on one port"
    # Both load generators listen on 9464 in their containers; on one host the second moves.
    assert at_zero["pokeload"] == 9464 and at_zero["pokeload-apimon"] == at_zero["pokeload"] + 1
    for name, component in components.items():
        assert stack.port(name) in listens_on(component), (name, component)
    assert DATABASE["port"] == stack.port("mariadb")


def test_jaeger_listens_on_its_configuration_ports_moved_by_the_offset(components):
    text = (REPO / "deploy" / "jaeger" / "config.yaml").read_text()
    defaults = {name: int(port) for name, port in re.findall(r"\$\{env:(JAEGER_[A-Z_]+_PORT):-(\d+)\}", text)}
    assert len(defaults) == 7, defaults
    env = components["jaeger"].env
    assert {name: env[name] for name in defaults} == {name: port + OFFSET for name, port in defaults.items()}
    assert env["JAEGER_LISTEN_HOST"] == "127.0.0.1"


def test_the_collector_listens_on_its_configuration_ports_moved_apart_from_jaegers(stack, components):
    text = (REPO / "deploy" / "otelcol" / "config.yaml").read_text()
    defaults = {name: int(port) for name, port in re.findall(r"\$\{env:(OTELCOL_[A-Z_]+_PORT):-(\d+)\}", text)}
    assert len(defaults) == 5, defaults
    env = components["otel-collector"].env
    assert {name: env[name] for name in defaults} == {
        name: native.NATIVE_PORTS[("otel-collector", port)] + OFFSET for name, port in defaults.items()}
    assert env["OTELCOL_LISTEN_HOST"] == "127.0.0.1"
    assert env["OTELCOL_JAEGER_ENDPOINT"] == "127.0.0.1:%d" % components["jaeger"].env["JAEGER_OTLP_GRPC_PORT"]
    # Both configurations compose passes, from the repository: the shared one and the no-vendor overlay.
    configs = [arg.split("=", 1)[1] for arg in components["otel-collector"].argv if arg.startswith("--config=")]
    assert configs == [str((REPO / "deploy/otelcol/config.yaml").resolve()),
                       str((REPO / "deploy/otelcol/vendors/none.yaml").resolve())]
    # The tail sampling and memory settings are compose's defaults.
    for name, value in compose.environment(COMPOSE["otel-collector"]).items():
        if name.startswith("OTELCOL_"):
            assert env[name] == compose.interpolation_default(value), name
    assert stack.ready_url("otel-collector") == "http://127.0.0.1:%d/" % env["OTELCOL_HEALTH_PORT"]


def test_services_call_each_other_at_the_native_addresses(stack, components):
    """Every URL a component is given leads to where the component compose
    addresses by that URL listens natively."""
    checked = 0
    for name, component in components.items():
        settings = compose.environment(COMPOSE[compose_name(name)])
        for key, value in component.env.items():
            m = re.fullmatch(r"(\w+)://(?:[^@/]+@)?127\.0\.0\.1:(\d+)(/.*)?", str(value))
            if not m:
                continue
            host, port = re.search(r"//(?:[^@/]+@)?([^:/]+):(\d+)", settings[key]).groups()
            callee = components.get(native.NATIVE_NAMES.get(host, host))
            assert callee is not None or host == "db", (name, key, settings[key])
            ports = listens_on(callee) if callee else {stack.port("mariadb")}
            assert int(m.group(2)) in ports, (name, key, value, settings[key])
            assert int(m.group(2)) - OFFSET in (int(port), native.NATIVE_PORTS.get((host, int(port)))), (name, key)
            checked += 1
    assert checked >= 8, checked  # four services export traces, three call another, one reads the database


def test_prometheus_scrapes_the_same_targets_natively(stack, components, rendered):
    dropped = {job["job_name"] for job in PROMETHEUS["scrape_configs"]} - {job["job_name"] for job in
                                                                           rendered["scrape_configs"]}
    assert dropped == {"cadvisor"}
    for source, job in zip([j for j in PROMETHEUS["scrape_configs"] if j["job_name"] not in dropped],
                           rendered["scrape_configs"], strict=True):
        assert {k: v for k, v in job.items() if k != "static_configs"} == \
            {k: v for k, v in source.items() if k != "static_configs"}
        instances = [static["labels"]["instance"] for static in job["static_configs"]]
        assert instances == [t for static in source["static_configs"] for t in static["targets"]]
        for static in job["static_configs"]:
            [address] = static["targets"]
            host, port = address.split(":")
            service = static["labels"]["instance"].split(":")[0]
            assert host == "127.0.0.1"
            assert int(port) in listens_on(components[native.NATIVE_NAMES.get(service, service)]), static
    [alertmanagers] = [t for m in rendered["alerting"]["alertmanagers"] for s in m["static_configs"]
                       for t in s["targets"]]
    assert alertmanagers == "127.0.0.1:%d" % stack.port("alertmanager")
    assert rendered["global"] == PROMETHEUS["global"]
    assert rendered["rule_files"] == [str(REPO / "deploy" / "prometheus" / rule) for rule in PROMETHEUS["rule_files"]]


def flags(args):
    return {compose.flag_name(arg): arg.partition("=")[2] for arg in args if compose.flag_name(arg)}


@pytest.mark.parametrize("name", ["prometheus", "alertmanager", "mysqld-exporter", "node-exporter", "jaeger",
                                  "otel-collector"])
def test_servers_get_the_compose_flags(stack, components, name):
    """Each compose flag natively: the same value, the repository file compose
    mounts at that path, or (for the container's own paths and addresses)
    the native one; no flag compose does not pass but those."""
    service = COMPOSE[name]
    container = {flag: compose.interpolation_default(value) for flag, value in
                 flags(compose.command_list(service)).items()}
    running = flags(components[name].argv)
    replaced = native.NATIVE_FLAGS.get(name, lambda s: {})(stack)
    for flag, value in container.items():
        if flag in replaced:
            assert running.get(flag) == replaced[flag], (flag, running.get(flag))
        elif compose.host_path(service, value):
            assert running[flag] == compose.host_path(service, value), flag
        else:
            assert running[flag] == value, flag
    assert set(running) - set(container) <= {flag for flag, value in replaced.items() if value is not None}
    listen = running.get("--web.listen-address")
    assert listen is None or listen == "127.0.0.1:%d" % stack.port(name)
    for flag, value in replaced.items():
        if value is not None and value.startswith("/"):
            assert value.startswith(stack.dir + "/"), (flag, value)


def test_prometheus_and_mysqld_exporter_flags(components):
    prometheus = components["prometheus"].argv
    for flag in ("--enable-feature=exemplar-storage", "--storage.tsdb.retention.time=31d", "--web.enable-lifecycle"):
        assert flag in prometheus and flag in COMPOSE["prometheus"]["command"]
    assert "--no-collect.slave_status" in components["mysqld-exporter"].argv
    assert "--no-collect.slave_status" in COMPOSE["mysqld-exporter"]["command"]


def test_same_configuration_files_as_the_containers(stack, components):
    runs = {
        "jaeger": (REPO / "deploy/jaeger/config.yaml", compose.flag_value(components["jaeger"].argv, "--config")),
        "alertmanager": (REPO / "deploy/alertmanager/render-config.sh", components["alertmanager"].argv[1]),
        "mysqld-exporter": (REPO / "deploy/mysqld-exporter/run.sh", components["mysqld-exporter"].argv[1]),
    }
    for service, (path, used) in runs.items():
        assert path.exists()
        assert pathlib.Path(used) == path.resolve(), (service, used)
        mounted = {pathlib.Path(p) for p in compose.repo_mounts(COMPOSE[service]).values()}
        assert path.resolve() in mounted or path.parent.resolve() in mounted, (service, mounted)
    prometheus_mounts = compose.repo_mounts(COMPOSE["prometheus"]).values()
    assert str((REPO / "deploy/prometheus").resolve()) in prometheus_mounts, prometheus_mounts
    assert compose.flag_value(components["prometheus"].argv, "--config.file") == \
        stack.path("prometheus", "prometheus.yml")


def test_stop_refuses_a_name_it_does_not_know_and_names_the_components(stack, capsys):
    with pytest.raises(native.StackError) as refused:
        stack.stop(["mariadb", "grafana"])
    assert "no component grafana" in str(refused.value)
    assert "mariadb, jaeger" in str(refused.value) and "prometheus" in str(refused.value)
    assert capsys.readouterr().out == ""  # refused before stopping anything, mariadb included


def test_stop_names_each_component_in_order_whether_it_ran_or_not(stack, capsys):
    # Stopping a running component is e2e.native_stack's (lab 6 stops the database).
    stack.stop(["apimon", "mariadb"])
    assert capsys.readouterr().out == "stack: stopped apimon\nstack: stopped mariadb\n"
