"""scripts/stack runs the topology of compose.yaml with the same
configuration files and flags: only addresses differ. What would let the
two drift apart is checked here; tests/e2e/test_native_stack.py runs it."""
import pathlib
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]

from stackkit import native_stack as native

COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]
PROMETHEUS = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
NOT_NATIVE = {"grafana": "not packaged in Debian", "cadvisor": "watches containers; natively there are none"}
NATIVE_NAME = {"db": "mariadb"}


def native_components():
    stack = native.Stack(state_dir="/nonexistent", offset=0)
    return [name for name, *_ in stack.components_or_empty()] + ["mariadb"]


def bind_sources(service):
    sources = set()
    for volume in COMPOSE[service].get("volumes", []):
        source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
        if source.startswith("./"):
            sources.add((REPO / source).resolve())
    return sources


def test_every_compose_service_runs_natively_but_the_container_only_ones():
    expected = {NATIVE_NAME.get(name, name) for name in COMPOSE if name not in NOT_NATIVE}
    assert set(native_components()) == expected


def test_prometheus_scrapes_the_same_targets_natively():
    targets = {t for job in PROMETHEUS["scrape_configs"] if job["job_name"] not in native.CONTAINER_ONLY_JOBS
               for static in job["static_configs"] for t in static["targets"]}
    assert set(native.COMPOSE_TARGETS) == targets
    assert native.CONTAINER_ONLY_JOBS == {"cadvisor"}


def test_ports_are_the_compose_ports():
    for name, port in {"apimon": 5000, "api-prometheus": 8689, "prometheus": 9090, "alertmanager": 9093,
                       "jaeger-ui": 16686, "node-exporter": 9100, "mysqld-exporter": 9104}.items():
        assert native.PORTS[name] == port
    for target, key in native.COMPOSE_TARGETS.items():
        service, port = target.split(":")
        assert service in COMPOSE
        if native.PORTS[key] != int(port):  # two pokeload instances share one host natively
            assert service == "pokeload-apimon" and native.PORTS[key] == native.PORTS["pokeload"] + 1


def test_same_flags_as_the_containers():
    assert set(native.PROMETHEUS_FLAGS) <= set(COMPOSE["prometheus"]["command"])
    assert set(native.MYSQLD_EXPORTER_FLAGS) <= set(COMPOSE["mysqld-exporter"]["command"])


def test_same_configuration_files_as_the_containers():
    runs = {
        "jaeger": REPO / "deploy/jaeger/config.yaml",
        "alertmanager": REPO / "deploy/alertmanager/render-config.sh",
        "mysqld-exporter": REPO / "deploy/mysqld-exporter/run.sh",
    }
    for service, path in runs.items():
        assert path.exists()
        mounted = bind_sources(service)
        assert path.resolve() in mounted or path.parent.resolve() in mounted, (service, mounted)
    prometheus_mounts = bind_sources("prometheus")
    assert any(str(REPO / "deploy/prometheus") in str(m) for m in prometheus_mounts), prometheus_mounts
