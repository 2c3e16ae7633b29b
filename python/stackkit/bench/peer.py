"""The seed peer (bench/peers/seed): the original project's design, Flask
under gunicorn with PyMySQL, prometheus_client and OpenTelemetry, as the
bench and its test run it. Its pinned requirements live in a venv of their
own in the tool cache, made once and remade when requirements.txt changes
(as scripts/bootstrap does for the test venv); the test venv never imports
them.

CLI: python -m stackkit.bench.peer install    makes the venv if it is missing or stale (silent otherwise)
"""

import hashlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from stackkit import processes, tools
from stackkit.bench import launch, procfs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PEER_DIR = os.path.join(REPO, "bench", "peers", "seed")
REQUIREMENTS = os.path.join(PEER_DIR, "requirements.txt")
SERVICE = "seed-bench"
WORKERS = 2
READY_TIMEOUT = 60
INSTALL_TIMEOUT = 900


class PeerError(RuntimeError):
    pass


def venv_dir():
    return os.path.join(tools.cache_dir(), "seed-venv")


def _requirements_hash():
    with open(REQUIREMENTS, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def installed():
    """True if the venv holds exactly the requirements pinned now."""
    stamp = os.path.join(venv_dir(), ".requirements.sha256")
    try:
        with open(stamp) as f:
            current = f.read().strip() == _requirements_hash()
    except OSError:
        return False
    return current and os.access(os.path.join(venv_dir(), "bin", "gunicorn"), os.X_OK)


def ensure_venv(say=print):
    """The venv's directory, made or remade first if it is missing or its
    requirements changed. Raises PeerError if pip fails."""
    venv = venv_dir()
    if installed():
        return venv
    say(f"  preparing the seed peer's venv in {venv} (bench/peers/seed/requirements.txt)")
    os.makedirs(os.path.dirname(venv), exist_ok=True)
    base = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    for argv in ([base, "-m", "venv", "--clear", venv],
                 [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  "-r", REQUIREMENTS]):
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise PeerError(f"{' '.join(argv[:3])} timed out after {INSTALL_TIMEOUT} s") from None
        if result.returncode != 0:
            raise PeerError(f"{' '.join(argv[:4])} failed: {(result.stdout + result.stderr)[-2000:]}")
    with open(os.path.join(venv, ".requirements.sha256"), "w") as f:
        f.write(_requirements_hash() + "\n")
    return venv


def environment(database_url, password_file, metrics_dir, otlp_endpoint=None, sampler="always_on",
                service=SERVICE):
    """The peer's environment: this one without OTEL_* settings, then the
    database, the multiprocess metrics directory, and traces to
    `otlp_endpoint` sampled by `sampler` (none without an endpoint)."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("OTEL_", "SEED_", "PROMETHEUS_", "GUNICORN_"))}
    env.update(SEED_DATABASE_URL=database_url, SEED_DATABASE_PASSWORD_FILE=password_file,
               PROMETHEUS_MULTIPROC_DIR=metrics_dir, PYTHONDONTWRITEBYTECODE="1")
    if otlp_endpoint is None:
        env["OTEL_SDK_DISABLED"] = "true"
    else:
        env.update(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint,
                   OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", OTEL_TRACES_SAMPLER=sampler,
                   OTEL_SERVICE_NAME=service)
    return env


def argv(port, workers=WORKERS):
    return [os.path.join(venv_dir(), "bin", "gunicorn"), "--config", os.path.join(PEER_DIR, "gunicorn.conf.py"),
            "--chdir", PEER_DIR, "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]


@dataclass
class Peer:
    process: object
    url: str
    log: str
    metrics_dir: str
    counts_spans: bool = False

    @property
    def pid(self):
        return self.process.pid

    @property
    def cpu_pids(self):
        """gunicorn's master and its workers."""
        return (self.pid, *procfs.child_pids(self.pid))

    def log_tail(self, lines=5):
        return launch.log_tail(self.log, lines)


def start(bench, name, mariadb_state, otlp_endpoint, workers=WORKERS, log=None):
    """The peer for case or run `name` on the server CPU (gunicorn and its
    workers), on the bench's MariaDB, traced to `otlp_endpoint`, once it
    answers; None (and the case failed) if it does not get there."""
    port = processes.free_port()
    log = log or os.path.join(bench.out, f"{name}.peer.log")
    metrics_dir = tempfile.mkdtemp(prefix=f"{name}.metrics.", dir=bench.tmp)
    env = environment(mariadb_state["url"], mariadb_state["app_password_file"], metrics_dir, otlp_endpoint)
    with open(log, "wb") as output:
        process = bench.start(argv(port, workers), output, {bench.settings.server_cpu}, env=env)
    peer = Peer(process, f"http://127.0.0.1:{port}", log, metrics_dir)
    if not launch.wait_http(peer.url + "/healthz", process, READY_TIMEOUT):
        bench.results.fail(name, f"the seed peer did not start; log tail: {peer.log_tail()}")
        launch.stop(process)
        return None
    return peer


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["install"]:
        print("usage: python -m stackkit.bench.peer install", file=sys.stderr)
        return 2
    try:
        ensure_venv(say=lambda text: print(text.strip()))
    except (PeerError, OSError) as error:
        print(f"seed peer: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
