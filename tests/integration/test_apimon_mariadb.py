"""apimon against a real MariaDB (the CTest fixture `mariadb`), compared
answer for answer with the embedded SQLite backend, and through a restart."""
import concurrent.futures
import contextlib
import json
import os
import pathlib
import threading
import time

import pytest
from conftest import assert_problem

from stackkit import exposition, processes
from stackkit import mariadb as fixture

STATE_DIR = pathlib.Path(os.environ.get("POKEDEX_STATE_DIR", "/tmp/pokedex-test-state")) / "mariadb"


@pytest.fixture(scope="module")
def database():
    state = fixture.start(str(STATE_DIR))  # idempotent: reuses the CTest fixture's server
    return state


def mariadb_args(state, *overrides):
    settings = {"--database-url": state["url"], "--database-password-file": state["app_password_file"],
                "--db-pool-size": "4", "--db-query-timeout-ms": "2000", "--db-connect-timeout-ms": "1000"}
    settings.update(zip(overrides[::2], overrides[1::2], strict=True))
    return tuple(item for pair in settings.items() for item in pair)


def test_every_answer_is_identical_on_both_backends(start_apimon, database):
    on_mariadb = start_apimon(*mariadb_args(database))
    on_sqlite = start_apimon()
    maria_conn, sqlite_conn = on_mariadb.connection(), on_sqlite.connection()
    paths = [f"/pokemon/{i}" for i in range(0, 1027)]
    paths += [f"/pokemon/{i}?lang={lang}" for i in (1, 29, 83, 669, 772, 1025)
              for lang in ("ja", "ko", "zh-Hant", "zh-Hans", "fr", "de", "es", "it", "es-419", "ja-Latn")]
    paths += [f"/types/{t}/pokemon?limit=100&offset={o}" for t in ("fire", "water", "dragon", "stellar", "nope")
              for o in (0, 100)]
    paths += [f"/generations/{g}/pokemon?limit=100&lang=fr" for g in range(0, 11)]
    paths += ["/pokemon/search?name=" + q for q in ("pi", "PI", "mr.", "flab%C3%A9", "type%3A", "%25", "_", "zzz")]
    paths += ["/pokemon/search?name=%E3%83%94&lang=ja", "/pokemon/search?name=a&limit=100&offset=100"]
    for path in paths:
        maria = on_mariadb.get(path, maria_conn)
        lite = on_sqlite.get(path, sqlite_conn)
        assert maria[0] == lite[0], path
        assert maria[2] == lite[2], path
    ok = sum(1 for i in range(1, 1026) if on_mariadb.get(f"/pokemon/{i}", maria_conn)[0] == 200)
    assert ok == 1025


def test_the_application_user_may_only_read(database):
    grants = fixture.query(str(STATE_DIR), "SHOW GRANTS FOR 'pokedex_app'@'127.0.0.1'")
    privileges = [line for line in grants.splitlines() if "pokedex" in line and "USAGE" not in line]
    assert len(privileges) == 1 and "GRANT SELECT ON `pokedex`.*" in privileges[0], grants


def test_a_database_restart_gives_503_then_recovers_without_restarting_apimon(start_apimon, database):
    apimon = start_apimon(*mariadb_args(database, "--retry-after-s", "3"))
    assert apimon.get("/pokemon/25")[0] == 200
    assert apimon.get("/readyz")[0] == 200
    pid = apimon.process.pid

    statuses, problems = [], []
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            for path in ("/pokemon/25", "/readyz"):
                try:
                    status, headers, body = apimon.get(path)
                except OSError as error:  # the service itself must never drop a request
                    statuses.append(("error", str(error)))
                    continue
                statuses.append(status)
                if status == 503:
                    problems.append((headers, body))
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        fixture.restart(str(STATE_DIR), down_seconds=3)
        # Recovery: a connection may still be waiting out its reconnect backoff
        # when the server returns, but once one gets through the rest follow.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and apimon.get("/pokemon/25")[0] != 200:
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        stop.set()
        poller.join()

    assert all(s in (200, 503) for s in statuses), [s for s in statuses if s not in (200, 503)]
    assert 503 in statuses, "the outage never showed"
    for headers, body in problems:
        assert headers.get("Retry-After") == "3"
        assert_problem(503, headers, body, 503)
    assert statuses[-1] == 200
    assert apimon.process.poll() is None and apimon.process.pid == pid
    # Every pooled connection is back: concurrent bursts wider than the pool all succeed.
    paths = ["/pokemon/25", "/readyz", "/types/fire/pokemon", "/pokemon/search?name=pi"] * 4
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(paths)) as pool:
        for _ in range(3):
            assert [status for status, _, _ in pool.map(apimon.get, paths)] == [200] * len(paths)
    assert json.loads(apimon.get("/pokemon/25")[2])["name"] == "Pikachu"


def test_starting_while_the_database_is_unreachable_serves_503_until_it_is_there(start_apimon, database):
    unreachable = dict(database, url=database["url"].replace(f":{database['port']}/", ":1/"))
    apimon = start_apimon(*mariadb_args(unreachable))
    status, headers, body = apimon.get("/pokemon/1")
    assert_problem(status, headers, body, 503)
    assert "Retry-After" in headers
    assert apimon.get("/readyz")[0] == 503
    assert apimon.get("/healthz")[0] == 200  # alive, just not ready


@contextlib.contextmanager
def database_frozen():
    """SIGSTOP the server: connections stay open but nothing answers, which
    is what a hung database looks like to its clients."""
    pid = int(fixture.load_state(str(STATE_DIR))["pid"])  # read now: a restart changes it
    with processes.frozen(pid):
        yield


def pool_state(apimon):
    """(connections running a query, calls waiting for one), from apimon's /metrics."""
    samples = exposition.parse(apimon.get("/metrics")[2].decode())
    return (exposition.total(samples, "db_client_connections", state="used"),
            exposition.total(samples, "db_client_connection_pending_requests"))


def wait_for_pool_state(apimon, state, timeout=30):
    """Waits until the pool is in `state`: the calls sent before have reached it."""
    deadline = time.monotonic() + timeout
    while (current := pool_state(apimon)) != state and time.monotonic() < deadline:
        time.sleep(0.05)
    assert current == state, f"pool (used, waiting) is {current}, expected {state}"


# The client's own timeout is 10 s (conftest): a request apimon never
# answered would fail these tests by that, whatever else they check.

def test_a_hung_database_times_out(start_apimon, database):
    apimon = start_apimon(*mariadb_args(database, "--db-query-timeout-ms", "500"))
    assert apimon.get("/pokemon/25")[0] == 200
    with database_frozen():
        started = time.monotonic()
        status, headers, body = apimon.get("/pokemon/26")
        elapsed = time.monotonic() - started
        assert_problem(status, headers, body, 503)
        # It waited for its deadline (a lower bound: true under any load)
        # and then gave up, well before the client's own timeout.
        assert 0.5 <= elapsed < 8, f"a 500 ms query deadline ended after {elapsed:.1f}s"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and apimon.get("/pokemon/25")[0] != 200:
        time.sleep(0.1)
    assert apimon.get("/pokemon/25")[0] == 200


def test_a_hung_database_does_not_block_the_event_loop(start_apimon, database):
    # A query deadline of a minute: the query below cannot end while the
    # test looks, however slow the machine.
    apimon = start_apimon(*mariadb_args(database, "--db-query-timeout-ms", "60000"))
    assert apimon.get("/pokemon/25")[0] == 200
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        with database_frozen():
            pending = pool.submit(apimon.get, "/pokemon/27")
            wait_for_pool_state(apimon, (1, 0))  # the query is stuck in the database (and /metrics answered)
            # The loop is free while the query waits: liveness answers, and
            # the query is still waiting when it does.
            assert apimon.get("/healthz")[0] == 200
            assert not pending.done()
        assert pending.result()[0] == 200  # the database is back: the query finished


def test_calls_beyond_the_pool_and_its_queue_are_refused_at_once(start_apimon, database):
    # Deadlines of a minute: the first two calls cannot end while the test
    # looks, so the third one's answer came before theirs, i.e. at once.
    apimon = start_apimon(*mariadb_args(database, "--db-pool-size", "1", "--db-max-waiting", "1",
                                        "--db-query-timeout-ms", "60000", "--db-max-wait-ms", "60000"))
    assert apimon.get("/pokemon/25")[0] == 200  # connected
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        with database_frozen():
            running = pool.submit(apimon.get, "/pokemon/1")
            wait_for_pool_state(apimon, (1, 0))
            queued = pool.submit(apimon.get, "/pokemon/2")
            wait_for_pool_state(apimon, (1, 1))
            status, headers, body = apimon.get("/pokemon/3")
            assert_problem(status, headers, body, 503)
            assert not running.done() and not queued.done()
        assert running.result()[0] == 200  # the database is back: both finish
        assert queued.result()[0] == 200


def statements_executed():
    """The server's count of executed prepared statements (every query apimon sends)."""
    out = fixture.query(str(STATE_DIR), "SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'")
    return int(out.split()[1])


def lookups_per_query(apimon):
    """(queries, lookups they answered), from db_client_operation_batch_size."""
    samples = exposition.parse(apimon.get("/metrics")[2].decode())
    return (exposition.total(samples, "db_client_operation_batch_size_count"),
            exposition.total(samples, "db_client_operation_batch_size_sum"))


# With the one connection held by a query the frozen server cannot answer,
# the lookups sent meanwhile all wait; once it answers, they share a query
# (as many as --db-max-batch allows), or each runs its own with batching off.
@pytest.mark.parametrize(("max_batch", "queries"), [("64", 2), ("4", 3), ("1", 9)])
def test_lookups_waiting_for_a_busy_pool_share_queries(start_apimon, database, max_batch, queries):
    apimon = start_apimon(*mariadb_args(database, "--db-pool-size", "1", "--db-max-batch", max_batch,
                                        "--db-query-timeout-ms", "60000", "--db-max-wait-ms", "60000"))
    paths = [f"/pokemon/{i}" for i in (1, 4, 7, 25, 150, 0, 1025)] + ["/pokemon/25?lang=en"]
    expected = {path: apimon.get(path) for path in ["/pokemon/133", *paths]}  # also connects the pool
    assert expected["/pokemon/0"][0] == 404 and expected["/pokemon/25"][0] == 200
    queries_before, lookups_before = lookups_per_query(apimon)
    executed_before = statements_executed()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(paths) + 1) as pool:
        with database_frozen():
            first = pool.submit(apimon.get, "/pokemon/133")
            wait_for_pool_state(apimon, (1, 0))
            waiting = {path: pool.submit(apimon.get, path) for path in paths}
            wait_for_pool_state(apimon, (1, len(paths)))
        answers = {path: future.result() for path, future in waiting.items()}
        answers["/pokemon/133"] = first.result()
    assert statements_executed() - executed_before == queries
    for path, (status, _, body) in answers.items():
        assert (status, body) == (expected[path][0], expected[path][2]), path
    queries_after, lookups_after = lookups_per_query(apimon)
    assert (queries_after - queries_before, lookups_after - lookups_before) == (queries, len(paths) + 1)

