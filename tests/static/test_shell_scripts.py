"""Every shell script of the repository passes shellcheck, and scripts/smoke
(the compose smoke test CI runs) waits, bounded, and names what failed.

Scripts: every file in scripts/ and .ci/ that is a shell script (by its
shebang or shellcheck directive), every *.sh under deploy/ and anywhere else
outside build trees, and the EC2 boot-script template (its rendering is
checked in test_user_data.py).
"""

import http.server
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from stackkit import processes, tools

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "scripts" / "smoke"
SKIP_DIRS = {".git", "build", "node_modules", ".pytest_cache", "__pycache__"}


def is_shell(path):
    try:
        head = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
    except OSError:
        return False
    return head.startswith("#!") and any(s in head for s in ("/sh", "bash")) or "shellcheck shell=" in head


def shell_scripts():
    found = set()
    for directory in ("scripts", ".ci"):
        found.update(p for p in (REPO / directory).iterdir() if p.is_file() and is_shell(p))
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith("build")]
        found.update(Path(root) / f for f in files if f.endswith(".sh"))
    found.add(REPO / "infra" / "aws" / "templates" / "user_data.sh.tftpl")
    return sorted(found)


SCRIPTS = shell_scripts()


def test_the_known_scripts_are_found():
    names = {str(p.relative_to(REPO)) for p in SCRIPTS}
    assert {"scripts/bootstrap", "scripts/install-tools", "scripts/test", "scripts/bench", "scripts/smoke",
            "scripts/tool-versions", ".ci/run", "deploy/alertmanager/render-config.sh",
            "deploy/mariadb/03-app-user.sh"} <= names, names


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_shellcheck(path):
    shell = ["--shell=bash"] if path.suffix == ".tftpl" else []
    result = subprocess.run([tools.binary("shellcheck"), "--external-sources", "--severity=style", *shell,
                             str(path.relative_to(REPO))], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_reports_problems(tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("#!/bin/bash\nrm -rf $1/\n")
    result = subprocess.run([tools.binary("shellcheck"), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "SC2086" in result.stdout


# ----------------------------------------------------------------- smoke --

class _Handler(http.server.BaseHTTPRequestHandler):
    ready_after = 0.0

    def do_GET(self):  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path == "/late" and time.monotonic() < self.ready_after:
            self.send_response(503)
        else:
            self.send_response(200 if path in ("/ok", "/late") else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def smoke(*args, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    started = time.monotonic()
    result = subprocess.run([str(SMOKE), *args], capture_output=True, text=True, timeout=timeout, env=env)
    return result, time.monotonic() - started


def test_smoke_passes_when_everything_answers(server):
    result, _ = smoke("--timeout", "10", server + "/ok", server + "/ok?again")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 2 checks passed" in result.stdout


def test_smoke_names_each_failure_and_stops_at_its_timeout(server):
    closed = "http://127.0.0.1:%d/" % processes.free_port()  # nothing listens there
    result, took = smoke("--timeout", "3", "--interval", "1", server + "/ok", server + "/missing", closed)
    assert result.returncode == 1
    assert "FAILED  %s/missing: HTTP 404 after 3s" % server in result.stderr
    assert "FAILED  %s: no answer after 3s" % closed in result.stderr
    assert "/ok" not in result.stderr and "2 of 3 checks failed" in result.stderr
    assert took < 15


def test_smoke_waits_for_a_late_service(server):
    _Handler.ready_after = time.monotonic() + 2
    try:
        result, took = smoke("--timeout", "30", "--interval", "1", server + "/late")
    finally:
        _Handler.ready_after = 0.0
    assert result.returncode == 0, result.stdout + result.stderr
    assert 1.5 < took < 20


def test_smoke_checks_every_ui_and_api_by_default():
    result, _ = smoke("--list", "--host", "192.0.2.10")
    assert result.returncode == 0
    urls = [line.split("\t")[1] for line in result.stdout.splitlines()]
    assert urls == ["http://192.0.2.10:%s" % u for u in (
        "5000/healthz", "5000/readyz", "5000/pokemon/25", "8689/healthz", "8689/pokemon/25",
        "3000/api/health", "9090/-/ready", "9093/-/ready", "16686/", "16686/api/services", "8080/healthz")]


@pytest.mark.parametrize("args", [["--timeout", "0"], ["--timeout", "soon"], ["--interval"], ["--bogus"]])
def test_smoke_rejects_bad_usage(args):
    result, _ = smoke(*args)
    assert result.returncode == 2 and result.stderr.startswith("smoke: ")
