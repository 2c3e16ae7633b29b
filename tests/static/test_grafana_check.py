"""scripts/grafana-check, the check CI's compose job runs against the real
Grafana (official image) once the stack has run with its default load.

Grafana cannot run here, so what is tested is the script itself:

* the POST /api/ds/query bodies it builds from the real dashboards: one per
  panel, every Prometheus target, expressions rendered exactly as
  python/stackkit/dashboards.py renders them for the other tests, the data
  source by uid, the time range and interval the rendering assumes;
* the data source expectations it reads from the real provisioning files;
* how it reads Grafana's answers (data, no data, errors, and answers of an
  unexpected shape, which must be reported, never raised), which panels may
  be empty, its arguments and environment variables, its summary;
* its HTTP side against a small capture server that answers the documented
  shapes of the endpoints it uses. That proves the script speaks the API as
  documented and reports what it is told; it proves nothing about Grafana,
  which only the compose job checks.
"""

import base64
import copy
import http.server
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest
import yaml

from stackkit import dashboards as fixture

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "grafana-check"


def _load_script():
    loader = importlib.machinery.SourceFileLoader("grafana_check", str(SCRIPT))
    spec = importlib.util.spec_from_loader("grafana_check", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["grafana_check"] = module
    loader.exec_module(module)
    return module


check = _load_script()

DASHBOARDS = fixture.load_dashboards()
DATASOURCES = check.datasource_expectations()
REQUESTS = check.panel_requests(DASHBOARDS, DATASOURCES)


def test_the_script_is_an_executable_python_3_program():
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")
    assert check.fixture() is fixture  # the shared module, not a copy of its logic


# ------------------------------------------------------ /api/ds/query bodies --

def test_every_prometheus_target_of_every_panel_is_asked_as_the_fixture_renders_it():
    asked = sorted((r.dashboard_uid, r.panel_title, q["refId"], q["expr"]) for r in REQUESTS for q in r.body["queries"])
    assert asked == sorted(fixture.rendered_queries(DASHBOARDS))
    panels = {(d["uid"], p.get("title")) for d in DASHBOARDS for p in fixture.iter_panels(d) if p.get("targets")}
    assert {(r.dashboard_uid, r.panel_title) for r in REQUESTS} == panels
    assert len(REQUESTS) == len(panels)  # one request per panel, as a dashboard sends them
    for r in REQUESTS:
        for q in r.body["queries"]:
            left = [name for name, _, _ in fixture.variable_references(q["expr"]) if not name.isdigit()]
            assert not left, (r.name, q["expr"])


def test_request_bodies_have_the_documented_shape_and_the_rendering_range():
    builtins = fixture.BUILTIN_VARIABLES
    prometheus = {d.uid for d in DATASOURCES if d.type == "prometheus"}
    assert prometheus
    for r in REQUESTS:
        body = r.body
        assert set(body) == {"queries", "from", "to"}
        assert (body["from"], body["to"]) == ("now-" + builtins["__range"], "now")
        refs = [q["refId"] for q in body["queries"]]
        assert len(refs) == len(set(refs)) and all(refs), r.name
        for q in body["queries"]:
            assert q["datasource"]["type"] == "prometheus" and q["datasource"]["uid"] in prometheus, r.name
            assert q["intervalMs"] == int(builtins["__interval_ms"])
            assert q["intervalMs"] * q["maxDataPoints"] == int(builtins["__range_ms"])
    json.dumps([r.body for r in REQUESTS])  # serialisable as sent


def test_the_targets_own_options_are_kept():
    originals = {(d["uid"], p.get("title"), t["refId"]): t for d in DASHBOARDS for p in fixture.iter_panels(d)
                 for t in p.get("targets", [])}
    kept = 0
    for r in REQUESTS:
        for q in r.body["queries"]:
            target = originals[(r.dashboard_uid, r.panel_title, q["refId"])]
            for key in set(target) - {"expr", "datasource"}:
                assert q[key] == target[key], (r.name, key)
                kept += 1
    assert kept > len(REQUESTS)
    heatmaps = [q for r in REQUESTS for q in r.body["queries"] if q.get("format") == "heatmap"]
    assert heatmaps and all(q["exemplar"] is True for q in heatmaps)


def _dashboard(panels, variables=()):
    return {"uid": "synthetic", "title": "Synthetic", "panels": panels, "templating": {"list": list(variables)}}


def test_requests_resolve_variables_data_sources_and_skip_what_grafana_skips(monkeypatch):
    job = {"name": "job", "type": "query", "includeAll": True, "allValue": "a|b", "current": {"value": ["$__all"]}}
    panels = [
        {"type": "row", "title": "Row", "collapsed": True, "panels": [
            {"title": "Inside a collapsed row", "datasource": None,
             "targets": [{"expr": 'up{job=~"$job"}'}, {"expr": "rate(x_total[$__rate_interval])"}]}]},
        {"title": "Hidden and foreign", "datasource": {"type": "prometheus", "uid": "prometheus"},
         "targets": [{"refId": "A", "expr": "up", "hide": True},
                     {"refId": "B", "datasource": {"type": "jaeger", "uid": "jaeger"}, "query": "trace"},
                     {"refId": "C", "expr": 'up{job=~"${job:regex}"}'}]},
        {"title": "By name", "datasource": "Prometheus", "targets": [{"refId": "A", "expr": "up"}]},
        {"title": "Text", "type": "text"},
    ]
    monkeypatch.setitem(fixture.ONLY_WITH_EVENTS, ("synthetic", "By name"), "only after an event")
    requests = check.panel_requests([_dashboard(panels, [job])], DATASOURCES)
    by_title = {r.panel_title: r for r in requests}
    assert set(by_title) == {"Inside a collapsed row", "Hidden and foreign", "By name"}
    inside = by_title["Inside a collapsed row"].body["queries"]
    assert [q["refId"] for q in inside] == ["A", "B"]
    assert [q["expr"] for q in inside] == ['up{job=~"a|b"}', "rate(x_total[1m])"]
    default = [d for d in DATASOURCES if d.is_default][0]
    assert inside[0]["datasource"] == {"type": default.type, "uid": default.uid}
    foreign = by_title["Hidden and foreign"].body["queries"]
    assert [(q["refId"], q["expr"]) for q in foreign] == [("C", 'up{job=~"a|b"}')]
    assert by_title["By name"].body["queries"][0]["datasource"] == {"type": "prometheus", "uid": "prometheus"}
    assert by_title["By name"].allowed_empty == "only after an event"
    assert by_title["Hidden and foreign"].allowed_empty is None


def test_only_panels_that_need_an_event_may_be_empty_not_those_that_need_cadvisor():
    allowed = {(r.dashboard_uid, r.panel_title) for r in REQUESTS if r.allowed_empty}
    assert allowed == set(fixture.ONLY_WITH_EVENTS)
    for key in fixture.CONTAINER_RUNTIME_ONLY:
        if key not in fixture.ONLY_WITH_EVENTS:
            assert key not in allowed  # compose runs cAdvisor: these must have data there


# ------------------------------------------------------------- expectations --

def test_datasource_expectations_are_the_provisioning_files():
    declared = []
    for path in sorted((REPO / "deploy" / "grafana" / "provisioning" / "datasources").glob("*.y*ml")):
        for entry in yaml.safe_load(path.read_text())["datasources"]:
            declared.append((entry["name"], entry.get("uid"), entry["type"], entry.get("isDefault")))
    assert [(d.name, d.uid, d.type, d.is_default) for d in DATASOURCES] == declared
    assert [d.type for d in DATASOURCES if d.is_default] == ["prometheus"]
    used = {q["datasource"]["uid"] for r in REQUESTS for q in r.body["queries"]}
    assert used <= {d.uid for d in DATASOURCES}


def test_datasource_expectations_from_other_files(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: 1\ndatasources:\n"
                                     "  - {name: 'Cost $$1', type: prometheus, url: 'http://x'}\n"
                                     "  - {name: Traces, type: tempo, uid: tempo, isDefault: false}\n")
    found = check.datasource_expectations(tmp_path)
    assert [(d.name, d.uid, d.type, d.is_default, d.source) for d in found] == [
        ("Cost $1", None, "prometheus", None, "a.yaml"), ("Traces", "tempo", "tempo", False, "a.yaml")]
    assert found[0].ref() == "Cost $1"  # no uid: looked up by name
    (tmp_path / "b.yml").write_text("datasources:\n  - {type: prometheus}\n")
    with pytest.raises(check.SetupError, match="b.yml"):
        check.datasource_expectations(tmp_path)
    with pytest.raises(check.SetupError, match="no data source provisioning file"):
        check.datasource_expectations(tmp_path / "missing")


def test_dashboard_expectations_are_every_file():
    expected = check.dashboard_expectations()
    files = sorted(p.name for p in (REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
    assert [d.file for d in expected] == files
    assert [(d.uid, d.title) for d in expected] == [(d["uid"], d["title"]) for d in DASHBOARDS]
    assert check.provider_folder_uid() == "pokedex-stack"


def test_panel_signature_ignores_order_but_not_titles_or_queries():
    original = DASHBOARDS[0]
    shuffled = copy.deepcopy(original)
    shuffled["panels"].reverse()
    for panel in shuffled["panels"]:
        panel.pop("gridPos", None)
        panel["pluginVersion"] = "12.9.9"  # what a newer Grafana may add
    assert check.panel_signature(shuffled) == check.panel_signature(original)
    changed = copy.deepcopy(original)
    first = next(p for p in fixture.iter_panels(changed) if p.get("targets"))
    first["targets"][0]["expr"] += " * 2"
    assert check.panel_signature(changed) != check.panel_signature(original)
    assert check.panel_signature({"panels": "not a list"}) == []
    odd = {"panels": ["text", 3, {"type": "row", "title": "R", "panels": "x"},
                      {"title": "P", "targets": ["junk", {"refId": "A", "expr": "up"}]}]}
    assert check.panel_signature(odd) == [("panel", "P", (("A", "up"),)), ("row", "R", ())]
    assert check.panel_signature(["not", "a", "dashboard"]) == []


def test_an_undefined_variable_is_named_and_an_unknown_data_source_is_sent_as_written():
    undefined = _dashboard([{"title": "P", "targets": [{"refId": "A", "expr": 'up{job="$nobody"}'}]}])
    with pytest.raises(check.SetupError, match=r"synthetic.*'P'.*\$nobody"):
        check.panel_requests([undefined], DATASOURCES)
    unknown = _dashboard([{"title": "P", "datasource": {"type": "prometheus", "uid": "${DS_OTHER}"},
                           "targets": [{"refId": "A", "expr": "up"}]}])
    (request,) = check.panel_requests([unknown], DATASOURCES)
    assert request.body["queries"][0]["datasource"] == {"type": "prometheus", "uid": "${DS_OTHER}"}


# ------------------------------------------------------------------ answers --

def _frame(*columns, notices=None):
    frame = {"schema": {"refId": "A", "fields": []}, "data": {"values": list(columns)}}
    if notices:
        frame["schema"]["meta"] = {"notices": notices}
    return frame


@pytest.mark.parametrize("status,payload,expected", [
    (200, {"results": {"A": {"frames": [_frame([1, 2], [0.5, 0.7])]}}}, (None, True)),
    (200, {"results": {"A": {"frames": []}}}, (None, False)),
    (200, {"results": {"A": {"status": 200}}}, (None, False)),
    (200, {"results": {"A": {"frames": [_frame([], [])]}}}, (None, False)),
    (400, {"results": {"A": {"error": "bad_data: parse error", "status": 400}}}, ("bad_data: parse error", False)),
    (200, {"results": {"A": {"status": 500, "frames": []}}}, ("status 500", False)),
    (200, {"results": {}}, ("no result for refId A", False)),
    (200, {"results": {"A": {"frames": "nope"}}}, ("'frames' is not a list", False)),
    (200, {"results": {"A": {"frames": [_frame([1], [1], notices=[{"severity": "error", "text": "boom"}])]}}},
     ("boom", True)),
    (500, {"message": "Query data error"}, ("HTTP 500: Query data error", False)),
    (400, {"results": {"A": {"frames": []}}}, ("HTTP 400", False)),
    (200, ["not", "an", "object"], ("no 'results'", False)),
    (200, None, ("no 'results'", False)),
    (200, {"results": {"A": "text"}}, ("no result for refId A", False)),
])
def test_query_answers_are_read_without_raising(status, payload, expected):
    outcome = check.evaluate_query_response(status, payload, ["A"])["A"]
    error, has_data = expected
    assert outcome.has_data is has_data
    if error is None:
        assert outcome.error is None
    else:
        assert error in outcome.error


def test_a_transport_error_and_warnings_are_reported():
    outcomes = check.evaluate_query_response(None, None, ["A", "B"], error="no answer: timed out")
    assert {o.error for o in outcomes.values()} == {"POST /api/ds/query: no answer: timed out"}
    frame = _frame([1], [2], notices=[{"severity": "warning", "text": "PromQL info: not a counter"},
                                      {"severity": "info", "text": "ignored"}])
    outcome = check.evaluate_query_response(200, {"results": {"A": {"frames": [frame, "junk"]}}}, ["A"])["A"]
    assert outcome.error is None and outcome.has_data and outcome.notices == ["PromQL info: not a counter"]


def _query(allowed=None, refs=("A", "B")):
    body = {"queries": [{"refId": ref, "expr": "up"} for ref in refs], "from": "now-1h", "to": "now"}
    return check.PanelQuery("dash", "Dash", "Panel", body, allowed)


def _outcomes(**states):
    return {ref: check.QueryOutcome(ref, error="boom" if state == "error" else None, has_data=state == "data")
            for ref, state in states.items()}


@pytest.mark.parametrize("states,allowed,require,status", [
    ({"A": "data", "B": "data"}, None, True, check.OK),
    ({"A": "data", "B": "error"}, None, False, check.FAIL),
    ({"A": "data", "B": "error"}, "an event", True, check.FAIL),
    ({"A": "data", "B": "empty"}, None, True, check.FAIL),
    ({"A": "data", "B": "empty"}, None, False, check.EMPTY),
    ({"A": "empty", "B": "empty"}, "an event", True, check.EMPTY),
])
def test_panel_verdicts(states, allowed, require, status):
    result = check.panel_result(_query(allowed), _outcomes(**states), require)
    assert result.status == status
    assert result.name == "dash / Panel"
    assert [line.split()[0] for line in result.lines] == ["A", "B"]


def test_summary_lists_every_check_and_counts_the_failures():
    results = [check.Result("data source", "Prometheus", check.OK, "health OK"),
               check.Result("dashboard", "d1", check.OK),
               check.Result("panel", "d1 / p0", check.OK, "", ["A data", "B data"]),
               check.Result("panel", "d1 / p1", check.FAIL, "", ["A error: bad_data"]),
               check.Result("panel", "d1 / p2", check.EMPTY, "would fail with --require-data", ["A no data"])]
    text, passed = check.summary(results, "Grafana 12")
    assert not passed
    lines = text.splitlines()
    assert lines[0] == "Grafana 12"
    assert "Data sources (1)" in lines and "Dashboards (1)" in lines and "Panel queries (3)" in lines
    assert "  ok     d1 / p0: A data, B data" in lines
    assert "  ok     Prometheus: health OK" in lines and "  ok     d1" in lines
    assert "  FAIL   d1 / p1" in lines and "           A error: bad_data" in lines
    assert lines[-1] == "FAILED: 1 panel (of 5 checks)"
    text, passed = check.summary(results[:3] + results[4:])
    assert passed and text.splitlines()[-1] == "PASSED: 4 checks, 1 panels without data"


# ---------------------------------------------------------------- arguments --

def test_arguments_defaults_environment_and_flags():
    args = check.parse_args([], {})
    assert (args.url, args.user, args.require_data, args.list) == ("http://localhost:3000", "admin", False, False)
    assert Path(args.password_file) == REPO / "deploy" / "secrets" / "grafana_admin_password"
    assert (args.timeout, args.request_timeout, args.interval, args.data_timeout) == (180, 30, 5, 0)
    env = {"GRAFANA_URL": "http://grafana:3000", "GRAFANA_USER": "root", "GRAFANA_ADMIN_PASSWORD_FILE": "/pw",
           "GRAFANA_CHECK_TIMEOUT": "60", "GRAFANA_CHECK_REQUEST_TIMEOUT": "2.5", "GRAFANA_CHECK_INTERVAL": "1",
           "GRAFANA_CHECK_REQUIRE_DATA": "yes", "GRAFANA_CHECK_DATA_TIMEOUT": "300"}
    args = check.parse_args([], env)
    assert (args.url, args.user, args.password_file, args.require_data) == ("http://grafana:3000", "root", "/pw", True)
    assert (args.timeout, args.request_timeout, args.interval, args.data_timeout) == (60, 2.5, 1, 300)
    args = check.parse_args(["--url", "https://g.example", "--timeout", "5", "--password-file", "f"], env)
    assert (args.url, args.timeout, args.password_file) == ("https://g.example", 5, "f")
    assert check.parse_args(["--require-data"], {"GRAFANA_CHECK_REQUIRE_DATA": "0"}).require_data is True
    assert check.parse_args([], {"GRAFANA_CHECK_REQUIRE_DATA": ""}).require_data is False


@pytest.mark.parametrize("argv,env", [
    (["--timeout", "soon"], {}),
    (["--timeout", "0"], {}),
    (["--interval", "-1"], {}),
    (["--request-timeout", "nan"], {}),
    (["--url", "localhost:3000"], {}),
    (["--frobnicate"], {}),
    ([], {"GRAFANA_CHECK_TIMEOUT": "a while"}),
    ([], {"GRAFANA_CHECK_REQUIRE_DATA": "maybe"}),
])
def test_wrong_usage_exits_2(argv, env, capsys):
    with pytest.raises(SystemExit) as exit_info:
        check.parse_args(argv, env)
    assert exit_info.value.code == 2
    assert "grafana-check" in capsys.readouterr().err


def test_the_password_file(tmp_path):
    path = tmp_path / "pw"
    path.write_text(" secret with spaces \n")
    assert check.read_password(path) == " secret with spaces "
    path.write_text("\n")
    with pytest.raises(check.SetupError, match="empty"):
        check.read_password(path)
    with pytest.raises(check.SetupError, match="cannot read"):
        check.read_password(tmp_path / "missing")


# ------------------------------------------------------------------- timing --

class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class _Client:
    url = "http://grafana.invalid"
    request_timeout = 30

    def __init__(self, replies):
        self.replies = list(replies)
        self.asked = []

    def get(self, path, **kwargs):
        self.asked.append((path, kwargs.get("timeout")))
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def post(self, path, body, **kwargs):
        self.asked.append((path, body))
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def test_waiting_for_health_is_bounded_and_says_why():
    clock = _Clock()
    client = _Client([check.Reply(None, error="no answer: connection refused"),
                      check.Reply(503, {"database": "failing"})])
    with pytest.raises(check.CheckFailed, match="not healthy after 20 s.*database: failing"):
        check.wait_for_health(client, 20, 5, clock=clock, sleep=clock.sleep)
    assert clock.now <= 20 and len(client.asked) == 5  # at 0, 5, 10, 15 and 20 s
    assert all(timeout <= 20 for _, timeout in client.asked)
    clock = _Clock()
    client = _Client([check.Reply(None, error="refused"), check.Reply(200, {"database": "ok", "version": "12"})])
    assert check.wait_for_health(client, 20, 5, clock=clock, sleep=clock.sleep)["version"] == "12"
    assert clock.now == 5


def test_panels_without_data_are_asked_again_until_the_data_timeout():
    empty = check.Reply(200, {"results": {"A": {"frames": []}, "B": {"frames": []}}})
    full = check.Reply(200, {"results": {"A": {"frames": [_frame([1], [1])]}, "B": {"frames": [_frame([1], [1])]}}})
    clock = _Clock()
    client = _Client([empty, empty, full])
    results = check.check_panels(client, [_query()], True, data_timeout=60, interval=10,
                                 clock=clock, sleep=clock.sleep)
    assert [r.status for r in results] == [check.OK] and clock.now == 20
    clock = _Clock()
    client = _Client([empty])
    results = check.check_panels(client, [_query(), _query("an event")], True, data_timeout=25, interval=10,
                                 clock=clock, sleep=clock.sleep)
    assert [r.status for r in results] == [check.FAIL, check.EMPTY] and clock.now == 20
    assert len(client.asked) == 2 + 2  # the allowed-empty panel is asked once
    clock = _Clock()
    client = _Client([empty])
    results = check.check_panels(client, [_query()], False, data_timeout=60, interval=10,
                                 clock=clock, sleep=clock.sleep)
    assert [r.status for r in results] == [check.EMPTY] and len(client.asked) == 1


# ------------------------------------------------------------ capture server --
#
# Answers in the shapes of Grafana's HTTP API documentation; pages under
# https://grafana.com/docs/grafana/latest/developer-resources/api-reference/http-api/
#   GET /api/health                       other/ (Health API)
#   GET /api/user                         api-legacy/user/ (Actual User)
#   GET /api/datasources/uid/:uid         data_source/ (Get a single data source by UID)
#   GET /api/datasources/uid/:uid/health  data_source/ (Check data source health)
#   POST /api/ds/query                    data_source/ (Query a data source)
#   GET /api/search                       folder_dashboard_search/
# and https://grafana.com/docs/grafana/v11.0/developers/http_api/dashboard/
#   GET /api/dashboards/uid/:uid          (Get dashboard by uid)
# It serves the repository's own files as "provisioned" and answers every
# query with a frame, or with an error or no data for the expressions a test
# names. It stands in for nothing: it only lets the script's HTTP side run.

PASSWORD = "capture-password"


class _Capture(http.server.BaseHTTPRequestHandler):
    config = {}
    queries = []
    auth = []

    def log_message(self, *args):
        pass

    def _send(self, status, payload, raw=None):
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self):
        header = self.headers.get("Authorization", "")
        self.auth.append(header)
        return header == "Basic " + base64.b64encode(("admin:" + PASSWORD).encode()).decode()

    def do_GET(self):  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if url.path == "/api/health":
            return self._send(200, {"commit": "capture", "database": self.config.get("database", "ok"),
                                    "version": "capture"})
        if not self._authorized():
            return self._send(401, {"message": "Unauthorized"})
        if url.path == "/api/user":
            return self._send(200, {"id": 1, "login": "admin", "isGrafanaAdmin": True})
        if parts[:3] == ["api", "datasources", "uid"]:
            known = {d.uid: d for d in DATASOURCES}
            source = known.get(parts[3])
            if source is None:
                return self._send(404, {"message": "Data source not found"})
            if parts[4:] == ["health"]:
                return self._send(200, {"status": "OK", "message": "Successfully queried the API."})
            return self._send(200, {"id": 1, "uid": source.uid, "orgId": 1, "name": source.name, "type": source.type,
                                    "access": "proxy", "isDefault": bool(source.is_default), "readOnly": True})
        if url.path == "/api/search":
            if self.config.get("search") == "garbage":
                return self._send(200, {"unexpected": True})
            uids = urllib.parse.parse_qs(url.query).get("dashboardUIDs", [])
            return self._send(200, [{"id": 1, "uid": d["uid"], "orgId": 1, "title": d["title"], "type": "dash-db",
                                     "folderUid": "pokedex-stack", "folderTitle": "Pokédex stack"}
                                    for d in DASHBOARDS if d["uid"] in uids])
        if parts[:3] == ["api", "dashboards", "uid"]:
            found = [d for d in DASHBOARDS if d["uid"] == parts[3]]
            if not found:
                return self._send(404, {"message": "Dashboard not found"})
            return self._send(200, {"dashboard": found[0], "meta": {"provisioned": True, "folderUid": "pokedex-stack"}})
        return self._send(404, {"message": "Not found"})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self._authorized():
            return self._send(401, {"message": "Unauthorized"})
        if self.path != "/api/ds/query":
            return self._send(404, {"message": "Not found"})
        self.queries.append(body)
        if self.config.get("query") == "html":
            return self._send(502, None, raw=b"<html>Bad Gateway</html>")
        results, status = {}, 200
        for query in body["queries"]:
            if query["expr"] in self.config.get("error", ()):
                results[query["refId"]] = {"error": "bad_data: invalid parameter", "status": 400}
                status = 400
            elif query["expr"] in self.config.get("empty", ()):
                results[query["refId"]] = {"status": 200, "frames": []}
            else:
                results[query["refId"]] = {"status": 200, "frames": [_frame([1700000000000], [1.0])]}
        return self._send(status, {"results": results})


@pytest.fixture
def capture(tmp_path):
    _Capture.config, _Capture.queries, _Capture.auth = {}, [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    env = {**os.environ, "GRAFANA_URL": "http://127.0.0.1:%d" % server.server_address[1],
           "GRAFANA_ADMIN_PASSWORD_FILE": str(password_file), "GRAFANA_CHECK_TIMEOUT": "5",
           "GRAFANA_CHECK_INTERVAL": "0.2", "GRAFANA_CHECK_REQUEST_TIMEOUT": "5"}
    env.pop("GRAFANA_CHECK_REQUIRE_DATA", None)

    def run(*args, **config):
        _Capture.config = config
        return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                              timeout=120)
    yield run
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_capture_everything_answered_passes_and_the_bodies_are_the_built_ones(capture):
    result = capture("--require-data")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("PASSED: %d checks" % (len(DATASOURCES) + len(DASHBOARDS)
                                                                           + len(REQUESTS)))
    assert _Capture.queries == [r.body for r in REQUESTS]
    assert _Capture.auth and len(set(_Capture.auth)) == 1  # the password file's content, newline dropped
    assert "Traceback" not in result.stderr


def test_capture_errors_and_missing_data_fail_and_are_named(capture):
    broken = REQUESTS[0].body["queries"][0]["expr"]
    quiet = REQUESTS[-1].body["queries"][0]["expr"]
    result = capture("--require-data", error=[broken], empty=[quiet])
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:1] == ["FAIL"] and REQUESTS[0].name in line for line in lines)
    assert any(line.split()[:1] == ["FAIL"] and REQUESTS[-1].name in line and "no data" in line for line in lines)
    assert "bad_data: invalid parameter" in result.stdout
    assert lines[-1].startswith("FAILED: 2 panels")
    result = capture(error=[broken], empty=[quiet])  # without --require-data only the error fails
    assert result.returncode == 1 and result.stdout.splitlines()[-1].startswith("FAILED: 1 panel ")
    assert "would fail with --require-data" in result.stdout


def test_capture_unexpected_answers_are_failures_not_crashes(capture):
    result = capture(query="html", search="garbage")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "not JSON: <html>Bad Gateway</html>" in result.stdout
    assert "not a list" in result.stdout


def test_capture_a_grafana_never_healthy_or_refusing_the_login_fails_clearly(capture, tmp_path):
    result = capture("--timeout", "1", database="migrating")
    assert result.returncode == 1 and "not healthy after 1 s" in result.stderr and "migrating" in result.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("not-it\n")
    result = capture("--password-file", str(wrong))
    assert result.returncode == 1 and "refused user 'admin'" in result.stderr
    assert not _Capture.queries
    result = capture("--url", "http://127.0.0.1:9", "--timeout", "0.5")
    assert result.returncode == 1 and "not healthy" in result.stderr
