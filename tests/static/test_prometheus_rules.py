"""Static checks of the Prometheus configuration, rules and runbooks, with
Prometheus' own promtool (the release scripts/tool-versions pins, built by
scripts/install-tools).

* `promtool check rules` parses every rule file and its PromQL;
  `promtool check config` parses prometheus.yml and the rule files it names
  (relative to the config file). Neither resolves nor contacts a target, so
  the compose host names need no DNS here.
* `promtool test rules` runs every unit-test file in
  deploy/prometheus/rules/tests/ (all started at once: the SLO tests replay
  three days of samples, a minute apart, and take a while).
* Every alert carries a severity and the annotations summary, description and
  runbook_url; the runbook exists, names the alert and is indexed; every
  alerting rule (each severity and window pair of the burn-rate alerts) is
  made to fire by at least one test case, with its labels.
* prometheus.yml scrapes every target of the stack, and every job the rules
  select exists there.
"""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_DIR = PROMETHEUS_DIR / "rules"
RECORDING = RULES_DIR / "recording.yml"
ALERTS = RULES_DIR / "alerts.yml"
RULE_TESTS_DIR = RULES_DIR / "tests"
RUNBOOKS = REPO / "docs" / "runbooks"
RUNBOOK_URL = "https://github.com/pokedex-stack/pokedex-stack/blob/main/docs/runbooks/%s.md"

SEVERITIES = {"page", "ticket", "warning"}
# slo_page_test.yml needs about 25 s of CPU; a loaded machine stretches that.
PROMTOOL_TIMEOUT = 300

# job -> target (compose service:port) the stack must scrape.
EXPECTED_TARGETS = {
    "apimon": ["apimon:5000"],
    "api-prometheus": ["api-prometheus:8689"],
    "pokeload": ["pokeload:9464", "pokeload-apimon:9464"],
    "cadvisor": ["cadvisor:8080"],
    "node": ["node-exporter:9100"],
    "mysqld": ["mysqld-exporter:9104"],
    "jaeger": ["jaeger:8888"],
    "otel-collector": ["otel-collector:8888"],
    "otel-collector-spanmetrics": ["otel-collector:8889"],
    "prometheus": ["prometheus:9090"],
    "alertmanager": ["alertmanager:9093"],
}

# level:metric:operations, lower case (e.g. job_route:http_server_requests:rate5m).
RECORD_NAME = re.compile(r"[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9][a-z0-9_]*")


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


RULE_TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.yml"))


def groups(path):
    return load_yaml(path)["groups"]


def alerting_rules():
    return [rule for group in groups(ALERTS) for rule in group["rules"] if "alert" in rule]


def recording_rules():
    return [rule for group in groups(RECORDING) for rule in group["rules"]]


def alert_names():
    return sorted({rule["alert"] for rule in alerting_rules()})


def run(args, cwd=REPO):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT, check=False)


@pytest.fixture(scope="module")
def unit_test_runs(promtool):
    """One `promtool test rules` process per test file, all started at once;
    {file name: (exit status, output)}."""
    procs = {}
    for path in RULE_TEST_FILES:
        procs[path.name] = subprocess.Popen([promtool, "test", "rules", str(path)], cwd=REPO,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    results = {}
    try:
        for name, proc in procs.items():
            try:
                out, _ = proc.communicate(timeout=PROMTOOL_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                out = "timed out after %ds\n%s" % (PROMTOOL_TIMEOUT, out)
            results[name] = (proc.returncode, out)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


# ---------------------------------------------------------------- promtool ----

def test_check_rules(promtool):
    result = run([promtool, "check", "rules", str(RECORDING), str(ALERTS)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_config_resolves_rule_files_relative_to_the_config(promtool, tmp_path):
    # Run from elsewhere: rule_files must resolve against the config's directory.
    result = run([promtool, "check", "config", str(CONFIG)], cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "2 rule files found" in output, output
    for rule_file in (RECORDING, ALERTS):
        assert str(rule_file) in output, "check config did not check %s:\n%s" % (rule_file, output)


def test_there_are_rule_unit_tests():
    assert [p.name for p in RULE_TEST_FILES], "no promtool unit tests in %s" % RULE_TESTS_DIR


@pytest.mark.parametrize("test_file", [p.name for p in RULE_TEST_FILES])
def test_promtool_unit_tests_pass(unit_test_runs, test_file):
    status, output = unit_test_runs[test_file]
    assert status == 0, output
    assert "SUCCESS" in output, output


# -------------------------------------------------------------- rule files ----

def test_recording_rule_names_follow_level_metric_operations():
    names = [rule["record"] for rule in recording_rules()]
    assert names, "no recording rules"
    bad = [name for name in names if not RECORD_NAME.fullmatch(name)]
    assert not bad, "not level:metric:operations: %s" % bad
    assert len(names) == len(set(names)), "a recording rule name is used twice"


def test_slo_ratios_are_recorded_for_every_burn_rate_window():
    names = {rule["record"] for rule in recording_rules()}
    for slo in ("availability", "latency"):
        for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
            assert "job:slo_%s_errors:ratio_rate%s" % (slo, window) in names


def test_every_alert_has_severity_summary_description_and_runbook():
    rules = alerting_rules()
    assert rules, "no alerting rules"
    for rule in rules:
        name = rule["alert"]
        labels = rule.get("labels") or {}
        annotations = rule.get("annotations") or {}
        assert labels.get("severity") in SEVERITIES, "%s: severity %r" % (name, labels.get("severity"))
        for key in ("summary", "description", "runbook_url"):
            assert str(annotations.get(key, "")).strip(), "%s: no %s" % (name, key)
        assert annotations["runbook_url"] == RUNBOOK_URL % name, \
            "%s: runbook_url %s" % (name, annotations["runbook_url"])


@pytest.mark.parametrize("name", alert_names())
def test_runbook_exists_and_names_the_alert(name):
    path = RUNBOOKS / ("%s.md" % name)
    assert path.is_file(), "no runbook %s" % path.relative_to(REPO)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# %s\n" % name), "%s must start with the heading '# %s'" % (path.name, name)
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    assert "(%s.md)" % name in index, "docs/runbooks/README.md does not link %s.md" % name


def test_no_runbook_without_an_alert():
    runbooks = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert runbooks == set(alert_names())


# ------------------------------------------------------------------- tests ----

def fired_in_tests():
    """(alertname, expected labels) of every alert a test case expects to fire."""
    fired = []
    for path in RULE_TEST_FILES:
        for test in load_yaml(path).get("tests") or []:
            for case in test.get("alert_rule_test") or []:
                for alert in case.get("exp_alerts") or []:
                    fired.append((case["alertname"], alert.get("exp_labels") or {}))
    return fired


def test_every_alerting_rule_is_fired_by_a_test():
    # Rules sharing a name (the four windows of a burn-rate alert, the page and
    # warning TargetDown) are told apart by their literal labels.
    fired = fired_in_tests()
    for rule in alerting_rules():
        literal = {k: str(v) for k, v in (rule.get("labels") or {}).items() if "{{" not in str(v)}
        assert any(name == rule["alert"] and all(str(labels.get(k)) == v for k, v in literal.items())
                   for name, labels in fired), \
            "no test makes %s %s fire" % (rule["alert"], literal)


def test_fired_alerts_carry_service_or_job():
    # Alertmanager groups and inhibits by these labels.
    for name, labels in fired_in_tests():
        assert "severity" in labels, "%s: test expects no severity" % name
        if not name.startswith("HostDisk"):
            assert "service" in labels and "job" in labels, "%s fires without service/job: %s" % (name, labels)


def test_unit_tests_load_the_rule_files_and_order_recording_first():
    # promtool evaluates the groups of one step in no fixed order unless
    # group_eval_order says so; alerts reading recorded series need the
    # recording groups first, so the order must name every group.
    recording_groups = [g["name"] for g in groups(RECORDING)]
    alert_groups = [g["name"] for g in groups(ALERTS)]
    for path in RULE_TEST_FILES:
        doc = load_yaml(path)
        resolved = [(path.parent / f).resolve() for f in doc.get("rule_files") or []]
        assert RECORDING.resolve() in resolved, "%s does not load recording.yml" % path.name
        has_alert_tests = any(t.get("alert_rule_test") for t in doc.get("tests") or [])
        if has_alert_tests:
            assert ALERTS.resolve() in resolved, "%s does not load alerts.yml" % path.name
            order = doc.get("group_eval_order") or []
            assert sorted(order) == sorted(recording_groups + alert_groups), \
                "%s: group_eval_order must list every group" % path.name
            assert set(order[:len(recording_groups)]) == set(recording_groups), \
                "%s: recording groups must come first" % path.name


# ---------------------------------------------------------- prometheus.yml ----

def test_config_scrapes_every_target_of_the_stack():
    config = load_yaml(CONFIG)
    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["evaluation_interval"] == "15s"
    assert config["rule_files"] == ["rules/recording.yml", "rules/alerts.yml"]
    managers = config["alerting"]["alertmanagers"]
    assert [t for m in managers for sc in m["static_configs"] for t in sc["targets"]] == ["alertmanager:9093"]
    jobs = {}
    for sc in config["scrape_configs"]:
        jobs[sc["job_name"]] = [t for static in sc["static_configs"] for t in static["targets"]]
    assert jobs == EXPECTED_TARGETS


def test_every_job_the_rules_select_is_scraped():
    scraped = {sc["job_name"] for sc in load_yaml(CONFIG)["scrape_configs"]}
    selected = set()
    for rule in recording_rules() + alerting_rules():
        for _, value in re.findall(r'\bjob\s*(=~|!~|=|!=)\s*"([^"]*)"', rule["expr"]):
            selected.update(value.split("|"))
    assert selected, "no job selectors found"
    assert selected <= scraped, "rules select jobs nobody scrapes: %s" % sorted(selected - scraped)


def test_config_writes_out_the_prometheus_3_choices():
    config = load_yaml(CONFIG)
    global_config = config["global"]
    # OpenMetrics first: the format that carries exemplars.
    assert global_config["scrape_protocols"][0] == "OpenMetricsText1.0.0"
    assert global_config["metric_name_validation_scheme"] == "utf8"
    assert global_config["metric_name_escaping_scheme"] == "allow-utf-8"
    jobs = {sc["job_name"]: sc for sc in config["scrape_configs"]}
    # Converting a classic histogram moves its exemplars to the native series:
    # the services' latency panels read exemplars from _bucket, so only the
    # load generators' histograms are converted, and their classic series kept.
    converted = {name for name, sc in jobs.items() if sc.get("convert_classic_histograms_to_nhcb")}
    assert converted == {"pokeload"}
    assert jobs["pokeload"].get("always_scrape_classic_histograms") is True


# Prometheus 3 stores le and quantile values in float form ("1.0", never "1"),
# so a matcher on a whole number matches nothing.
WHOLE_NUMBER_BOUND = re.compile(r'\b(le|quantile)\s*(=|!=)\s*"[+-]?\d+"')


def test_no_matcher_names_a_bound_prometheus_3_never_stores():
    written = [("%s: %s" % (RECORDING.name, rule.get("record")), rule["expr"]) for rule in recording_rules()]
    written += [("%s: %s" % (ALERTS.name, rule["alert"]), rule["expr"]) for rule in alerting_rules()]
    for path in RULE_TEST_FILES:
        for test in load_yaml(path).get("tests") or []:
            written += [(path.name, series["series"]) for series in test.get("input_series") or []]
            written += [(path.name, case["expr"]) for case in test.get("promql_expr_test") or []]
    wrong = ["%s: %s" % (where, text) for where, text in written if WHOLE_NUMBER_BOUND.search(text)]
    assert not wrong, "le or quantile matched on a whole number (write le=\"1.0\"):\n" + "\n".join(wrong)
    assert WHOLE_NUMBER_BOUND.search('x_bucket{le="1"}') and not WHOLE_NUMBER_BOUND.search('x_bucket{le="1.0"}')
