"""Settings: every one a flag and an environment variable; an invalid one
exits 2 with a message naming it."""
import http.client
import os
import socket
import subprocess

import pytest
from conftest import REPO, ApiPrometheus, apimon_binary, free_port


def run(*args, env=None, binary=None):
    return subprocess.run([binary or apimon_binary(), *args], capture_output=True, text=True, timeout=20,
                          env=env or {})


def api_prometheus_binary():
    return os.environ.get("API_PROMETHEUS_BIN") or str(REPO / "build/ci/services/api-prometheus/api-prometheus")


# The HTTP server's limits, which both services take from service_settings.
HTTP_LIMITS = [("--max-header-bytes", "MAX_HEADER_BYTES"), ("--max-body-bytes", "MAX_BODY_BYTES"),
               ("--io-timeout-ms", "IO_TIMEOUT_MS"), ("--max-unsent-bytes", "MAX_UNSENT_BYTES")]


def test_help_lists_every_setting_with_its_environment_variable():
    result = run("--help")
    assert result.returncode == 0
    for flag, variable in [("--port", "APIMON_PORT"), ("--database-url", "APIMON_DATABASE_URL"),
                           ("--database-password-file", "APIMON_DATABASE_PASSWORD_FILE"),
                           ("--threads", "APIMON_THREADS"), ("--max-header-bytes", "APIMON_MAX_HEADER_BYTES"),
                           ("--max-body-bytes", "APIMON_MAX_BODY_BYTES"),
                           ("--io-timeout-ms", "APIMON_IO_TIMEOUT_MS"),
                           ("--max-unsent-bytes", "APIMON_MAX_UNSENT_BYTES"),
                           ("--idle-timeout-ms", "APIMON_IDLE_TIMEOUT_MS"),
                           ("--max-connections", "APIMON_MAX_CONNECTIONS"),
                           ("--cache-entries", "APIMON_CACHE_ENTRIES"),
                           ("--shutdown-grace-ms", "APIMON_SHUTDOWN_GRACE_MS"),
                           ("--db-pool-size", "APIMON_DB_POOL_SIZE"),
                           ("--sqlite-execution", "APIMON_SQLITE_EXECUTION"),
                           ("--sqlite-read-transaction-ms", "APIMON_SQLITE_READ_TRANSACTION_MS"),
                           ("--db-max-batch", "APIMON_DB_MAX_BATCH")]:
        assert flag in result.stdout and variable in result.stdout, flag


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("apimon ")


@pytest.mark.parametrize("args,env,named", [
    (["--port", "65536"], {}, "--port"),
    (["--port", "http"], {}, "--port"),
    ([], {"APIMON_PORT": "-1"}, "--port"),
    ([], {"APIMON_THREADS": "0"}, "--threads"),
    (["--database-url", "oracle://x"], {}, "--database-url"),
    ([], {"APIMON_DATABASE_URL": "mysql://nohost"}, "--database-url"),
    (["--database-password-file", "/nonexistent"], {}, "--database-password-file"),
    (["--cache-entries", "lots"], {}, "--cache-entries"),
    (["--max-unsent-bytes", "100"], {}, "--max-unsent-bytes"),
    (["--log-level", "loud"], {}, "--log-level"),
    (["--db-max-batch", "0"], {}, "--db-max-batch"),
    ([], {"APIMON_DB_MAX_BATCH": "1025"}, "--db-max-batch"),
    (["--sqlite-execution", "inline"], {}, "--sqlite-execution"),
    ([], {"APIMON_SQLITE_EXECUTION": "threads"}, "--sqlite-execution"),
    (["--sqlite-read-transaction-ms", "60001"], {}, "--sqlite-read-transaction-ms"),
    ([], {"APIMON_SQLITE_READ_TRANSACTION_MS": "-1"}, "--sqlite-read-transaction-ms"),
    (["--bogus"], {}, "--bogus"),
])
def test_invalid_settings_exit_2_naming_the_setting(args, env, named):
    result = run(*args, env=env)
    assert result.returncode == 2, result
    assert named in result.stderr
    assert result.stdout == ""


def test_a_port_in_use_is_a_clear_startup_failure():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # SO_REUSEPORT lets two sockets of the same user share a port, so bind as a
        # different kind of listener: a plain socket without the option blocks it.
        result = run("--listen-address", "127.0.0.1", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stdout


def test_a_second_apimon_on_the_same_port_is_refused(start_apimon):
    """Both would set SO_REUSEPORT, which alone would let the second share the
    first one's port and silently take half of its connections."""
    first = start_apimon("--threads", "2")
    result = run("--listen-address", "127.0.0.1", "--port", str(first.port))
    assert result.returncode == 1, result
    assert f"cannot listen on 127.0.0.1:{first.port}" in result.stdout
    assert first.get("/healthz")[0] == 200


def test_api_prometheus_help_lists_the_http_limits():
    result = run("--help", binary=api_prometheus_binary())
    assert result.returncode == 0, result
    for flag, name in HTTP_LIMITS:
        assert flag in result.stdout and "APIPROM_" + name in result.stdout, flag


@pytest.mark.parametrize("args,env,named", [
    (["--max-header-bytes", "511"], {}, "--max-header-bytes"),
    ([], {"APIPROM_MAX_HEADER_BYTES": "2MiB"}, "--max-header-bytes"),
    (["--max-body-bytes", "-1"], {}, "--max-body-bytes"),
    (["--io-timeout-ms", "99"], {}, "--io-timeout-ms"),
    ([], {"APIPROM_IO_TIMEOUT_MS": "600001"}, "--io-timeout-ms"),
    (["--max-unsent-bytes", "100"], {}, "--max-unsent-bytes"),
])
def test_api_prometheus_refuses_invalid_http_limits(args, env, named):
    result = run(*args, env=env, binary=api_prometheus_binary())
    assert result.returncode == 2, result
    assert named in result.stderr
    assert "not expected" not in result.stderr, "refused as an unknown flag, not for its value"
    assert result.stdout == ""


def request(server, method, path, headers=None, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.parametrize("use_env", [False, True])
def test_api_prometheus_applies_its_header_and_body_limits(use_env):
    """The limits reach api-prometheus's server: a header block or a body over
    them is refused (431, 413) where the defaults (8 KiB, 64 KiB) take it."""
    limits = {"MAX_HEADER_BYTES": "1024", "MAX_BODY_BYTES": "512"}
    if use_env:
        server = ApiPrometheus(free_port(), env={"APIPROM_" + name: value for name, value in limits.items()})
    else:
        server = ApiPrometheus(free_port(), "--max-header-bytes", limits["MAX_HEADER_BYTES"],
                               "--max-body-bytes", limits["MAX_BODY_BYTES"])
    default = ApiPrometheus(free_port())
    try:
        padded = {"X-Padding": "a" * 2048}
        assert request(server, "GET", "/healthz") == 200
        assert request(server, "GET", "/healthz", headers=padded) == 431
        assert request(default, "GET", "/healthz", headers=padded) == 200
        body = b"x" * 1024
        assert request(server, "POST", "/healthz", body=body) == 413
        assert request(default, "POST", "/healthz", body=body) not in (413, 431)
    finally:
        assert server.stop() == 0
        assert default.stop() == 0
