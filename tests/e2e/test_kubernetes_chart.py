"""The Helm chart installed on a real Kubernetes API server (v1.34, on
loopback; python/stackkit/kubernetes_cluster.py) with the Prometheus
Operator's CRDs, in a namespace that enforces the restricted Pod Security
level, the way docs/kubernetes.md tells users to:

* the rendered manifests pass the server's own validation (a server-side dry
  run with strict field validation) with no warning;
* `helm upgrade --install --wait` succeeds with no warning; the Deployments
  and the StatefulSet roll out on kwok's fake node, the claim binds, the
  autoscalers hold their minimum, the Operator's resources are accepted;
* a node drain is held back by the APIs' disruption budgets;
* `kubectl diff` finds no drift after the install, finds a change made by
  hand, and none again after `helm upgrade` restores it;
* `helm uninstall` leaves nothing of the release behind.

What this cannot show: no container runs (kwok marks pods Running and
Ready), so probes are not called and the images are never pulled;
NetworkPolicies are stored but nothing enforces them; the autoscalers have
no metrics, so they hold their minimum and never scale on load.
"""

import json
import os
import pathlib
import subprocess

import pytest
import yaml

from stackkit import kubernetes_cluster as cluster_fixture
from stackkit import kubernetes_tools
from stackkit.server import wait_for_value

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "kubernetes" / "pokedex-stack"
STATE = pathlib.Path(os.environ.get("POKEDEX_STATE_DIR", "/tmp/pokedex-test-state")) / "kubernetes-chart"
NAMESPACE = "pokedex"
RELEASE = "pokedex"
INSTANCE = "app.kubernetes.io/instance=" + RELEASE

VALUES = {
    "database": {"existingSecret": "pokedex-database", "internal": {"storage": {
        "storageClassName": "manual", "deleteClaimOnUninstall": True}}},
    "faults": {"existingSecret": "pokedex-faults"},
    "pokeload": {"enabled": True},
    "otelCollector": {"enabled": True},
    "monitoring": {"alertmanagerConfig": {"enabled": True, "telegram": {
        "existingSecret": "pokedex-telegram", "chatID": -1001234567890}}},
}
# Kinds the chart creates, for the leftovers check (kubectl get accepts them all at once).
CHART_KINDS = ("deployments,statefulsets,replicasets,pods,services,configmaps,persistentvolumeclaims,"
               "poddisruptionbudgets,horizontalpodautoscalers,networkpolicies,servicemonitors,"
               "prometheusrules,alertmanagerconfigs")


def helm(cluster, *args, timeout=600):
    command = [kubernetes_tools.helm_bin(), "--kubeconfig", cluster["kubeconfig"], *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def without_symlink_notes(text):
    """Helm's output minus its notes about the chart's links into deploy/."""
    return "\n".join(line for line in text.splitlines() if "found symbolic link in path" not in line)


@pytest.fixture(scope="module")
def cluster():
    # A fresh cluster: the previous run's logs and data go now, this run's stay after it.
    yield from cluster_fixture.fresh(STATE)


@pytest.fixture(scope="module")
def values_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("values") / "values.yaml"
    path.write_text(yaml.safe_dump(VALUES))
    return path


@pytest.fixture(scope="module")
def prepared(cluster):
    """The cluster as a user prepares it: the Operator's CRDs, the namespaces
    (ours first, under the restricted level), the Secrets, a volume for the
    database's claim."""
    for crd in kubernetes_tools.operator_crds():
        applied = cluster_fixture.kubectl(cluster, "apply", "--server-side", "-f", crd, timeout=120)
        assert applied.returncode == 0, applied.stderr
    established = cluster_fixture.kubectl(cluster, "wait", "--for=condition=Established", "crd", "--all",
                                          "--timeout=60s", timeout=90)
    assert established.returncode == 0, established.stderr
    cluster_fixture.create_namespace(cluster, NAMESPACE, {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    })
    cluster_fixture.create_namespace(cluster, "monitoring")
    secrets = {
        "pokedex-database": {"root-password": "root-secret", "app-password": "app-secret",
                             "monitor-password": "monitor-secret"},
        "pokedex-faults": {"token": "fault-token"},
        "pokedex-telegram": {"bot-token": "123456:telegram-token"},
    }
    for name, data in secrets.items():
        literals = ["--from-literal=%s=%s" % item for item in data.items()]
        cluster_fixture.kubectl(cluster, "create", "secret", "generic", name, "-n", NAMESPACE, *literals,
                                check=True)
    cluster_fixture.create_host_path_volume(cluster, "pokedex-mariadb-data", capacity="1Gi",
                                            storage_class="manual",
                                            claim=(NAMESPACE, "data-%s-mariadb-0" % RELEASE))
    return cluster


@pytest.fixture(scope="module")
def rendered(prepared, values_file, tmp_path_factory):
    result = helm(prepared, "template", RELEASE, CHART, "--namespace", NAMESPACE, "-f", values_file)
    assert result.returncode == 0, result.stderr
    path = tmp_path_factory.mktemp("rendered") / "manifests.yaml"
    path.write_text(result.stdout)
    return path


@pytest.fixture(scope="module")
def installed(prepared, values_file, rendered):
    result = helm(prepared, "upgrade", "--install", RELEASE, CHART, "--namespace", NAMESPACE, "-f", values_file,
                  "--server-side=true", "--wait=watcher", "--timeout=5m")
    assert result.returncode == 0, result.stdout + result.stderr
    output = without_symlink_notes(result.stdout + result.stderr)
    assert "warning" not in output.lower(), output
    return prepared


def test_the_server_accepts_every_manifest_strictly_and_warns_of_nothing(prepared, rendered):
    result = cluster_fixture.kubectl(prepared, "apply", "--dry-run=server", "--validate=strict",
                                     "--warnings-as-errors", "-f", str(rendered), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    documents = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    assert result.stdout.count("(server dry run)") == len(documents), result.stdout


def test_a_pod_outside_the_restricted_level_is_refused_in_that_namespace(prepared, rendered):
    documents = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["allowPrivilegeEscalation"] = True
    result = cluster_fixture.kubectl(prepared, "apply", "--dry-run=server", "-f", "-",
                                     input=json.dumps(deployment))
    # A Deployment is admitted with a warning (its pods would be refused);
    # --warnings-as-errors above is what makes such a chart fail.
    assert 'would violate PodSecurity "restricted:latest"' in result.stderr, result.stderr


def test_workloads_roll_out_on_the_node(installed):
    deployments = cluster_fixture.kubectl_json(installed, "get", "deployments", "-n", NAMESPACE, "-l", INSTANCE)
    names = {d["metadata"]["name"] for d in deployments["items"]}
    assert names == {"pokedex-apimon", "pokedex-api-prometheus", "pokedex-jaeger", "pokedex-otel-collector",
                     "pokedex-pokeload", "pokedex-pokeload-apimon"}
    for name in names:
        rollout = cluster_fixture.kubectl(installed, "rollout", "status", "deployment/" + name, "-n", NAMESPACE,
                                          "--timeout=120s", timeout=180)
        assert rollout.returncode == 0, rollout.stdout + rollout.stderr
    rollout = cluster_fixture.kubectl(installed, "rollout", "status", "statefulset/pokedex-mariadb", "-n",
                                      NAMESPACE, "--timeout=120s", timeout=180)
    assert rollout.returncode == 0, rollout.stdout + rollout.stderr
    claim = cluster_fixture.kubectl_json(installed, "get", "pvc", "data-pokedex-mariadb-0", "-n", NAMESPACE)
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["volumeName"] == "pokedex-mariadb-data"
    pods = cluster_fixture.kubectl_json(installed, "get", "pods", "-n", NAMESPACE, "-l", INSTANCE)["items"]
    assert pods and all(p["status"]["phase"] == "Running" for p in pods)
    assert all(p["spec"]["nodeName"] == installed["node"] for p in pods)


def test_autoscalers_hold_the_apis_at_their_minimum(installed):
    # The Deployments name no replica count (the autoscaler owns it); the
    # autoscaler raises them from the default 1 to minReplicas 2.
    def at_minimum(name):
        return wait_for_value(
            lambda: cluster_fixture.kubectl_json(installed, "get", "deployment", name, "-n", NAMESPACE),
            lambda d: d["spec"]["replicas"] == 2 and d.get("status", {}).get("readyReplicas") == 2, 120, 0.5,
            lambda d: "%s: %s replicas, %s ready" % (name, d["spec"]["replicas"], d.get("status")))

    for name in ("pokedex-apimon", "pokedex-api-prometheus"):
        assert at_minimum(name)["spec"]["replicas"] == 2


def test_the_operators_resources_are_stored(installed):
    for kind, count in (("servicemonitors", 6), ("prometheusrules", 1), ("alertmanagerconfigs", 1)):
        items = cluster_fixture.kubectl_json(installed, "get", kind, "-n", NAMESPACE, "-l", INSTANCE)["items"]
        assert len(items) == count, (kind, [i["metadata"]["name"] for i in items])
    rule = cluster_fixture.kubectl_json(installed, "get", "prometheusrule", "pokedex-rules", "-n", NAMESPACE)
    assert any(r.get("alert") == "AvailabilityErrorBudgetBurn" for g in rule["spec"]["groups"] for r in g["rules"])


def test_disruption_budgets_hold_back_a_drain(installed):
    test_autoscalers_hold_the_apis_at_their_minimum(installed)
    budget = wait_for_value(
        lambda: cluster_fixture.kubectl_json(installed, "get", "pdb", "pokedex-apimon", "-n", NAMESPACE),
        lambda b: b.get("status", {}).get("currentHealthy") == 2, 60, 0.5,
        lambda b: "the disruption budget's status is %s" % b.get("status"))
    assert budget["status"]["disruptionsAllowed"] == 1
    try:
        # One apimon pod may go; its replacement has nowhere to run (the
        # only node is cordoned), so the second eviction is refused.
        drain = cluster_fixture.kubectl(installed, "drain", installed["node"], "--ignore-daemonsets",
                                        "--delete-emptydir-data", "--pod-selector=app.kubernetes.io/name=apimon",
                                        "--timeout=20s", timeout=120)
        assert drain.returncode != 0, drain.stdout + drain.stderr
        assert "violate the pod's disruption budget" in drain.stderr, drain.stderr
        pods = cluster_fixture.kubectl_json(installed, "get", "pods", "-n", NAMESPACE, "-l",
                                            "app.kubernetes.io/name=apimon")["items"]
        running = [p for p in pods if p["status"]["phase"] == "Running" and "deletionTimestamp" not in p["metadata"]]
        assert len(running) >= 1
    finally:
        cluster_fixture.kubectl(installed, "uncordon", installed["node"], check=True)
    test_autoscalers_hold_the_apis_at_their_minimum(installed)


def diff(cluster, rendered):
    """kubectl diff of the rendered chart against the live objects: a
    server-side dry-run apply under a field manager of its own, so what Helm
    adds beyond the manifests (its release annotations) is no difference."""
    return cluster_fixture.kubectl(cluster, "diff", "--server-side", "--force-conflicts",
                                   "--field-manager=drift-check", "-f", str(rendered), timeout=180)


def test_diff_finds_no_drift_then_a_change_by_hand_then_none_after_upgrade(installed, rendered, values_file):
    clean = diff(installed, rendered)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    patched = cluster_fixture.kubectl(installed, "patch", "configmap", "pokedex-jaeger", "-n", NAMESPACE,
                                      "--type=merge", "-p", json.dumps({"data": {"config.yaml": "changed: by hand"}}))
    assert patched.returncode == 0, patched.stderr
    drifted = diff(installed, rendered)
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "changed: by hand" in drifted.stdout
    upgrade = helm(installed, "upgrade", RELEASE, CHART, "--namespace", NAMESPACE, "-f", values_file,
                   "--server-side=true", "--force-conflicts", "--wait=watcher", "--timeout=5m")
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    again = diff(installed, rendered)
    assert again.returncode == 0, again.stdout + again.stderr


def test_uninstall_leaves_nothing(installed, rendered):
    # Runs last (pytest keeps file order).
    result = helm(installed, "uninstall", RELEASE, "--namespace", NAMESPACE, "--wait", "--timeout=5m")
    assert result.returncode == 0, result.stdout + result.stderr
    left = wait_for_value(
        lambda: cluster_fixture.kubectl_json(installed, "get", CHART_KINDS, "-n", NAMESPACE, "-l", INSTANCE)["items"],
        lambda items: not items, 120, 1,
        lambda items: "left after uninstall: %s" % ["%s/%s" % (i["kind"], i["metadata"]["name"]) for i in items])
    assert left == []
    releases = helm(installed, "list", "--namespace", NAMESPACE, "--all", "-q")
    assert releases.stdout.strip() == ""
    # The user's own Secrets are theirs to remove.
    assert cluster_fixture.kubectl(installed, "get", "secret", "pokedex-database", "-n", NAMESPACE).returncode == 0
