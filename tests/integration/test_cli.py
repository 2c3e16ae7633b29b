"""Settings: every one a flag and an environment variable; an invalid one
exits 2 with a message naming it."""
import socket
import subprocess

import pytest
from conftest import apimon_binary


def run(*args, env=None):
    return subprocess.run([apimon_binary(), *args], capture_output=True, text=True, timeout=20, env=env or {})


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
