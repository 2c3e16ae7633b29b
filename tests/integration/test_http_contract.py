"""The error contract: every bad input gets a clear problem+json answer, and
the server keeps serving afterwards."""
import signal
import socket

import pytest
from conftest import Apimon, assert_problem


@pytest.fixture(scope="module")
def apimon():
    server = Apimon("--max-header-bytes", "2048", "--max-body-bytes", "1024")
    yield server
    assert server.stop() == 0


@pytest.mark.parametrize("raw_id", ["abc", "-1", "+1", "1a", "25abc", "1.5", "025", "0x19", "%20", "1%00",
                                    "99999999999999999999999", "1000001"])
def test_ids_that_are_not_plain_positive_integers_are_400(apimon, raw_id):
    assert_problem(*apimon.get(f"/pokemon/{raw_id}"), 400)


@pytest.mark.parametrize("number", [0, 1026, 99999, 1000000])
def test_numbers_without_a_pokemon_are_404(apimon, number):
    problem = assert_problem(*apimon.get(f"/pokemon/{number}"), 404)
    assert "Pokédex number" in problem["detail"]


@pytest.mark.parametrize("path", ["/", "/pokemon", "/pokemon/", "/pokemon/25/", "/pokemon/25/evolutions",
                                  "/types/fire", "/POKEMON/25", "/metrics-nope"])
def test_unknown_routes_are_404(apimon, path):
    assert_problem(*apimon.get(path), 404)


@pytest.mark.parametrize("path,expected", [
    ("/pokemon/25?lang=xx", 400), ("/pokemon/search", 400), ("/pokemon/search?name=", 400),
    ("/pokemon/search?name=" + "a" * 65, 400), ("/pokemon/search?name=%FF", 400), ("/pokemon/search?name=%E", 400),
    ("/pokemon/search?name=pi&limit=0", 400), ("/pokemon/search?name=pi&limit=101", 400),
    ("/pokemon/search?name=pi&offset=-1", 400), ("/types/FIRE/pokemon", 400), ("/types/nope/pokemon", 404),
    ("/generations/x/pokemon", 400), ("/generations/10/pokemon", 404), ("/generations/0/pokemon", 404),
])
def test_bad_query_and_path_parameters(apimon, path, expected):
    assert_problem(*apimon.get(path), expected)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_wrong_methods_are_405_with_allow(apimon, method):
    conn = apimon.connection()
    conn.request(method, "/pokemon/25", body=b"")
    response = conn.getresponse()
    body = response.read()
    assert_problem(response.status, dict(response.getheaders()), body, 405)
    assert response.getheader("Allow") == "GET"


def raw_exchange(port, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_oversize_headers_are_431(apimon):
    answer = raw_exchange(apimon.port, b"GET /pokemon/1 HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 4096 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"application/problem+json" in answer


def test_oversize_bodies_are_413(apimon):
    request = b"GET /pokemon/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + b"b" * 2000
    answer = raw_exchange(apimon.port, request)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_garbage_is_400_and_the_server_keeps_serving(apimon):
    assert raw_exchange(apimon.port, b"\x16\x03\x01\x02\x00garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert apimon.get("/pokemon/1")[0] == 200


def test_pipelined_requests_on_one_connection(apimon):
    requests = b"".join(b"GET /pokemon/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in (1, 2, 3))
    answer = raw_exchange(apimon.port, requests + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200 OK") == 4
    assert answer.index(b'"id":1,') < answer.index(b'"id":2,') < answer.index(b'"id":3,')


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_shut_down_cleanly(sig):
    server = Apimon()
    conn = server.connection()
    assert server.get("/pokemon/1", conn)[0] == 200  # an idle kept-alive connection must not hold shutdown
    assert server.stop(sig, timeout=10) == 0
    assert "stopped" in server.output()
