#!/usr/bin/env python3
"""Private, throwaway Kubernetes control plane for tests, on loopback.

Runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
the binaries scripts/install-tools builds into the tool cache at the releases
scripts/tool-versions pins (KUBERNETES_VERSION, ETCD_VERSION, KWOK_VERSION),
on free 127.0.0.1 ports, then registers one fake Node that kwok plays the
kubelet of: pods scheduled there become Running and Ready, but no container
runs (no image is pulled, no probe is run, `kubectl logs` and `exec` do not
work). Every file lives under the state directory:

    state.json                       what start() returned
    kubeconfig                       the admin user's (group system:masters)
    pki/ca.{crt,key}                 the client CA (--client-ca-file) and cluster signer
    pki/admin.{crt,key}              the admin user's client certificate
    pki/sa.{key,pub}                 the service-account token key pair
    pki/kube-apiserver/              the API server's self-signed serving certificate
    etcd-data/                       etcd's data
    NAME.pid, NAME.stdout, NAME.stderr   for each component
    kwok/kwok.yaml                   kwok's configuration (its work dir, not ~/.kwok)

The API server: --authorization-mode=Node,RBAC, the default admission plugins
(PodSecurity among them), service accounts signed with pki/sa.key, services
from SERVICE_CIDR, privileged containers allowed by the API (so Pod Security
admission is what refuses them in a restricted namespace). The controller
manager runs the default controllers (deployments, replica sets, stateful
sets, the persistent volume binder, disruption, HPA, namespace, garbage
collector, service accounts and their tokens, ...). No StorageClass exists
and nothing provisions volumes: create_host_path_volume() makes a
PersistentVolume a claim binds to (see its docstring).

CLI:
    kubernetes_cluster.py start  --state-dir DIR     print the state as JSON
    kubernetes_cluster.py stop   --state-dir DIR
    kubernetes_cluster.py status --state-dir DIR     exit 0 if every component is ready
    kubernetes_cluster.py kubectl --state-dir DIR -- ARGS...

API: binary_path, start, stop, fresh, is_ready, load_state, kubectl, kubectl_json,
create_namespace, create_node, wait_for_node_ready, create_host_path_volume
(see docstrings). Every helper taking `state` accepts the state dict start()
returns or a state dir.
"""

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

from stackkit import processes, tools
from stackkit.processes import FixtureError
from stackkit.server import http_request as _http
from stackkit.server import wait_for_value, write_state

INSTALL_TOOLS = os.path.join(tools.REPO, "scripts", "install-tools")

# In start order; stop() goes the other way.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
PORT_NAMES = ("etcd_client", "etcd_peer", "apiserver", "controller_manager", "scheduler", "kwok")

SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_NAME = "pokedex-test"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
ADMIN_USER = "pokedex-admin"  # in group system:masters
# kwok manages the nodes with this annotation (and only those).
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_ANNOTATION_VALUE = "fake"
NODE_NAME = "kwok-node-0"
NODE_ZONE = "zone-a"

READY_TIMEOUT = 180  # per component; the machine may be busy
STOP_GRACE = 30

_OPENSSL_CONFIG = """\
# Written by python/stackkit/kubernetes_cluster.py.
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
"""

_KWOK_CONFIG = """\
# Written by python/stackkit/kubernetes_cluster.py: kwok's default node and
# pod stages (none configured here) for the nodes annotated {annotation}={value}.
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options: {{}}
"""


# ------------------------------------------------------------------ helpers

class _Files:
    def __init__(self, state_dir):
        self.dir = os.path.abspath(state_dir)
        self.state = self.path("state.json")
        self.kubeconfig = self.path("kubeconfig")
        self.pki = self.path("pki")
        self.etcd_data = self.path("etcd-data")
        self.kwok_dir = self.path("kwok")
        self.kwok_config = self.path("kwok", "kwok.yaml")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def pki_file(self, name):
        return os.path.join(self.pki, name)

    def cert_dir(self, component):
        return os.path.join(self.pki, component)

    def serving_ca(self):
        """The API server's self-signed serving certificate (with its CA), which clients verify it with."""
        return os.path.join(self.cert_dir("kube-apiserver"), "apiserver.crt")

    def pidfile(self, component):
        return self.path(component + ".pid")

    def logs(self, component):
        return {"stdout": self.path(component + ".stdout"), "stderr": self.path(component + ".stderr")}

    def log_tail(self, component, lines=40):
        logs = self.logs(component)
        return processes.log_tail([logs["stderr"], logs["stdout"]], self.dir, lines)


def _identity(files, component):
    """An argument only this component of this state directory has on its command line."""
    return {
        "etcd": "--data-dir=" + files.etcd_data,
        "kwok": "--config=" + files.kwok_config,
    }.get(component) or "--cert-dir=" + files.cert_dir(component)


def _pid(files, component):
    return processes.running_pid(files.pidfile(component), _identity(files, component))


def _openssl(files, *args):
    result = subprocess.run(["openssl", *args], cwd=files.pki, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise FixtureError("openssl %s failed:\n%s" % (args[0], result.stderr.strip()))


def _make_pki(files):
    """The client CA, the admin user's certificate and the service-account key
    pair, made once per state directory (kept across restarts)."""
    os.makedirs(files.pki, exist_ok=True)
    config = files.pki_file("openssl.cnf")
    with open(config, "w") as f:
        f.write(_OPENSSL_CONFIG)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    if not os.path.exists(files.pki_file("ca.crt")):
        _openssl(files, "req", "-x509", "-new", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
                 "-subj", "/CN=%s-ca" % CLUSTER_NAME, "-config", config, "-extensions", "ca")
    if not os.path.exists(files.pki_file("admin.crt")):
        _openssl(files, "req", "-new", *ec, "-keyout", "admin.key", "-out", "admin.csr",
                 "-subj", "/O=system:masters/CN=%s" % ADMIN_USER, "-config", config)
        _openssl(files, "x509", "-req", "-in", "admin.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-set_serial", "0x%x" % int.from_bytes(os.urandom(16), "big"), "-out", "admin.crt",
                 "-days", "3650", "-extfile", config, "-extensions", "client")
    if not os.path.exists(files.pki_file("sa.pub")):
        _openssl(files, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key")
        _openssl(files, "pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub")
    for name in ("ca.key", "admin.key", "sa.key"):
        os.chmod(files.pki_file(name), 0o600)


def _write_kubeconfig(files, port):
    # JSON is YAML: kubectl and client-go read it as a kubeconfig.
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER_NAME, "cluster": {
            "server": "https://127.0.0.1:%d" % port,
            "certificate-authority": files.serving_ca()}}],
        "users": [{"name": ADMIN_USER, "user": {
            "client-certificate": files.pki_file("admin.crt"),
            "client-key": files.pki_file("admin.key")}}],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": ADMIN_USER}}],
        "current-context": CLUSTER_NAME,
        "preferences": {},
    }
    with open(files.kubeconfig, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def _commands(files, ports, binaries):
    """Each component's command line."""
    etcd_url = "http://127.0.0.1:%d" % ports["etcd_client"]
    peer_url = "http://127.0.0.1:%d" % ports["etcd_peer"]
    kubeconfig = files.kubeconfig
    component_serving = [
        "--kubeconfig=" + kubeconfig,
        "--authentication-kubeconfig=" + kubeconfig,
        "--authorization-kubeconfig=" + kubeconfig,
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
    ]
    return {
        "etcd": [
            binaries["etcd"], "--name=default", "--data-dir=" + files.etcd_data,
            "--listen-client-urls=" + etcd_url, "--advertise-client-urls=" + etcd_url,
            "--listen-peer-urls=" + peer_url, "--initial-advertise-peer-urls=" + peer_url,
            "--initial-cluster=default=" + peer_url, "--initial-cluster-state=new",
            # Throwaway data: no fsync, so a busy disk does not slow every write.
            "--unsafe-no-fsync", "--log-level=warn",
        ],
        "kube-apiserver": [
            binaries["kube-apiserver"],
            "--etcd-servers=" + etcd_url,
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            "--secure-port=%d" % ports["apiserver"],
            "--cert-dir=" + files.cert_dir("kube-apiserver"),
            "--client-ca-file=" + files.pki_file("ca.crt"),
            "--service-account-issuer=" + SERVICE_ACCOUNT_ISSUER,
            "--service-account-key-file=" + files.pki_file("sa.pub"),
            "--service-account-signing-key-file=" + files.pki_file("sa.key"),
            "--service-cluster-ip-range=" + SERVICE_CIDR,
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            # The kubernetes Service would list 127.0.0.1, which an Endpoints
            # object may not hold; nothing here reaches the API through it.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
        ],
        "kube-controller-manager": [
            binaries["kube-controller-manager"], *component_serving,
            "--secure-port=%d" % ports["controller_manager"],
            "--cert-dir=" + files.cert_dir("kube-controller-manager"),
            "--cluster-name=" + CLUSTER_NAME,
            "--service-cluster-ip-range=" + SERVICE_CIDR,
            "--use-service-account-credentials=false",
            "--service-account-private-key-file=" + files.pki_file("sa.key"),
            "--root-ca-file=" + files.serving_ca(),
            "--cluster-signing-cert-file=" + files.pki_file("ca.crt"),
            "--cluster-signing-key-file=" + files.pki_file("ca.key"),
            "--profiling=false",
        ],
        "kube-scheduler": [
            binaries["kube-scheduler"], *component_serving,
            "--secure-port=%d" % ports["scheduler"],
            "--cert-dir=" + files.cert_dir("kube-scheduler"),
            "--profiling=false",
        ],
        "kwok": [
            binaries["kwok"], "--config=" + files.kwok_config, "--kubeconfig=" + kubeconfig,
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=%s=%s" % (KWOK_ANNOTATION, KWOK_ANNOTATION_VALUE),
            "--server-address=127.0.0.1:%d" % ports["kwok"],
            "--node-ip=127.0.0.1",
        ],
    }


def _client_context(files):
    context = ssl.create_default_context(cafile=files.serving_ca())
    context.load_cert_chain(files.pki_file("admin.crt"), files.pki_file("admin.key"))
    return context


def _https_status(url, context):
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return 0


def _ready(files, component, ports):
    if component == "etcd":
        status, body = _http("http://127.0.0.1:%d/health" % ports["etcd_client"], timeout=5)
        return status == 200 and b'"true"' in body
    if component == "kube-apiserver":
        if not os.path.exists(files.serving_ca()):
            return False
        return _https_status("https://127.0.0.1:%d/readyz" % ports["apiserver"], _client_context(files)) == 200
    if component == "kwok":
        return _http("http://127.0.0.1:%d/healthz" % ports["kwok"], timeout=5)[0] == 200
    # The controller manager and the scheduler serve /healthz to anyone, on
    # self-signed certificates of their own.
    port = ports["controller_manager" if component == "kube-controller-manager" else "scheduler"]
    return _https_status("https://127.0.0.1:%d/healthz" % port, ssl._create_unverified_context()) == 200


def _launch(files, component, command, ports, env=None):
    logs = files.logs(component)
    pid = processes.spawn_detached(command, logs["stdout"], logs["stderr"], env=env)
    with open(files.pidfile(component), "w") as f:
        f.write("%d\n" % pid)
    deadline = time.monotonic() + READY_TIMEOUT
    while not _ready(files, component, ports):
        if not processes.alive(pid):
            raise FixtureError("%s exited during startup (logs: %s):\n%s"
                               % (component, logs["stderr"], files.log_tail(component)))
        if time.monotonic() >= deadline:
            raise FixtureError("%s not ready after %ds (logs: %s):\n%s"
                               % (component, READY_TIMEOUT, logs["stderr"], files.log_tail(component)))
        time.sleep(0.3)
    return pid


def _save_state(files, state):
    return write_state(files.state, state)


# ---------------------------------------------------------------- public API

def binary_path(name):
    """Path of component `name` (kube-apiserver, kube-controller-manager,
    kube-scheduler, kubectl, etcd, kwok) at its pinned release, as
    `scripts/install-tools --print-bin NAME` names it; NAME_BIN in the
    environment (KUBECTL_BIN, ETCD_BIN, KUBE_APISERVER_BIN, ...) overrides it.
    Raises ToolMissing if it has not been built."""
    variable = name.upper().replace("-", "_") + "_BIN"
    override = os.environ.get(variable)
    if override:
        if not os.access(override, os.X_OK):
            raise tools.ToolMissing("%s=%s is not an executable file" % (variable, override))
        return override
    result = subprocess.run([INSTALL_TOOLS, "--print-bin", name], capture_output=True, text=True, timeout=30)
    path = result.stdout.strip()
    if result.returncode != 0 or not path:
        raise tools.ToolMissing("scripts/install-tools --print-bin %s failed: %s" % (name, result.stderr.strip()))
    if not os.access(path, os.X_OK):
        raise tools.ToolMissing("%s is not built (expected %s): run scripts/install-tools" % (name, path))
    return path


def load_state(state_dir):
    """Contents of DIR/state.json (raises FixtureError if absent)."""
    files = _Files(state_dir)
    try:
        with open(files.state) as f:
            return json.load(f)
    except FileNotFoundError:
        raise FixtureError("no cluster state in %s (run start first)" % files.dir) from None


def _state_of(state):
    return load_state(state) if isinstance(state, (str, os.PathLike)) else state


def is_ready(state_dir):
    """True if every component runs and answers."""
    files = _Files(state_dir)
    try:
        state = load_state(state_dir)
    except FixtureError:
        return False
    return all(_pid(files, c) is not None and _ready(files, c, state["ports"]) for c in COMPONENTS)


def stop(state_dir, grace=STOP_GRACE):
    """Stop every component (SIGTERM, SIGKILL after `grace` seconds), the
    last started first. Removes nothing: the logs, etcd's data and the state
    stay for the test to read. No-op for what is not running."""
    files = _Files(state_dir)
    for component in reversed(COMPONENTS):
        pid = _pid(files, component)
        if pid is not None:
            processes.terminate(pid, grace)


def start(state_dir, node=True):
    """Start the control plane and kwok; with node=True (the default) also
    create the fake node NODE_NAME (create_node()) and wait until it is Ready.
    Returns the state dict (also written to DIR/state.json):

        {"kubeconfig": path, "server": "https://127.0.0.1:PORT",
         "ports": {name: port for PORT_NAMES}, "pids": {component: pid},
         "logs": {component: {"stdout": path, "stderr": path}},
         "binaries": {name: path}, "versions": {"kubernetes", "etcd", "kwok"},
         "node": NODE_NAME or None, "state_dir": path}

    Idempotent: a ready cluster is left alone; otherwise whatever still runs
    of it is stopped and everything started again on the same ports and data.
    Raises FixtureError naming the failing component's log file."""
    files = _Files(state_dir)
    os.makedirs(files.dir, exist_ok=True)
    binaries = {name: binary_path(name) for name in (*COMPONENTS, "kubectl")}
    versions = tools.tool_versions()

    if os.path.exists(files.state):
        old = load_state(files.dir)
        if is_ready(files.dir) and (old.get("node") or not node):
            return old
        stop(files.dir)
        ports = old["ports"]
    else:
        ports = dict(zip(PORT_NAMES, processes.free_ports(len(PORT_NAMES)), strict=True))

    busy = [port for port in ports.values() if not processes.port_free(port)]
    if busy:
        raise FixtureError("ports already in use: %s" % ", ".join(map(str, busy)))
    _make_pki(files)
    os.makedirs(files.kwok_dir, exist_ok=True)
    with open(files.kwok_config, "w") as f:
        f.write(_KWOK_CONFIG.format(annotation=KWOK_ANNOTATION, value=KWOK_ANNOTATION_VALUE))
    _write_kubeconfig(files, ports["apiserver"])

    state = {
        "kubeconfig": files.kubeconfig,
        "server": "https://127.0.0.1:%d" % ports["apiserver"],
        "ports": ports,
        "pids": {},
        "logs": {c: files.logs(c) for c in COMPONENTS},
        "binaries": binaries,
        "versions": {"kubernetes": versions.get("KUBERNETES_VERSION"), "etcd": versions.get("ETCD_VERSION"),
                     "kwok": versions.get("KWOK_VERSION")},
        "node": None,
        "state_dir": files.dir,
    }
    commands = _commands(files, ports, binaries)
    # kwok reads ~/.kwok/kwok.yaml too, unless its work dir is elsewhere.
    kwok_env = {**os.environ, "KWOK_WORKDIR": files.kwok_dir}
    try:
        for component in COMPONENTS:
            state["pids"][component] = _launch(files, component, commands[component], ports,
                                               env=kwok_env if component == "kwok" else None)
            _save_state(files, state)
        if node:
            create_node(state)
            wait_for_node_ready(state, NODE_NAME)
            state["node"] = NODE_NAME
    except BaseException:
        stop(files.dir)
        raise
    return _save_state(files, state)


def fresh(state_dir):
    """A generator for a test's fixture: stops a cluster left in `state_dir`
    and removes its data, starts a new one and yields its state, then stops
    it (its logs stay for reading)."""
    stop(str(state_dir))
    shutil.rmtree(state_dir, ignore_errors=True)
    state = start(str(state_dir))
    yield state
    stop(str(state_dir))


def kubectl(state, *args, input=None, timeout=120, check=False):
    """Runs `kubectl --kubeconfig=KUBECONFIG ARGS...`; the CompletedProcess
    (text stdout and stderr). `input` goes to its standard input (for `-f -`).
    With check=True a non-zero exit raises AssertionError with its output."""
    state = _state_of(state)
    command = [state["binaries"]["kubectl"], "--kubeconfig=" + state["kubeconfig"], *args]
    try:
        result = subprocess.run(command, input=input, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise FixtureError("kubectl %s did not finish in %ss" % (" ".join(args), timeout)) from e
    if check and result.returncode != 0:
        raise AssertionError("kubectl %s failed (%d):\n%s%s" % (" ".join(args), result.returncode,
                                                              result.stdout, result.stderr))
    return result


def kubectl_json(state, *args, timeout=120):
    """kubectl ARGS... -o json, decoded; AssertionError if it fails."""
    return json.loads(kubectl(state, *args, "-o", "json", timeout=timeout, check=True).stdout)


def apply(state, manifest, *args, timeout=120):
    """`kubectl apply -f -` of a manifest (YAML/JSON text, or a dict dumped as JSON); the CompletedProcess."""
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    return kubectl(state, "apply", "-f", "-", *args, input=text, timeout=timeout)


def create_namespace(state, name, labels=None, timeout=60):
    """Create (or label) namespace `name` and wait until the service-account
    controller has made its `default` ServiceAccount, without which no pod
    of it is admitted."""
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels or {})}}
    result = apply(state, manifest)
    if result.returncode != 0:
        raise FixtureError("creating namespace %s failed: %s" % (name, result.stderr.strip()))
    wait_for_value(lambda: kubectl(state, "get", "serviceaccount", "default", "-n", name).returncode,
                   lambda code: code == 0, timeout, 0.3,
                   lambda code: "namespace %s has no default service account after %ss" % (name, timeout))


def create_node(state, name=NODE_NAME, zone=NODE_ZONE, cpu="8", memory="32Gi", pods="110",
                ephemeral_storage="100Gi", labels=None):
    """Register a fake Node kwok manages (annotated KWOK_ANNOTATION=fake),
    labelled kubernetes.io/hostname=NAME, topology.kubernetes.io/zone=ZONE,
    kubernetes.io/os=linux and kubernetes.io/arch=amd64, with that capacity
    and allocatable (ephemeral storage too, as a kubelet reports its disk);
    no taint. kwok then keeps it Ready and runs its pods."""
    resources = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": ephemeral_storage}
    manifest = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_ANNOTATION: KWOK_ANNOTATION_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone,
                       "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok",
                       **(labels or {})},
        },
        "status": {"capacity": resources, "allocatable": resources},
    }
    result = apply(state, manifest)
    if result.returncode != 0:
        raise FixtureError("creating node %s failed: %s" % (name, result.stderr.strip()))


def _node_ready(state, name):
    result = kubectl(state, "get", "node", name, "-o", "json")
    if result.returncode != 0:
        return None
    node = json.loads(result.stdout)
    return next((c for c in node["status"].get("conditions", []) if c["type"] == "Ready"), None)


def wait_for_node_ready(state, name=NODE_NAME, timeout=120):
    """Wait until node `name` reports Ready (kwok's doing); its Ready condition."""
    state = _state_of(state)
    return wait_for_value(
        lambda: _node_ready(state, name), lambda c: c is not None and c["status"] == "True", timeout, 0.5,
        lambda c: "node %s not Ready after %ss (condition %s; kwok's log: %s)"
                  % (name, timeout, c, state["logs"]["kwok"]["stderr"]))


def create_host_path_volume(state, name, capacity="1Gi", storage_class="manual", claim=None,
                            access_modes=("ReadWriteOnce",)):
    """Create a hostPath PersistentVolume `name` (/tmp/pokedex-test-volumes/NAME
    on the fake node: nothing is written anywhere) for a claim to bind.

    Nothing provisions volumes here and no StorageClass exists, so a
    StatefulSet's claims bind only to volumes made beforehand: one volume
    per claim, with the claim's storageClassName (`storage_class`; a chart
    value such as persistence.storageClass=manual; "" for a claim that names
    none), an access mode it asks for and at least its size. `claim`
    (NAMESPACE, CLAIM-NAME), e.g. ("ns", "data-web-0") for the first pod of
    StatefulSet web with volumeClaimTemplate data, reserves the volume for
    that claim. The persistent volume binder of the controller manager then
    binds them. Returns the PersistentVolume's name."""
    spec = {
        "capacity": {"storage": capacity},
        "accessModes": list(access_modes),
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": storage_class,
        "hostPath": {"path": "/tmp/pokedex-test-volumes/" + name, "type": "DirectoryOrCreate"},
    }
    if claim is not None:
        spec["claimRef"] = {"namespace": claim[0], "name": claim[1]}
    manifest = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec}
    result = apply(state, manifest)
    if result.returncode != 0:
        raise FixtureError("creating persistent volume %s failed: %s" % (name, result.stderr.strip()))
    return name


# ---------------------------------------------------------------------- CLI

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    subcommands = parser.add_subparsers(dest="cmd", required=True)
    for name in ("start", "stop", "status", "kubectl"):
        sub = subcommands.add_parser(name)
        sub.add_argument("--state-dir", required=True)
        if name == "kubectl":
            sub.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "start":
            print(json.dumps(start(args.state_dir), indent=2))
        elif args.cmd == "stop":
            stop(args.state_dir)
        elif args.cmd == "status":
            return 0 if is_ready(args.state_dir) else 1
        else:
            extra = args.args[1:] if args.args[:1] == ["--"] else args.args
            result = kubectl(args.state_dir, *extra)
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
            return result.returncode
    except FixtureError as e:
        print("kubernetes cluster fixture: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
