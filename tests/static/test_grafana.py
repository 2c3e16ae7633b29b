"""Static checks of Grafana's provisioning and dashboards (deploy/grafana/).

No Grafana is needed (none is packaged for Debian): the files are parsed and
their properties asserted, and every PromQL expression of every panel is
parsed by Prometheus's own promtool after Grafana's variables are rendered.

* Every dashboard file is a Grafana 12 dashboard with a unique uid and title,
  and the dashboards the issue and the runbooks name all exist.
* Every panel says which method it belongs to (RED, USE, a golden signal, an
  SLO or error budget) and the question it answers, has a unit and
  thresholds, and does not overlap another panel.
* Every query uses a provisioned data source, parses (`promtool check
  rules`), reads only metrics someone exports (a recording rule of
  recording.yml, a name in our C++ sources, or a third-party exporter's
  family listed below with its scrape job), and uses multi-value variables
  with regex matchers only.
* The RED overview's latency heatmap asks for exemplars, and the Prometheus
  data source turns their trace_id into a link to the Jaeger data source.
* A query that reads a histogram as a native one (no _bucket) selects a job
  whose classic histograms Prometheus converts (convert_classic_histograms_to_nhcb
  in prometheus.yml), and a query that wants exemplars from _bucket series
  does not: conversion moves a histogram's exemplars to the native series.
* No query matches le or quantile on a whole number: Prometheus 3 stores
  those values in float form (le="1.0").
* The dashboards provider reads the directory compose mounts the dashboards
  at, and anonymous access is off everywhere.
* python/stackkit/dashboards.py (which the live test uses too) renders
  variables and lists the panels a native stack cannot fill, consistently
  with the dashboards.
"""

import configparser
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from stackkit import dashboards as fixture

REPO = Path(__file__).resolve().parents[2]

GRAFANA_DIR = REPO / "deploy" / "grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
DATASOURCES_DIR = GRAFANA_DIR / "provisioning" / "datasources"
PROVIDERS_DIR = GRAFANA_DIR / "provisioning" / "dashboards"
GRAFANA_INI = GRAFANA_DIR / "grafana.ini"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
RECORDING_RULES = REPO / "deploy" / "prometheus" / "rules" / "recording.yml"
RUNBOOKS = REPO / "docs" / "runbooks"
COMPOSE_FILE = REPO / "compose.yaml"
CODE_DIRS = [REPO / "libs", REPO / "services"]

# Where compose mounts deploy/grafana/dashboards and deploy/grafana/provisioning
# inside the Grafana container; the provider must read the first.
DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards"
PROVISIONING_MOUNT = "/etc/grafana/provisioning"
FOLDER = "Pokédex stack"

# The dashboard JSON schema Grafana 12 writes (its last schema of the classic,
# "v1" dashboard format; Grafana migrates older files when it loads them).
SCHEMA_VERSION = 42
PROMTOOL_TIMEOUT = 60

# The dashboards the issue asks for, by uid: title.
REQUIRED_DASHBOARDS = {
    "pokedex-red": "Service overview (RED)",
    "pokedex-slo": "SLO and error budget",
    "pokedex-containers": "Containers (USE)",
    "pokedex-host": "Host (USE)",
    "pokedex-database": "Database",
    "pokedex-telemetry": "Telemetry pipeline",
    "pokedex-golden-signals": "Four golden signals",
}

METHOD = re.compile(r"\bRED\b|\bUSE\b|[Gg]olden signal|\bSLO\b|[Ee]rror budget")

# Metric families of third-party exporters the dashboards may read, by who
# exports them and the scrape job (prometheus.yml) whose selector must name
# it; None: Prometheus writes the series for every target itself.
THIRD_PARTY = {
    "Prometheus, per target at every scrape": (None, {
        "up", "scrape_duration_seconds", "scrape_samples_scraped",
    }),
    "Prometheus": ("prometheus", {
        "prometheus_tsdb_head_series", "prometheus_rule_group_last_duration_seconds",
        "prometheus_rule_group_interval_seconds", "prometheus_rule_evaluation_failures_total",
    }),
    "Alertmanager": ("alertmanager", {
        "alertmanager_notifications_total", "alertmanager_notifications_failed_total",
    }),
    "node-exporter": ("node", {
        "node_cpu_seconds_total", "node_load1", "node_load5", "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes", "node_vmstat_pgmajfault", "node_vmstat_pswpin", "node_vmstat_pswpout",
        "node_vmstat_oom_kill", "node_disk_io_time_seconds_total", "node_disk_io_time_weighted_seconds_total",
        "node_disk_read_bytes_total", "node_disk_written_bytes_total", "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes", "node_filesystem_device_error", "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total", "node_network_receive_errs_total", "node_network_transmit_errs_total",
        "node_network_receive_drop_total", "node_network_transmit_drop_total",
    }),
    "mysqld-exporter": ("mysqld", {
        "mysql_up", "mysql_global_status_threads_connected", "mysql_global_variables_max_connections",
        "mysql_global_status_threads_running", "mysql_global_status_queries", "mysql_global_status_slow_queries",
        "mysql_global_status_aborted_connects", "mysql_global_status_innodb_buffer_pool_reads",
        "mysql_global_status_innodb_buffer_pool_read_requests", "mysql_global_status_innodb_buffer_pool_bytes_data",
        "mysql_global_variables_innodb_buffer_pool_size",
    }),
    "cAdvisor": ("cadvisor", {
        "container_cpu_usage_seconds_total", "container_cpu_cfs_throttled_periods_total",
        "container_cpu_cfs_periods_total", "container_memory_working_set_bytes", "container_spec_memory_limit_bytes",
        "container_memory_failures_total", "container_network_receive_bytes_total",
        "container_network_transmit_bytes_total", "container_network_receive_errors_total",
        "container_network_transmit_errors_total", "container_network_receive_packets_dropped_total",
        "container_network_transmit_packets_dropped_total", "container_fs_reads_bytes_total",
        "container_fs_writes_bytes_total",
    }),
    # Collector v0.161's own metrics carry no _total suffix (Jaeger 2.12's older Collector core adds one).
    "OpenTelemetry Collector (deploy/otelcol), its own telemetry": ("otel-collector", {
        "otelcol_receiver_accepted_spans", "otelcol_receiver_refused_spans", "otelcol_exporter_sent_spans",
        "otelcol_processor_tail_sampling_count_traces_sampled",
        "otelcol_processor_tail_sampling_global_count_traces_sampled",
        "otelcol_processor_tail_sampling_sampling_traces_on_memory",
        "otelcol_processor_memory_limiter_refused_spans",
    }),
    "OpenTelemetry Collector's span metrics connector, through its prometheus exporter": (
        "otel-collector-spanmetrics", {
            "traces_span_metrics_calls_total", "traces_span_metrics_duration_seconds_bucket",
            "traces_span_metrics_duration_seconds_count", "traces_span_metrics_duration_seconds_sum",
        }),
    "Jaeger v2 (OpenTelemetry Collector's own telemetry)": ("jaeger", {
        "otelcol_receiver_accepted_spans_total", "otelcol_receiver_refused_spans_total",
        "otelcol_exporter_sent_spans_total", "otelcol_exporter_send_failed_spans_total",
    }),
}
THIRD_PARTY_JOB = {name: job for job, names in THIRD_PARTY.values() for name in names}

# How our C++ code names a metric family (prometheus-cpp builders, our own
# collectors and histogram families).
CODE_METRIC = re.compile(
    r'(?:\.Name\(|\.name\s*=\s*|\bfamily\(|histogram_family\(|\badd\(families,\s*)\s*"([a-z_:][a-z0-9_:]*)"')
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


# ---------------------------------------------------------------- helpers ----

def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


DASHBOARD_FILES = fixture.dashboard_files(DASHBOARDS_DIR)
DASHBOARDS = fixture.load_dashboards(DASHBOARDS_DIR)
BY_UID = {d.get("uid"): d for d in DASHBOARDS}


def provisioned(directory, key):
    """The entries under `key` of every provisioning file in directory."""
    found = []
    for path in sorted(directory.glob("*.y*ml")):
        found.extend(load_yaml(path).get(key) or [])
    return found


def datasources():
    return provisioned(DATASOURCES_DIR, "datasources")


def datasource(uid):
    matches = [ds for ds in datasources() if ds.get("uid") == uid]
    assert len(matches) == 1, "expected one provisioned data source with uid %r, found %d" % (uid, len(matches))
    return matches[0]


def panels(dashboard):
    return list(fixture.iter_panels(dashboard))


def all_panels():
    return [(d["uid"], p) for d in DASHBOARDS for p in panels(d)]


def where(uid, panel):
    return "%s / %r" % (uid, panel.get("title"))


def rendered_queries():
    return list(fixture.rendered_queries(DASHBOARDS))


def variable_selectors():
    """(dashboard uid, "variable $name", "", series selector) of every
    label_values(selector, label) template variable, rendered."""
    found = []
    for dashboard in DASHBOARDS:
        values = fixture.dashboard_variables(dashboard)
        for variable in dashboard.get("templating", {}).get("list", []):
            query = variable.get("query")
            query = query.get("query", "") if isinstance(query, dict) else query or ""
            match = re.fullmatch(r"\s*label_values\((.+),\s*\w+\)\s*", query)
            if match:
                found.append((dashboard["uid"], "variable $" + variable["name"], "",
                              fixture.render_expr(match.group(1), values)))
    return found


def recording_rule_names():
    return set(fixture.recording_rule_groups(RECORDING_RULES))


def code_metric_names():
    names = set()
    for root in CODE_DIRS:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".cpp", ".hpp", ".h", ".cc"):
                names.update(CODE_METRIC.findall(path.read_text(encoding="utf-8", errors="replace")))
    return names


def known_by_code(name, code_names):
    if name in code_names:
        return True
    return any(name.endswith(s) and name[: -len(s)] in code_names for s in HISTOGRAM_SUFFIXES)


def scrape_jobs():
    return {job["job_name"] for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]}


def selectors_of(expr, name):
    """The label matcher text following each use of metric `name` in expr
    ("" for a bare name)."""
    found = []
    for match in re.finditer(r"(?<![\w:])%s(?![\w:])\s*(\{[^}]*\})?" % re.escape(name), expr):
        found.append(match.group(1) or "")
    return found


# -------------------------------------------------------------- dashboards ----

def test_every_file_is_a_dashboard_with_unique_uid_and_title():
    assert DASHBOARD_FILES, "no dashboards in %s" % DASHBOARDS_DIR
    uids, titles = {}, {}
    for path, dashboard in zip(DASHBOARD_FILES, DASHBOARDS, strict=True):
        name = path.name
        assert isinstance(dashboard, dict) and isinstance(dashboard.get("panels"), list), \
            "%s is not a Grafana dashboard (no panels list)" % name
        uid, title = dashboard.get("uid"), dashboard.get("title")
        assert isinstance(uid, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", uid), \
            "%s: uid %r must be stable, lower case, at most 40 characters" % (name, uid)
        assert isinstance(title, str) and title.strip(), "%s has no title" % name
        assert uid not in uids, "%s and %s share the uid %r" % (uids.get(uid), name, uid)
        assert title not in titles, "%s and %s share the title %r" % (titles.get(title), name, title)
        uids[uid], titles[title] = name, name
        assert dashboard.get("schemaVersion") == SCHEMA_VERSION, "%s: schemaVersion must be %d" % (name, SCHEMA_VERSION)
        assert dashboard.get("id") is None, "%s: a provisioned dashboard carries no database id" % name
        assert "pokedex-stack" in dashboard.get("tags", []), "%s: tag it pokedex-stack (the dashboards link)" % name
        assert dashboard.get("description"), "%s: say what the dashboard is for" % name
        assert dashboard.get("refresh"), "%s: set an auto-refresh" % name
        assert dashboard.get("editable") is False, "%s: provisioned from git; editable must be false" % name


def test_required_dashboards_exist():
    for uid, title in REQUIRED_DASHBOARDS.items():
        assert uid in BY_UID, "missing dashboard %r (%s)" % (title, uid)
        assert BY_UID[uid]["title"] == title, "dashboard %s is titled %r, not %r" % (uid, BY_UID[uid]["title"], title)


def test_runbooks_name_existing_dashboards():
    titles = {d["title"] for d in DASHBOARDS}
    named = set()
    for path in sorted(RUNBOOKS.glob("*.md")):
        for title in re.findall(r"Grafana, \*\*(.+?)\*\*", path.read_text(encoding="utf-8")):
            named.add(title)
            assert title in titles, "%s points to a Grafana dashboard %r that does not exist" % (path.name, title)
    assert named, "the runbooks name no Grafana dashboard: has their wording changed?"


def test_every_panel_names_its_method_and_question():
    for uid, panel in all_panels():
        text = panel.get("description") or ""
        assert panel.get("title"), "%s: a panel without a title" % uid
        assert METHOD.search(text), \
            "%s: the description must name the method (RED, USE, golden signal, SLO, error budget)" % where(uid, panel)
        assert "?" in text, "%s: the description must ask the question the panel answers" % where(uid, panel)


def test_panel_titles_are_unique_per_dashboard():
    for dashboard in DASHBOARDS:
        titles = [p.get("title") for p in panels(dashboard)]
        duplicated = sorted({t for t in titles if titles.count(t) > 1})
        assert not duplicated, "%s: panel titles used twice: %s" % (dashboard["uid"], duplicated)


def test_every_panel_has_a_unit_and_thresholds():
    for uid, panel in all_panels():
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        assert defaults.get("unit"), "%s: set a unit" % where(uid, panel)
        steps = defaults.get("thresholds", {}).get("steps") or []
        assert steps and steps[0].get("value") is None, \
            "%s: thresholds start with a base step (value null)" % where(uid, panel)
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(values), "%s: threshold steps must ascend: %s" % (where(uid, panel), values)


def test_panels_do_not_overlap():
    def overlapping(group):
        boxes = [(p.get("title"), p["gridPos"]) for p in group]
        for i, (title_a, a) in enumerate(boxes):
            assert a["x"] >= 0 and a["x"] + a["w"] <= 24, "%r is outside the 24-column grid" % title_a
            for title_b, b in boxes[i + 1:]:
                if (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
                        and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]):
                    yield title_a, title_b

    for dashboard in DASHBOARDS:
        top = dashboard["panels"]
        for panel in top:
            assert {"x", "y", "w", "h"} <= set(panel.get("gridPos", {})), \
                "%s: no gridPos" % where(dashboard["uid"], panel)
        clashes = list(overlapping(top))
        for row in (p for p in top if fixture.is_row(p) and p.get("collapsed")):
            clashes += list(overlapping(row.get("panels", [])))
        assert not clashes, "%s: overlapping panels %s" % (dashboard["uid"], clashes)


def test_panel_and_target_ids_are_unique():
    for dashboard in DASHBOARDS:
        ids = [p.get("id") for p in fixture.iter_panels(dashboard, rows=True)]
        assert len(ids) == len(set(ids)), "%s: panel ids repeat" % dashboard["uid"]
        for panel in panels(dashboard):
            refs = [t.get("refId") for t in panel.get("targets", [])]
            assert refs and len(refs) == len(set(refs)), \
                "%s: no queries, or refIds repeat" % where(dashboard["uid"], panel)


# ----------------------------------------------------------------- queries ----

def test_every_query_uses_a_provisioned_datasource():
    uids = {ds.get("uid") for ds in datasources()}
    for dashboard in DASHBOARDS:
        for variable in dashboard.get("templating", {}).get("list", []):
            if "datasource" in variable:
                assert variable["datasource"].get("uid") in uids, \
                    "%s: variable %s uses an unknown data source" % (dashboard["uid"], variable["name"])
        for panel in panels(dashboard):
            assert panel.get("datasource", {}).get("uid") in uids, \
                "%s: panel data source %r is not provisioned" % (where(dashboard["uid"], panel),
                                                                 panel.get("datasource"))
            for target in panel.get("targets", []):
                assert target.get("datasource", {}).get("uid") in uids, \
                    "%s %s: data source %r is not provisioned" % (where(dashboard["uid"], panel), target.get("refId"),
                                                                 target.get("datasource"))


def test_every_query_parses_with_promtool(promtool, tmp_path):
    queries = rendered_queries()
    assert queries
    rules = [{"record": "dashboard_query_%d" % i, "expr": expr} for i, (_, _, _, expr) in enumerate(queries)]
    rules_file = tmp_path / "dashboard-queries.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "grafana-dashboards", "rules": rules}]},
                                         sort_keys=False, allow_unicode=True), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True,
                            timeout=PROMTOOL_TIMEOUT, check=False)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        failed = sorted({int(n) for n in re.findall(r'"dashboard_query_(\d+)"', output)})
        lines = ["%s / %r %s:\n    %s" % (queries[i][0], queries[i][1], queries[i][2], queries[i][3]) for i in failed]
        pytest.fail("promtool cannot parse these queries:\n%s\n\n%s" % ("\n".join(lines) or "(unidentified)", output))


def test_every_metric_is_exported_by_someone():
    records = recording_rule_names()
    code = code_metric_names()
    assert "http_server_request_duration_seconds" in code, "the C++ sources no longer look as this test expects"
    jobs = scrape_jobs()
    unknown = []
    for uid, title, ref, expr in rendered_queries() + variable_selectors():
        for name in sorted(fixture.metric_names(expr)):
            if name in records or known_by_code(name, code):
                continue
            if name not in THIRD_PARTY_JOB:
                unknown.append("%s / %r %s: %s" % (uid, title, ref, name))
                continue
            job = THIRD_PARTY_JOB[name]
            if job is None:
                continue
            assert job in jobs, "job %r of %s is not scraped in prometheus.yml" % (job, name)
            for selector in selectors_of(expr, name):
                assert re.search(r'\bjob\s*=\s*"%s"' % re.escape(job), selector), \
                    "%s / %r %s: select %s with job=\"%s\" (its scrape job)" % (uid, title, ref, name, job)
    assert not unknown, ("metrics nobody exports (not a recording rule of recording.yml, not named in our C++ "
                         "sources, not in THIRD_PARTY):\n  " + "\n  ".join(unknown))


def test_multi_value_variables_are_matched_as_regex():
    for dashboard in DASHBOARDS:
        multi = {v["name"] for v in dashboard.get("templating", {}).get("list", [])
                 if v.get("multi") or v.get("includeAll")}
        for uid, title, ref, expr in fixture.panel_queries([dashboard]):
            for name, start, _ in fixture.variable_references(expr):
                if name in multi:
                    assert re.search(r'[=!]~\s*"$', expr[:start]), \
                        "%s / %r %s: $%s can hold several values; match it with =~\"$%s\"" % (uid, title, ref, name,
                                                                                                name)


def test_every_variable_a_query_uses_is_defined():
    for dashboard in DASHBOARDS:
        variables = fixture.dashboard_variables(dashboard)
        for uid, title, ref, expr in fixture.panel_queries([dashboard]):
            try:
                fixture.render_expr(expr, variables)
            except KeyError as error:
                pytest.fail("%s / %r %s: %s" % (uid, title, ref, error))


def test_red_overview_has_latency_exemplars_per_route():
    red = BY_UID["pokedex-red"]
    names = {v["name"] for v in red["templating"]["list"]}
    assert {"job", "route"} <= names, "the RED overview is per service and route: variables job and route"
    heatmaps = [p for p in panels(red) if p["type"] == "heatmap"]
    assert heatmaps, "the RED overview needs a latency heatmap"
    for panel in heatmaps:
        for target in panel["targets"]:
            assert "http_server_request_duration_seconds_bucket" in target["expr"], where("pokedex-red", panel)
            assert target.get("exemplar") is True, "%s: exemplars must be on" % where("pokedex-red", panel)
            assert target.get("format") == "heatmap", "%s: format must be heatmap" % where("pokedex-red", panel)
            assert re.search(r'http_route=~"\$route"', target["expr"]), \
                "%s: filter by the route variable" % where("pokedex-red", panel)


def converted_jobs():
    """Scrape jobs whose classic histograms Prometheus also stores as native
    histograms with custom buckets (prometheus.yml)."""
    return {job["job_name"] for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]
            if job.get("convert_classic_histograms_to_nhcb")}


def selected_jobs(expr, name, variables):
    """The jobs a selector of metric `name` in expr can match: from job="x",
    or job=~"..." with the dashboard's variables rendered (None: no job
    matcher, any job)."""
    jobs = set()
    for selector in selectors_of(expr, name):
        match = re.search(r'\bjob\s*(=~|=)\s*"([^"]*)"', selector)
        if not match:
            return None
        jobs.update(fixture.render_expr(match.group(2), variables).split("|"))
    return jobs


def test_native_histogram_queries_read_converted_jobs():
    converted = converted_jobs()
    code = code_metric_names()
    native_queries = 0
    for dashboard in DASHBOARDS:
        variables = fixture.dashboard_variables(dashboard)
        for uid, title, ref, expr in fixture.panel_queries([dashboard]):
            if "histogram_quantile(" not in expr:
                continue
            for name in fixture.metric_names(fixture.render_expr(expr, variables)):
                if ":" in name or name.endswith(HISTOGRAM_SUFFIXES) or name not in code:
                    continue
                native_queries += 1
                jobs = selected_jobs(expr, name, variables)
                assert jobs and jobs <= converted, (
                    "%s / %r %s reads %s as a native histogram, but Prometheus converts the classic histograms "
                    "of jobs %s only (convert_classic_histograms_to_nhcb); select one of them with job=\"...\""
                    % (uid, title, ref, name, sorted(converted)))
    assert native_queries, "no panel queries a native histogram any more: update prometheus.yml's pokeload job too"


def test_exemplars_from_bucket_series_come_from_jobs_that_are_not_converted():
    converted = converted_jobs()
    for dashboard in DASHBOARDS:
        variables = fixture.dashboard_variables(dashboard)
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if not target.get("exemplar"):
                    continue
                for name in fixture.metric_names(target["expr"]):
                    if not name.endswith("_bucket"):
                        continue
                    jobs = selected_jobs(target["expr"], name, variables)
                    assert jobs is None or not jobs & converted, (
                        "%s %s: exemplars of %s from job %s, whose histograms Prometheus converts: their "
                        "exemplars are on the native series %s" % (where(dashboard["uid"], panel),
                                                                   target.get("refId"), name,
                                                                   sorted(jobs & converted), name[:-len("_bucket")]))


def test_no_query_matches_a_bound_prometheus_3_never_stores():
    whole_number = re.compile(r'\b(le|quantile)\s*(=|!=)\s*"[+-]?\d+"')
    for uid, title, ref, expr in rendered_queries():
        assert not whole_number.search(expr), \
            "%s / %r %s: le and quantile are stored as floats (le=\"1.0\"): %s" % (uid, title, ref, expr)


# -------------------------------------------------------------- provisioning --

def test_datasources_and_exemplar_link_to_jaeger():
    prometheus, jaeger = datasource("prometheus"), datasource("jaeger")
    assert prometheus["type"] == "prometheus" and prometheus["url"] == "http://prometheus:9090"
    assert jaeger["type"] == "jaeger" and jaeger["url"] == "http://jaeger:16686"
    assert prometheus.get("isDefault") is True
    data = prometheus.get("jsonData", {})
    assert data.get("httpMethod") == "POST"
    scrape_interval = load_yaml(PROMETHEUS_CONFIG)["global"]["scrape_interval"]
    assert data.get("timeInterval") == scrape_interval, \
        "timeInterval must be Prometheus's scrape_interval (%s): $__rate_interval is derived from it" % scrape_interval
    links = data.get("exemplarTraceIdDestinations") or []
    assert {"name": "trace_id", "datasourceUid": "jaeger"} in [
        {"name": link.get("name"), "datasourceUid": link.get("datasourceUid")} for link in links], \
        "exemplars' trace_id must link to the Jaeger data source (uid jaeger)"
    # The exemplars our exposition writes, as the metrics_sample program prints them.
    exposition = subprocess.run([os.environ["METRICS_SAMPLE_BIN"], "openmetrics"], capture_output=True, text=True,
                                timeout=30, check=True).stdout
    assert ' # {trace_id="' in exposition, "the exemplar label our services write is no longer trace_id"


def test_datasources_hold_no_credentials():
    for ds in datasources():
        assert not ds.get("secureJsonData"), "%s: no secrets in provisioning files" % ds.get("name")
        for key in ("password", "basicAuthPassword", "user", "basicAuthUser"):
            assert not ds.get(key), "%s: no %s in provisioning files" % (ds.get("name"), key)


def test_dashboard_provider_reads_the_mounted_directory():
    found = provisioned(PROVIDERS_DIR, "providers")
    assert len(found) == 1, "expected one dashboard provider, found %d" % len(found)
    provider = found[0]
    assert provider.get("type") == "file"
    assert provider.get("folder") == FOLDER
    assert provider.get("allowUiUpdates") is False, "dashboards come from git: no saving over them from the UI"
    options = provider.get("options", {})
    assert options.get("path") == DASHBOARDS_MOUNT, \
        "the provider must read %s, where compose mounts deploy/grafana/dashboards" % DASHBOARDS_MOUNT
    assert options.get("foldersFromFilesStructure") is False


def test_grafana_ini():
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(GRAFANA_INI, encoding="utf-8")
    assert ini.get("auth.anonymous", "enabled", fallback="false").strip().lower() == "false", \
        "anonymous access must stay off"
    assert not ini.has_option("security", "admin_password"), \
        "the admin password comes from GF_SECURITY_ADMIN_PASSWORD__FILE, never from a file in git"
    home = ini.get("dashboards", "default_home_dashboard_path", fallback=None)
    if home is not None:
        assert home.startswith(DASHBOARDS_MOUNT + "/") and (DASHBOARDS_DIR / Path(home).name).is_file(), \
            "the home dashboard %s is not one of deploy/grafana/dashboards mounted at %s" % (home, DASHBOARDS_MOUNT)


def test_anonymous_access_is_not_enabled_anywhere():
    enabling = re.compile(r"GF_AUTH_ANONYMOUS_ENABLED\s*[:=]\s*[\"']?true", re.IGNORECASE)
    for path in sorted(p for p in GRAFANA_DIR.rglob("*") if p.is_file()):
        assert not enabling.search(path.read_text(encoding="utf-8", errors="replace")), \
            "%s enables anonymous access" % path
    assert not enabling.search(COMPOSE_FILE.read_text(encoding="utf-8")), "compose.yaml enables anonymous access"


def test_compose_mounts_what_grafana_reads():
    services = (load_yaml(COMPOSE_FILE) or {}).get("services") or {}
    assert "grafana" in services, "compose.yaml has no grafana service"
    grafana = services["grafana"]
    targets = {}
    for volume in grafana.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume.get("target", "")
        targets[target] = source
    assert os.path.normpath(targets.get(DASHBOARDS_MOUNT, "")) == "deploy/grafana/dashboards", \
        "compose must mount ./deploy/grafana/dashboards at %s" % DASHBOARDS_MOUNT
    assert os.path.normpath(targets.get(PROVISIONING_MOUNT, "")) == "deploy/grafana/provisioning", \
        "compose must mount ./deploy/grafana/provisioning at %s" % PROVISIONING_MOUNT
    environment = grafana.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    assert "GF_SECURITY_ADMIN_PASSWORD" not in environment, "pass the admin password as a file (…__FILE)"
    assert environment.get("GF_SECURITY_ADMIN_PASSWORD__FILE"), "the admin password comes from a secret file"


# -------------------------------------------------- the fixture module ----

def test_container_runtime_only_lists_exactly_the_cadvisor_panels():
    cadvisor = {name for name, job in THIRD_PARTY_JOB.items() if job == "cadvisor"}
    reading = {(uid, title) for uid, title, _, expr in rendered_queries() if fixture.metric_names(expr) & cadvisor}
    assert reading, "no panel reads cAdvisor: the containers dashboard lost its queries"
    assert set(fixture.CONTAINER_RUNTIME_ONLY) == reading, (
        "CONTAINER_RUNTIME_ONLY must list exactly the panels reading cAdvisor;\n  missing: %s\n  not cAdvisor: %s"
        % (sorted(reading - set(fixture.CONTAINER_RUNTIME_ONLY)),
           sorted(set(fixture.CONTAINER_RUNTIME_ONLY) - reading)))
    assert all(reason.strip() for reason in fixture.CONTAINER_RUNTIME_ONLY.values())


def test_only_with_events_names_existing_panels_with_reasons():
    existing = {(d["uid"], p.get("title")) for d in DASHBOARDS for p in panels(d)}
    for key, reason in fixture.ONLY_WITH_EVENTS.items():
        assert key in existing, "ONLY_WITH_EVENTS names %s, which is no panel" % (key,)
        assert key not in fixture.CONTAINER_RUNTIME_ONLY, "%s is listed twice" % (key,)
        assert reason.strip(), "%s: say which event brings its data" % (key,)


@pytest.mark.parametrize("expr, expected", [
    ('rate(x{job=~"$job"}[$__rate_interval])', 'rate(x{job=~"apimon|api-prometheus"}[1m])'),
    ('x{job=~"${job}"} offset $__interval', 'x{job=~"apimon|api-prometheus"} offset 15s'),
    ('x{job=~"${job:regex}", r=~"[[route]]"}[$__range]', 'x{job=~"apimon|api-prometheus", r=~".+"}[1h]'),
    ('x * $__range_s', 'x * 3600'),
    ('label_replace(x, "g", "$1", "l", "(.*)")', 'label_replace(x, "g", "$1", "l", "(.*)")'),
])
def test_render_expr(expr, expected):
    assert fixture.render_expr(expr, {"job": "apimon|api-prometheus", "route": ".+"}) == expected


def test_render_expr_refuses_unknown_variables():
    with pytest.raises(KeyError):
        fixture.render_expr('x{job=~"$jobs"}', {"job": "apimon"})


def test_dashboard_variables_use_the_all_value():
    assert fixture.dashboard_variables(BY_UID["pokedex-red"]) == {"job": "apimon|api-prometheus", "route": ".+"}


@pytest.mark.parametrize("expr, expected", [
    ('sum by (job, le) (rate(a_bucket{job="x", le!="+Inf"}[5m]))', {"a_bucket"}),
    ('a / on (instance) group_left (version) b_info', {"a", "b_info"}),
    ('1 - job:x:ratio_rate5m{job=~"a|b"} / 0.005', {"job:x:ratio_rate5m"}),
    ('histogram_quantile(0.99, c) > bool 1e-09 unless d offset 5m', {"c", "d"}),
    ('max_over_time(e[1m:15s]) and sum without (reason) (f)', {"e", "f"}),
])
def test_metric_names(expr, expected):
    assert fixture.metric_names(expr) == expected
