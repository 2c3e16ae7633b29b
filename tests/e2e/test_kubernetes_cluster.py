"""The Kubernetes control plane the chart is installed on in the tests
(python/stackkit/kubernetes_cluster.py): etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok's fake node, on loopback.
What the chart relies on works there: Pod Security admission, deployments
rolling out onto the fake node, disruption budgets holding back a drain,
claims binding to the volumes made for them, and the pinned release."""

import json
import os
import pathlib

import pytest

from stackkit import kubernetes_cluster as cluster_fixture
from stackkit import tools
from stackkit.server import wait_for_value

STATE = pathlib.Path(os.environ.get("POKEDEX_STATE_DIR", "/tmp/pokedex-test-state")) / "kubernetes-cluster"
NAMESPACE = "restricted-demo"
REPLICAS = 2

# A pod the restricted Pod Security level admits: non-root, no privilege
# escalation, no capabilities, the runtime's default seccomp profile.
RESTRICTED_CONTAINER = {
    "name": "app",
    "image": "registry.k8s.io/pause:3.10",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "16Mi"}},
}


@pytest.fixture(scope="module")
def cluster():
    # A fresh cluster: the previous run's logs and data go now, this run's stay after it.
    yield from cluster_fixture.fresh(STATE)


@pytest.fixture(scope="module")
def deployment(cluster):
    cluster_fixture.create_namespace(cluster, NAMESPACE, {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    })
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"automountServiceAccountToken": False, "containers": [RESTRICTED_CONTAINER]},
            },
        },
    }
    applied = cluster_fixture.apply(cluster, manifest)
    assert applied.returncode == 0, applied.stderr
    assert "Warning" not in applied.stderr, applied.stderr
    rollout = cluster_fixture.kubectl(cluster, "rollout", "status", "deployment/web", "-n", NAMESPACE,
                                      "--timeout=180s", timeout=240)
    assert rollout.returncode == 0, rollout.stdout + rollout.stderr
    return "web"


def test_versions_are_the_pinned_release(cluster):
    wanted = tools.pinned("KUBERNETES_VERSION")
    result = cluster_fixture.kubectl(cluster, "version", "-o", "json", check=True)
    versions = json.loads(result.stdout)
    assert versions["clientVersion"]["gitVersion"] == wanted
    assert versions["serverVersion"]["gitVersion"] == wanted
    assert (versions["serverVersion"]["major"], versions["serverVersion"]["minor"]) == tuple(
        wanted.lstrip("v").split(".")[:2])


def test_fake_node_is_ready_with_its_labels_and_capacity(cluster):
    node = cluster_fixture.kubectl_json(cluster, "get", "node", cluster["node"])
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == cluster["node"]
    assert labels["topology.kubernetes.io/zone"] == cluster_fixture.NODE_ZONE
    allocatable = node["status"]["allocatable"]
    assert (allocatable["cpu"], allocatable["memory"], allocatable["pods"], allocatable["ephemeral-storage"]) == (
        "8", "32Gi", "110", "100Gi")
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"


def test_deployment_rolls_out_on_the_fake_node(cluster, deployment):
    pods = cluster_fixture.kubectl_json(cluster, "get", "pods", "-n", NAMESPACE, "-l", "app=web")["items"]
    assert len(pods) == REPLICAS
    for pod in pods:
        assert pod["spec"]["nodeName"] == cluster["node"]
        assert pod["status"]["phase"] == "Running"
        ready = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", pod["status"]


def test_pod_security_admission_refuses_a_privileged_pod(cluster, deployment):
    container = {**RESTRICTED_CONTAINER, "securityContext": {"privileged": True}}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged", "namespace": NAMESPACE},
        "spec": {"containers": [container]},
    }
    result = cluster_fixture.apply(cluster, pod)
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr, result.stderr
    assert "privileged" in result.stderr
    assert cluster_fixture.kubectl(cluster, "get", "pod", "privileged", "-n", NAMESPACE).returncode != 0
    # The same pod in a namespace without the label passes admission (a
    # server-side dry run, so no pod is left): the refusal was Pod Security's.
    cluster_fixture.create_namespace(cluster, "unrestricted-demo")
    admitted = cluster_fixture.apply(cluster, {**pod, "metadata": {"name": "privileged",
                                                                   "namespace": "unrestricted-demo"}},
                                     "--dry-run=server")
    assert admitted.returncode == 0, admitted.stderr


def test_disruption_budget_blocks_draining_the_node(cluster, deployment):
    budget = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {"minAvailable": REPLICAS, "selector": {"matchLabels": {"app": "web"}}},
    }
    assert cluster_fixture.apply(cluster, budget).returncode == 0
    # The disruption controller has counted the healthy pods: no disruption allowed.
    status = wait_for_value(
        lambda: cluster_fixture.kubectl_json(cluster, "get", "pdb", "web", "-n", NAMESPACE).get("status", {}),
        lambda s: s.get("observedGeneration") == 1 and s.get("currentHealthy") == REPLICAS, 60, 0.5,
        lambda s: "the disruption budget's status is %s" % s)
    assert status["disruptionsAllowed"] == 0
    try:
        drain = cluster_fixture.kubectl(cluster, "drain", cluster["node"], "--ignore-daemonsets",
                                        "--delete-emptydir-data", "--pod-selector=app=web", "--timeout=20s",
                                        timeout=120)
        assert drain.returncode != 0, drain.stdout + drain.stderr
        assert "violate the pod's disruption budget" in drain.stderr, drain.stderr
        pods = cluster_fixture.kubectl_json(cluster, "get", "pods", "-n", NAMESPACE, "-l", "app=web")["items"]
        assert len(pods) == REPLICAS
        assert all(p["status"]["phase"] == "Running" and "deletionTimestamp" not in p["metadata"] for p in pods)
    finally:
        cluster_fixture.kubectl(cluster, "uncordon", cluster["node"], check=True)


def test_claim_binds_to_a_host_path_volume(cluster):
    cluster_fixture.create_namespace(cluster, "volumes-demo")
    cluster_fixture.create_host_path_volume(cluster, "data-volume-0", capacity="1Gi", storage_class="manual",
                                            claim=("volumes-demo", "data"))
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "volumes-demo"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                 "resources": {"requests": {"storage": "1Gi"}}},
    }
    assert cluster_fixture.apply(cluster, claim).returncode == 0
    bound = wait_for_value(
        lambda: cluster_fixture.kubectl_json(cluster, "get", "pvc", "data", "-n", "volumes-demo"),
        lambda c: c.get("status", {}).get("phase") == "Bound", 60, 0.5,
        lambda c: "claim not bound: %s" % c.get("status"))
    assert bound["spec"]["volumeName"] == "data-volume-0"
