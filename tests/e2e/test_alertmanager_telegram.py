"""Alerts to Telegram, end to end: the stack's Alertmanager configuration
(deploy/alertmanager/, rendered by its own render-config.sh) in a real
Alertmanager (the release scripts/tool-versions pins, built by
scripts/install-tools), notifying a capture server that speaks the Telegram
Bot API (python/stackkit/telegram_capture.py). The bot token stays in its file:
Alertmanager reads it there (bot_token_file) at every notification.

Grouping timings are shortened to a second in the render step; everything else
(routes, receiver, template, inhibition rules) is the committed configuration.
"""
import html
import os
import pathlib
import re
import stat
import subprocess
import time

import pytest
import yaml

from stackkit import alertmanager as am
from stackkit.telegram_capture import TelegramCapture

TESTS = pathlib.Path(__file__).resolve().parents[1]
REPO = TESTS.parent

# Shaped like a real bot token (digits:35 characters), but not one.
TOKEN = "7012345678:AAE_test-token-not-a-real-one_12345"
CHAT_ID = -1001234567890
MESSAGE_TIMEOUT = 15  # group_wait is 1 s; notifications come within about 2 s
SETTLE = 3  # > group_wait + group_interval: long enough for a muted group to have flushed

RUNBOOK = "https://github.com/example/pokedex-stack/blob/main/docs/runbooks.md?from=alert&job=apimon#highlatency"
SUMMARY = "p99 latency > 500ms on <GET /pokemon/{id}> & /types/{type}/pokemon"
DESCRIPTION = 'The 99th percentile stayed above 500 ms for 5m; "cache" hit ratio < 10% & falling.'


@pytest.fixture(scope="module")
def state_root(tmp_path_factory):
    base = os.environ.get("POKEDEX_STATE_DIR")
    if base:
        root = pathlib.Path(base) / "alertmanager-telegram"
        root.mkdir(parents=True, exist_ok=True)
        return root
    return tmp_path_factory.mktemp("alertmanager-telegram")


@pytest.fixture(scope="module")
def capture():
    with TelegramCapture(token=TOKEN) as server:
        yield server


@pytest.fixture
def alertmanager(state_root, capture):
    """A fresh Alertmanager (no alerts, no notification log) for each test."""
    state_dir = state_root / "alertmanager"
    capture.clear()
    try:
        yield am.start(state_dir, capture.url, CHAT_ID, bot_token=TOKEN,
                       group_wait="1s", group_interval="1s")
    finally:
        am.stop(state_dir)


def alert(alertname, job, severity="page", annotations=None, **labels):
    """A firing alert that starts now, as Prometheus sends a rule that just
    fired. (One that started more than group_wait ago would make a new group
    notify at once, before its companions arrive.)"""
    labels.update(alertname=alertname, job=job, severity=severity)
    return am.make_alert(labels, annotations or {"summary": "%s for %s" % (alertname, job)},
                         starts_at=time.time())


def group_of(message):
    """(status, alertname, job) from a message's first two plain-text lines."""
    lines = message["plain_text"].splitlines()
    status, _, alertname = lines[0].partition(": ")
    job = re.search(r"\bjob (\S+)", lines[1])
    return status, alertname, job.group(1) if job else None


# ------------------------------------------------------------------ config

def test_rendered_config_passes_amtool_and_keeps_the_secrets_out_of_git(state_root):
    assert am.version() == am.expected_version(), \
        "scripts/tool-versions pins Alertmanager %s: run scripts/install-tools" % am.expected_version()
    assert am.version(am.amtool_path()) == am.expected_version()

    rendered = am.render_config(state_root / "render" / "alertmanager.yml",
                                "https://api.telegram.org/", CHAT_ID, bot_token=TOKEN)
    output = am.check_config(rendered)
    assert "SUCCESS" in output
    for part in ("3 inhibit rules", "1 receivers", "1 templates"):
        assert part in output, output

    # Rendered with the production timings and the real API. The token is not
    # in it: the configuration names the token's file, which Alertmanager reads.
    text = pathlib.Path(rendered).read_text()
    assert TOKEN not in text
    config = yaml.safe_load(text)
    route = config["route"]
    assert route["group_by"] == ["alertname", "job"]
    assert (route["group_wait"], route["group_interval"]) == ("30s", "5m")
    page = [r for r in route["routes"] if r.get("matchers") == ['severity="page"']]
    assert len(page) == 1 and page[0]["repeat_interval"] == "1h" and route["repeat_interval"] == "12h"
    telegram, = config["receivers"][0]["telegram_configs"]
    assert "bot_token" not in telegram and telegram["chat_id"] == CHAT_ID
    token_file = pathlib.Path(telegram["bot_token_file"])
    assert token_file.is_absolute() and token_file.read_text().strip() == TOKEN
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert telegram["api_url"] == "https://api.telegram.org"  # the trailing slash is dropped
    assert telegram["parse_mode"] == "HTML" and telegram["send_resolved"] is True
    assert config["templates"] == [str(REPO / "deploy" / "alertmanager" / "templates") + "/*.tmpl"]

    # The committed files hold placeholders, never a token or a chat id.
    committed = (REPO / "deploy" / "alertmanager" / "alertmanager.yml").read_text()
    assert 'bot_token_file: "${TELEGRAM_BOT_TOKEN_FILE}"' in committed
    assert "bot_token:" not in committed and "${TELEGRAM_BOT_TOKEN}" not in committed
    assert "chat_id: ${TELEGRAM_CHAT_ID}" in committed
    for path in (REPO / "deploy" / "alertmanager").rglob("*"):
        if path.is_file():
            assert not re.search(r"\b\d{6,}:[A-Za-z0-9_-]{30,}", path.read_text()), \
                "%s looks like it holds a bot token" % path


@pytest.mark.parametrize("case, kwargs, message", [
    ("no token file", {"bot_token_file": "/nonexistent/telegram_bot_token"}, "cannot read"),
    ("not a token", {"bot_token": "hello world"}, "does not hold a Telegram bot token"),
    ("chat id not a number", {"chat_id": "@pokedex_alerts"}, "TELEGRAM_CHAT_ID must be an integer"),
    ("chat id with leading zero (YAML octal)", {"chat_id": "0123"}, "TELEGRAM_CHAT_ID must be an integer"),
    ("chat id missing", {"chat_id": ""}, "TELEGRAM_CHAT_ID is not set"),
    ("quote in the API URL", {"telegram_api_url": 'https://x"\n  evil: yes'}, "TELEGRAM_API_URL"),
    ("duration without unit", {"group_wait": "30"}, "ALERTMANAGER_GROUP_WAIT"),
])
def test_render_refuses_missing_or_malformed_values(state_root, case, kwargs, message):
    args = dict(telegram_api_url="https://api.telegram.org", chat_id=CHAT_ID, bot_token=TOKEN)
    args.update(kwargs)
    out = state_root / "refused" / "alertmanager.yml"
    with pytest.raises(am.FixtureError, match=re.escape(message)):
        am.render_config(out, **args)
    assert not out.exists()


def render_without_fixture(state_root, name, token_text=None, chat_id=""):
    """render-config.sh run as a container runs it, with an optional token file."""
    out = state_root / name / "alertmanager.yml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ALERTMANAGER_"))}
    env.update(ALERTMANAGER_CONFIG_OUT=str(out), TELEGRAM_CHAT_ID=str(chat_id))
    if token_text is not None:
        token_file = state_root / name / "telegram_bot_token"
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(token_text)
        env["TELEGRAM_BOT_TOKEN_FILE"] = str(token_file)
    result = subprocess.run(["sh", am.RENDER_SCRIPT], env=env, capture_output=True, text=True, timeout=30)
    return result, out


@pytest.mark.parametrize("token_text", ["", "\n", None])
def test_without_telegram_settings_alerts_go_nowhere_but_the_config_is_valid(state_root, token_text):
    result, out = render_without_fixture(state_root, "no-telegram-%r" % (token_text,), token_text=token_text)
    assert result.returncode == 0, result.stderr
    assert "Telegram is not configured" in result.stderr
    am.check_config(out)
    config = yaml.safe_load(out.read_text())
    assert config["receivers"] == [{"name": "telegram"}]  # a receiver that notifies no one
    assert config["route"]["receiver"] == "telegram" and config["inhibit_rules"]


@pytest.mark.parametrize("token_text, chat_id, message", [
    ("", CHAT_ID, "is empty"),
    (TOKEN, "", "TELEGRAM_CHAT_ID is not set"),
    (None, CHAT_ID, "cannot read"),
])
def test_half_a_telegram_configuration_is_refused(state_root, token_text, chat_id, message):
    result, out = render_without_fixture(state_root, "half-%s" % message.replace(" ", "-"), token_text, chat_id)
    assert result.returncode == 78 and message in result.stderr, result.stderr
    assert not out.exists()


def test_render_script_execs_the_server_without_the_token_in_its_environment(state_root):
    """The container entrypoint form: render-config.sh COMMAND [ARG]... renders,
    then execs COMMAND with --config.file appended; the token stays in its own
    file, out of the environment and out of the rendered configuration."""
    token_file = state_root / "exec" / "token"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(TOKEN + "\n")
    out = state_root / "exec" / "alertmanager.yml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ALERTMANAGER_"))}
    env.update(TELEGRAM_BOT_TOKEN_FILE=str(token_file), TELEGRAM_CHAT_ID=str(CHAT_ID),
               ALERTMANAGER_CONFIG_OUT=str(out))
    r = subprocess.run(["sh", str(am.RENDER_SCRIPT), "sh", "-c", 'printf "%s\\n" "$@"; env', "argv0",
                        "--storage.path=/alertmanager"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["--storage.path=/alertmanager", "--config.file=%s" % out]
    assert TOKEN not in r.stdout and "TELEGRAM_BOT_TOKEN=" not in r.stdout
    assert TOKEN not in out.read_text()
    assert 'bot_token_file: "%s"' % token_file in out.read_text()


def test_a_relative_token_file_is_named_by_its_absolute_path(state_root):
    """Alertmanager opens the token file from its own working directory, so
    the rendered configuration names it absolutely."""
    directory = state_root / "relative"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(TOKEN + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ALERTMANAGER_"))}
    env.update(TELEGRAM_BOT_TOKEN_FILE="token", TELEGRAM_CHAT_ID=str(CHAT_ID),
               ALERTMANAGER_CONFIG_OUT=str(directory / "alertmanager.yml"))
    r = subprocess.run(["sh", str(am.RENDER_SCRIPT)], cwd=directory, env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    config = yaml.safe_load((directory / "alertmanager.yml").read_text())
    telegram, = config["receivers"][0]["telegram_configs"]
    named = pathlib.Path(telegram["bot_token_file"])
    assert named.is_absolute() and named.resolve() == (directory / "token").resolve()


# ----------------------------------------------------------- notifications

def test_firing_then_resolved_alert_reaches_telegram_escaped(alertmanager, capture):
    labels = {"alertname": "HighLatency", "severity": "page", "job": "apimon",
              "service": "pokedex-api", "instance": "apimon:5000"}
    annotations = {"summary": SUMMARY, "description": DESCRIPTION, "runbook_url": RUNBOOK}
    started = time.time() - 120
    am.post_alerts(alertmanager, [am.make_alert(labels, annotations, starts_at=started)])

    firing, = capture.wait_for_messages(1, timeout=MESSAGE_TIMEOUT)
    # The token Alertmanager read from its file (the capture server refuses any other).
    assert firing["method"] == "sendMessage" and firing["token"] == TOKEN
    assert firing["chat_id"] == CHAT_ID
    assert firing["parse_mode"] == "HTML"
    text = firing["text"]
    assert text.startswith("<b>FIRING: HighLatency</b>\n"), text
    assert "severity page · job apimon · service pokedex-api · instance apimon:5000" in text
    # Escaped exactly once: <, > and & as entities, nothing raw, nothing doubled.
    assert html.escape(SUMMARY, quote=False) in text
    assert "<GET" not in text and "&amp;amp;" not in text and "&amp;lt;" not in text
    assert 'href="%s"' % RUNBOOK.replace("&", "&amp;") in text
    assert "since " + time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)) in text
    # What the phone shows: Telegram's parse of the HTML (the capture server
    # rejects markup Telegram would reject).
    assert SUMMARY in firing["plain_text"] and DESCRIPTION in firing["plain_text"]

    time.sleep(SETTLE)
    assert len(capture.messages()) == 1, "one alert, one group: one message"

    am.post_alerts(alertmanager, [am.make_alert(labels, annotations, starts_at=started,
                                                ends_at=time.time() - 1)])
    resolved, = capture.wait_for_messages(1, lambda m: "RESOLVED" in m["text"], timeout=MESSAGE_TIMEOUT)
    assert resolved["chat_id"] == CHAT_ID and resolved["parse_mode"] == "HTML"
    assert resolved["text"].startswith("<b>RESOLVED: HighLatency</b>\n")
    assert html.escape(SUMMARY, quote=False) in resolved["text"]
    assert SUMMARY in resolved["plain_text"] and "FIRING" not in resolved["text"]
    assert capture.rejected() == []


def test_a_new_token_in_the_file_is_used_without_a_restart(alertmanager, capture):
    """bot_token_file is read at every notification: rotating the bot token
    means rewriting the file, nothing else."""
    new_token = "7012345679:AAF_the-next-token-not-a-real-one_67890"
    pathlib.Path(alertmanager["bot_token_file"]).write_text(new_token + "\n")
    capture.token = new_token  # from now on the old token would be refused
    try:
        am.post_alerts(alertmanager, [alert("HighErrorRatio", "apimon", "ticket")])
        message, = capture.wait_for_messages(1, timeout=MESSAGE_TIMEOUT)
        assert message["token"] == new_token
        assert capture.rejected() == []
    finally:
        capture.token = TOKEN


def test_alerts_of_one_group_arrive_as_one_message_with_a_count(alertmanager, capture):
    am.post_alerts(alertmanager, [alert("HighErrorRatio", "api-prometheus", "ticket",
                                        instance="api-prometheus-%d:8689" % i) for i in range(3)])
    message, = capture.wait_for_messages(1, timeout=MESSAGE_TIMEOUT)
    plain = message["plain_text"]
    assert plain.startswith("FIRING: HighErrorRatio\nseverity ticket · job api-prometheus\n3 alerts firing\n")
    for i in range(3):
        assert "instance api-prometheus-%d:8689" % i in plain
    time.sleep(SETTLE)
    assert len(capture.messages()) == 1
    assert capture.rejected() == []


# --------------------------------------------------------------- inhibition

def test_target_down_mutes_the_other_alerts_of_its_job_only(alertmanager, capture):
    am.post_alerts(alertmanager, [alert("TargetDown", "apimon", instance="apimon:5000")])
    am.wait_for_alerts(alertmanager, lambda a: len(a) == 1, filter=['alertname="TargetDown"'])
    am.post_alerts(alertmanager, [alert("HighErrorRatio", "apimon"),
                                  alert("HighErrorRatio", "api-prometheus")])

    capture.wait_for_messages(2, timeout=MESSAGE_TIMEOUT)
    time.sleep(SETTLE)
    sent = sorted(group_of(m) for m in capture.messages())
    assert sent == [("FIRING", "HighErrorRatio", "api-prometheus"),
                    ("FIRING", "TargetDown", "apimon")], sent

    muted, = am.alerts(alertmanager, ['alertname="HighErrorRatio"', 'job="apimon"'])
    assert muted["status"]["state"] == "suppressed" and muted["status"]["inhibitedBy"], muted
    assert capture.rejected() == []


def test_database_down_and_page_burn_inhibitions(alertmanager, capture):
    am.post_alerts(alertmanager, [alert("DatabaseDown", "mysqld", instance="db:3306")])
    am.wait_for_alerts(alertmanager, lambda a: len(a) == 1, filter=['alertname="DatabaseDown"'])
    am.post_alerts(alertmanager, [
        alert("HighLatency", "apimon"),                                    # muted by DatabaseDown
        alert("ApimonAvailabilityBudgetBurn", "apimon", "page"),           # muted by DatabaseDown
        alert("HighLatency", "api-prometheus"),                            # sent
        alert("ApiPrometheusAvailabilityBudgetBurn", "api-prometheus", "page",
              annotations={"summary": "fast burn"}),                       # sent
        alert("ApiPrometheusAvailabilityBudgetBurn", "api-prometheus", "ticket",
              annotations={"summary": "slow burn"}),                       # muted by the page
    ])
    expected = {
        ("DatabaseDown", "mysqld", "page"): "active",
        ("HighLatency", "apimon", "page"): "suppressed",
        ("ApimonAvailabilityBudgetBurn", "apimon", "page"): "suppressed",
        ("HighLatency", "api-prometheus", "page"): "active",
        ("ApiPrometheusAvailabilityBudgetBurn", "api-prometheus", "page"): "active",
        ("ApiPrometheusAvailabilityBudgetBurn", "api-prometheus", "ticket"): "suppressed",
    }

    def states(alerts):
        return {(a["labels"]["alertname"], a["labels"]["job"], a["labels"]["severity"]): a["status"]["state"]
                for a in alerts}
    am.wait_for_alerts(alertmanager, lambda a: states(a) == expected)

    capture.wait_for_messages(3, timeout=MESSAGE_TIMEOUT)
    time.sleep(SETTLE)
    messages = capture.messages()
    assert sorted(group_of(m) for m in messages) == [
        ("FIRING", "ApiPrometheusAvailabilityBudgetBurn", "api-prometheus"),
        ("FIRING", "DatabaseDown", "mysqld"),
        ("FIRING", "HighLatency", "api-prometheus")]
    burn, = [m for m in messages if "BudgetBurn" in m["text"]]
    assert "fast burn" in burn["plain_text"] and "slow burn" not in burn["plain_text"]
    assert capture.rejected() == []
