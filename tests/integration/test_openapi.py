"""The OpenAPI contracts, services/apimon/openapi.json and
services/api-prometheus/openapi.json: each service serves its committed
document byte for byte at GET /openapi.json, the document is valid OpenAPI
3.1 and documents every route the service registers, and Schemathesis, with
every check on, finds no answer that departs from it: apimon on SQLite and on
MariaDB, api-prometheus in front of an apimon. The cases Schemathesis found
stay below as plain requests.

Every test is parametrised by its target, so `pytest -k apimon_sqlite`
(`apimon_mariadb`, `api_prometheus`) runs one target's tests: the three CTest
entries pass that selection in PYTEST_ADDOPTS."""
import json
import os
import pathlib
import re
import subprocess
import sys
import urllib.parse

import jsonschema
import pytest
from conftest import REPO, Apimon, ApiPrometheus, assert_problem
from schemathesis.specs.openapi.definitions import OPENAPI_31

from stackkit import exposition
from stackkit import mariadb as mariadb_fixture

TOKEN = "openapi-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# One seed, so a CI failure replays exactly; examples per operation bounded so
# that a run takes well under two minutes on a busy two-core machine.
SEED = 20261206
API_EXAMPLES = 250
ADMIN_EXAMPLES = 100
RUN_TIMEOUT = 600

APIMON = ["apimon_sqlite", "apimon_mariadb"]
EVERY_TARGET = [*APIMON, "api_prometheus"]
MARIADB_STATE = pathlib.Path(os.environ.get("POKEDEX_STATE_DIR", "/tmp/pokedex-test-state")) / "mariadb"


class Target:
    """A running service under test and the document it should serve."""

    def __init__(self, name, server, service):
        self.name = name
        self.server = server
        self.service = service  # its directory under services/
        self.url = f"http://127.0.0.1:{server.port}"
        self.document_path = REPO / "services" / service / "openapi.json"

    def request(self, method, path, body=None, headers=None):
        conn = self.server.connection()
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, dict(response.getheaders()), data


def mariadb_args():
    state = mariadb_fixture.start(str(MARIADB_STATE))  # idempotent: reuses the CTest fixture's server
    return ("--database-url", state["url"], "--database-password-file", state["app_password_file"],
            "--db-pool-size", "4", "--db-query-timeout-ms", "5000", "--db-connect-timeout-ms", "2000")


@pytest.fixture(scope="module")
def target(request):
    started = []
    try:
        if request.param == "api_prometheus":
            upstream = Apimon()
            started.append(upstream)
            server = ApiPrometheus(upstream.port, "--admin-token", TOKEN)
            service = "api-prometheus"
        else:
            server = Apimon("--admin-token", TOKEN, *(mariadb_args() if request.param == "apimon_mariadb" else ()))
            service = "apimon"
        started.append(server)
        yield Target(request.param, server, service)
    finally:
        for process in reversed(started):
            code = process.stop()
            assert code == 0, f"exited with {code} on SIGTERM: {process.output()[-2000:]}"


def every_target(test):
    return pytest.mark.parametrize("target", EVERY_TARGET, indirect=True)(test)


def apimon_targets(test):
    return pytest.mark.parametrize("target", APIMON, indirect=True)(test)


def operations(document):
    return [(path, method) for path, item in document["paths"].items() for method in item
            if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}]


def schemathesis(target, workdir, *args):
    """Runs Schemathesis with every check; fails with its summary on any finding.

    It reads the committed document (the one served, as the first test
    proves): read from /openapi.json it would leave that operation out."""
    command = [sys.executable, "-m", "schemathesis.cli", "run", str(target.document_path), "--url", target.url,
               "--checks", "all", "--seed", str(SEED), "--workers", "1", "--generation-database", "none",
               "--request-timeout", "10", "--suppress-health-check", "too_slow", "--no-color", *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    output = result.stdout + result.stderr
    # The failures with their curl reproductions and the summary, into the CI log.
    assert result.returncode == 0, "Schemathesis found answers that depart from the document:\n" + output[-20000:]
    tested = re.search(r"Selected: (\d+)/\d+\s+Tested: (\d+)", output)
    assert tested and tested.group(1) == tested.group(2), output[-5000:]
    return int(tested.group(2))


# The document ------------------------------------------------------------

@every_target
def test_the_served_document_is_the_committed_file(target):
    status, headers, body = target.server.get("/openapi.json")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == target.document_path.read_bytes()


def schemas_in(node, path="#"):
    """Every JSON Schema in an OpenAPI document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" and isinstance(value, dict):
                yield f"{path}/schema", value
            elif key == "schemas" and path == "#/components":
                yield from ((f"{path}/schemas/{name}", schema) for name, schema in value.items())
            else:
                yield from schemas_in(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schemas_in(value, f"{path}/{i}")


def references_in(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from references_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from references_in(value)


@every_target
def test_the_document_is_valid_openapi_3_1(target):
    document = json.loads(target.document_path.read_bytes())
    # The OpenAPI Initiative's schema for 3.1 documents, as Schemathesis ships it.
    jsonschema.Draft202012Validator(OPENAPI_31).validate(document)
    assert document["openapi"] == "3.1.0"
    for where, schema in schemas_in(document):
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            raise AssertionError(f"{where}: {error.message}") from error
    for reference in set(references_in(document)):
        node = document
        for part in reference.removeprefix("#/").split("/"):
            assert part in node, f"{reference} points nowhere"
            node = node[part]
    # Every operation is named and answers at least one success.
    for path, method in operations(document):
        operation = document["paths"][path][method]
        assert operation["operationId"] and operation["summary"], (path, method)
        assert any(code.startswith("2") for code in operation["responses"]), (path, method)
    binary = target.server.process.args[0]
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout.split()[-1]
    assert document["info"]["version"] == version


def registered_routes(service):
    """(template, method) for every route the service's source registers."""
    constants = {"http::openapi_route": "/openapi.json"}
    routes = set()
    for source in (REPO / "services" / service).glob("*.cpp"):
        text = source.read_text(encoding="utf-8")
        # router.get, or apimon's api_route (router.get with fault injection)
        # whose own router.get names its parameter, `route`.
        for template, constant in re.findall(r'(?:router\.get|api_route)\(\s*(?:"([^"]+)"|([\w:]+))', text):
            if constant != "route":
                routes.add((template or constants[constant], "get"))
        if "faults::add_admin_routes(" in text or "faults::start(" in text:
            faults = (REPO / "libs/faults/src/http_faults.cpp").read_text(encoding="utf-8")
            for method in re.findall(r"router\.add\(http::verb::(\w+), admin_route", faults):
                routes.add(("/admin/faults", method.rstrip("_")))
    return routes


@every_target
def test_every_route_the_service_registers_is_documented(target):
    document = json.loads(target.document_path.read_bytes())
    routes = registered_routes(target.service)
    assert len(routes) >= 9
    assert set(operations(document)) == routes


@every_target
def test_head_and_other_methods_are_405_as_on_every_route(target):
    for method in ("HEAD", "POST", "PUT", "DELETE"):
        status, headers, body = target.request(method, "/openapi.json")
        assert status == 405 and headers["Allow"] == "GET", (method, status)
        if method != "HEAD":  # a HEAD answer has no body
            assert_problem(status, headers, body, 405)
        status, headers, _ = target.request(method, "/healthz")
        assert status == 405 and headers["Allow"] == "GET", (method, status)


@every_target
def test_the_document_route_is_labelled_by_its_template(target):
    assert target.server.get("/openapi.json?format=json")[0] == 200
    status, _, body = target.server.get("/metrics")
    assert status == 200
    samples = exposition.parse(body.decode())
    routes = {labels["http_route"] for labels, _ in
              exposition.series(samples, "http_server_request_duration_seconds_count")}
    assert "/openapi.json" in routes
    assert not any("?" in route for route in routes), routes
    assert exposition.total(samples, "http_server_request_duration_seconds_count", http_route="/openapi.json",
                            http_response_status_code="200") >= 1


@every_target
def test_the_document_answers_while_errors_are_injected(target):
    # Like /healthz and /metrics, and as the document says: injected faults
    # reach the API routes only.
    try:
        assert target.request("PUT", "/admin/faults", {"error_share": 1, "error_status": 503}, AUTH)[0] == 200
        assert_problem(*target.server.get("/pokemon/25"), 503)
        status, _, body = target.server.get("/openapi.json")
        assert status == 200 and body == target.document_path.read_bytes()
    finally:
        assert target.request("DELETE", "/admin/faults", headers=AUTH)[0] == 200


# Schemathesis ------------------------------------------------------------

@every_target
def test_schemathesis_finds_no_departure_from_the_document(target, tmp_path):
    # Faults off: an injected error would be a finding of its own.
    status, _, body = target.request("GET", "/admin/faults", headers=AUTH)
    assert status == 200 and json.loads(body)["active"] == []
    document = json.loads(target.document_path.read_bytes())
    expected = len([1 for path, _ in operations(document) if path != "/admin/faults"])
    assert schemathesis(target, tmp_path, "--max-examples", str(API_EXAMPLES),
                        "--exclude-path", "/admin/faults") == expected


@every_target
def test_schemathesis_on_the_admin_api_with_the_token(target, tmp_path):
    # With the token, so the accepted settings are explored too; the
    # ignored_auth check also sends each request without it and with a wrong one.
    try:
        assert schemathesis(target, tmp_path, "--max-examples", str(ADMIN_EXAMPLES),
                            "--include-path", "/admin/faults", "--header", f"Authorization: Bearer {TOKEN}") == 3
    finally:
        assert target.request("DELETE", "/admin/faults", headers=AUTH)[0] == 200


# What Schemathesis found, as plain requests --------------------------------

def search(target, name, **params):
    return target.server.get("/pokemon/search?" + urllib.parse.urlencode({"name": name, **params}))


@apimon_targets
def test_a_search_name_is_limited_in_characters_not_bytes(target):
    # The document says maxLength 64, which JSON Schema counts in characters;
    # apimon counted bytes and refused this 27-character name (69 bytes in
    # UTF-8). The request as Schemathesis sent it (seed 4, 1000 examples):
    status, _, body = target.server.get(
        "/pokemon/search?limit=1&name=%C3%82%F0%BD%9B%A8%40%C2%A0%F3%93%AC%B4%F2%96%BD%A1%F2%BB%9F%90%3F%5E%C2%98"
        "%F2%90%96%ACU%C3%AE%C3%96%C2%A80%3B%F0%BE%8D%93%C2%8A%F4%82%B4%B4%F4%86%9B%8D%F3%B4%A9%91%C3%BF%F1%B4%B8"
        "%A0%C2%87%F1%84%B1%9AS")
    assert status == 200, body
    assert json.loads(body)["results"] == []
    for character in ("a", "é", "ピ", "\U0001f600"):  # one to four bytes in UTF-8
        assert search(target, character * 64)[0] == 200, character
        problem = assert_problem(*search(target, character * 65), 400)
        assert "64 characters" in problem["detail"]
    assert json.loads(search(target, "PIKA")[2])["results"][0]["name"] == "Pikachu"


@every_target
def test_admin_api_refuses_settings_of_faults_the_service_cannot_inject(target):
    # Each would have been accepted while it switched nothing on: the
    # document says a service takes only the settings of its own faults.
    unsupported = {"apimon": [{"upstream_unreachable": False}],
                   "api-prometheus": [{"slow_query_ms": 100, "slow_query_share": 0}, {"slow_query_ms": 0}]}
    for settings in unsupported[target.service]:
        status, headers, body = target.request("PUT", "/admin/faults", settings, AUTH)
        problem = assert_problem(status, headers, body, 400)
        assert "cannot inject" in problem["detail"] and next(iter(settings)) in problem["detail"], problem
    status, _, body = target.request("PUT", "/admin/faults", {"latency_ms": 0, "error_share": 0}, AUTH)
    assert status == 200 and json.loads(body)["active"] == []
