"""The Kubernetes tooling the Helm chart is checked with, offline: helm,
kubeconform and kube-score at the releases scripts/tool-versions pins, and
kubeconform's local schema tree, all built by scripts/install-tools.

helm_bin(), kubeconform_bin() and kube_score_bin() find the binaries in the
tool cache (HELM_BIN, KUBECONFORM_BIN and KUBE_SCORE_BIN override them, as in
stackkit.tools); schema_dir() is the schema tree
(`scripts/install-tools --print-bin kubernetes-schemas`; KUBERNETES_SCHEMAS_DIR
overrides it). kubeconform() validates manifests strictly against that tree
alone: the Kubernetes API's schemas of one release, then the
prometheus-operator CRDs. No schema is looked for anywhere else, so nothing is
downloaded, and a kind found in neither is an error, never a skip.
"""

import json
import os
import subprocess

from stackkit import tools

INSTALL_TOOLS = os.path.join(tools.REPO, "scripts", "install-tools")

# kubeconform's schema locations inside schema_dir(): the Kubernetes API's
# schemas in kubeconform's default layout, and the CRDs by API group.
KUBERNETES_LOCATION = ("{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}/"
                       "{{.ResourceKind}}{{.KindSuffix}}.json")
CRD_LOCATION = "crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"


def helm_bin():
    return tools.cached_binary("helm")


def kubeconform_bin():
    return tools.cached_binary("kubeconform")


def kube_score_bin():
    return tools.cached_binary("kube-score")


def schema_dir():
    """kubeconform's schema tree, as scripts/install-tools builds it (or
    $KUBERNETES_SCHEMAS_DIR). Raises ToolMissing if it has not been built."""
    override = os.environ.get("KUBERNETES_SCHEMAS_DIR")
    if override:
        return override
    path = subprocess.run([INSTALL_TOOLS, "--print-bin", "kubernetes-schemas"], capture_output=True,
                          text=True, check=True, timeout=30).stdout.strip()
    if not os.path.isfile(os.path.join(path, ".installed")):
        raise tools.ToolMissing("kubeconform's schemas are not built (expected %s): run scripts/install-tools" % path)
    return path


def operator_crds():
    """The Prometheus Operator's CustomResourceDefinitions (YAML files, one per
    kind) at PROMETHEUS_OPERATOR_VERSION, kept beside the schemas made from them."""
    directory = os.path.join(schema_dir(), "crd-manifests")
    files = sorted(os.path.join(directory, name) for name in os.listdir(directory) if name.endswith(".yaml"))
    if not files:
        raise tools.ToolMissing("no CRD manifests in %s: run scripts/install-tools" % directory)
    return files


def schema_locations():
    """kubeconform's -schema-location templates for schema_dir(), in the order tried."""
    root = schema_dir()
    return [os.path.join(root, KUBERNETES_LOCATION), os.path.join(root, CRD_LOCATION)]


def kubeconform(manifests, kubernetes_version=None, strict=True, timeout=300):
    """Validates manifests with kubeconform against schema_dir() alone and
    returns its JSON report with every resource listed: {"resources":
    [{"filename", "kind", "name", "version", "status", "msg",
    "validationErrors"}...], "summary": {"valid", "invalid", "errors",
    "skipped"}, "returncode": N}; status is statusValid, statusInvalid or
    statusError (no schema, unparsable). `manifests` is YAML text (a str,
    several documents allowed) or a list of files and directories.
    kubernetes_version defaults to KUBERNETES_SCHEMA_VERSION of
    scripts/tool-versions, the only release whose schemas are built."""
    version = kubernetes_version or tools.pinned("KUBERNETES_SCHEMA_VERSION")
    command = [kubeconform_bin(), "-output", "json", "-summary", "-verbose", "-kubernetes-version", version]
    if strict:
        command.append("-strict")
    for location in schema_locations():
        command += ["-schema-location", location]
    if isinstance(manifests, str):
        text = manifests
    else:
        paths = [os.fspath(path) for path in manifests]
        if not paths:
            raise ValueError("kubeconform() needs manifest text or at least one path")
        command += paths
        text = ""  # kubeconform reads the files, not its standard input
    result = subprocess.run(command, input=text, capture_output=True, text=True, timeout=timeout)
    try:
        report = json.loads(result.stdout)
    except ValueError as e:
        raise AssertionError("kubeconform printed no JSON report (exit %d):\n%s%s"
                             % (result.returncode, result.stdout[-2000:], result.stderr[-2000:])) from e
    report["returncode"] = result.returncode
    return report
