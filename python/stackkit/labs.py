#!/usr/bin/env python3
"""The guided labs of docs/labs, run against a running stack.

    scripts/lab list          the labs
    scripts/lab run N [...]   perform lab N's steps and check what each must show

The steps and their expectations are docs/labs/labs.yaml (its header says
what each field means); the pages in docs/labs and docs/pt-BR/labs follow
it. The stack is found by its ports on localhost: compose's when cAdvisor
answers beside Prometheus, otherwise scripts/stack's. One line per step:
pass or fail, what was observed, and how long it took; the exit status is 0
only when every step passed.

Options of run:
    --port-offset N   the stack's ports are the defaults plus N (scripts/stack's
                      POKEDEX_STACK_PORT_OFFSET; default: that variable, or 0)
    --stack compose|native
                      which stack it is, instead of guessing by cAdvisor
    --token-file F    the fault admin token (default: scripts/stack's
                      $POKEDEX_STACK_DIR/fault_admin_token, or with compose the
                      file .env's FAULT_ADMIN_TOKEN_FILE names)
"""

import argparse
import math
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse

import yaml

from stackkit import dashboards, stack_probe

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LABS_FILE = os.path.join(REPO, "docs", "labs", "labs.yaml")

# Default ports on localhost, compose's and scripts/stack's alike.
PORTS = {"apimon": 5000, "api-prometheus": 8689, "prometheus": 9090, "alertmanager": 9093, "jaeger": 16686,
         "cadvisor": 8080}
POLL_INTERVAL = 5
SHELL_TIMEOUT = 240


class LabError(Exception):
    """The stack or the lab cannot be used as asked: a message for the user."""


def load(path=LABS_FILE):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def lab_by_number(document, number):
    for lab in document["labs"]:
        if lab["number"] == number:
            return lab
    raise LabError("no lab %s; scripts/lab list shows them" % number)


def step_kind(step):
    for kind in ("run", "query", "panel", "alerts", "alertmanager", "groups", "exemplars"):
        if kind in step:
            return kind
    raise LabError("step %r has no action" % step.get("title"))


def shown_blocks(step):
    """The fenced code blocks a page shows for `step`: (info string, text)."""
    kind = step_kind(step)
    if kind == "run":
        run = step["run"]
        if isinstance(run, dict):
            return [("sh", run["compose"]), ("sh", run["native"])]
        return [("sh", run)]
    if kind in ("query", "exemplars"):
        return [("promql", step[kind])]
    return []


def _number(value):
    return ("%r" % value) if isinstance(value, float) else str(value)


def stated_values(step):
    """What a page must name, as inline code, in the section of `step`: every
    label value, threshold, alert or panel name, state and text it checks."""
    values = []
    if "panel" in step:
        values.append(step["panel"]["title"])
    for text in step.get("output", []):
        values.append(text.strip())
    if "exemplars" in step:
        values.append(_number(step["above"]))
        values.extend(step["services"])
        values.extend("%s=%s" % item for item in step["span_tag"].items())
    for expectation in step.get("expect", []):
        values.extend(str(v) for v in expectation.get("labels", {}).values())
        for key in ("above", "below"):
            if key in expectation and expectation[key] != 0:
                values.append(_number(expectation[key]))
        if "state" in expectation:
            values.append(expectation["state"])
        if "alerts_at_least" in expectation:
            values.append(str(expectation["alerts_at_least"]))
    return list(dict.fromkeys(values))  # each once, in order


class Stack:
    """A running stack: its kind, its addresses, the fault admin token."""

    def __init__(self, offset=0, kind=None, token_file=None):
        self.offset = offset
        self.kind = kind or self.guess_kind()
        self.token_file = token_file or self.default_token_file()

    def port(self, name):
        return PORTS[name] + self.offset

    def url(self, name):
        return "http://127.0.0.1:%d" % self.port(name)

    def answers(self, name, path):
        try:
            return stack_probe.http_get(self.url(name) + path, timeout=3)[0] == 200
        except OSError:
            return False

    def guess_kind(self):
        if not self.answers("prometheus", "/-/ready"):
            raise LabError("no stack answers: Prometheus is not ready at %s; start one with "
                           "`docker compose up -d --build` or `scripts/stack up`" % self.url("prometheus"))
        return "compose" if self.answers("cadvisor", "/healthz") else "native"

    def default_token_file(self):
        if self.kind == "native":
            state = os.environ.get("POKEDEX_STACK_DIR") or os.path.expanduser("~/.local/state/pokedex-stack")
            return os.path.join(state, "fault_admin_token")
        env_file = os.path.join(REPO, ".env")
        if os.path.exists(env_file):
            with open(env_file, encoding="utf-8") as f:
                for line in f:
                    name, _, value = line.strip().partition("=")
                    if name == "FAULT_ADMIN_TOKEN_FILE" and value:
                        return os.path.join(REPO, value.strip("\"'"))
        return os.path.join(REPO, "secrets", "fault_admin_token")

    def token(self):
        try:
            with open(self.token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as error:
            raise LabError("this lab changes faults and needs the fault admin token: %s (%s); see "
                           "\"Before you start\" in the lab's page" % (self.token_file, error.strerror)) from None
        if not token:
            raise LabError("the fault admin token file %s is empty: the admin API is off" % self.token_file)
        return token

    def localise(self, command):
        """A shown command with its localhost ports moved by the offset."""
        if not self.offset:
            return command
        return re.sub(r"localhost:(\d+)", lambda m: "localhost:%d" % (int(m.group(1)) + self.offset), command)

    def promql(self, expr):
        return stack_probe.promql(self.url("prometheus"), expr)

    def telegram_configured(self):
        status = stack_probe.get_json(self.url("alertmanager") + "/api/v2/status")
        return "telegram_configs" in status["config"]["original"]


class Shell:
    """One bash for a lab's commands, so that a variable set in one step is
    there in the next, as in the reader's terminal."""

    def __init__(self, env):
        self.process = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=REPO, env=env, text=True, bufsize=1,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.background = []

    def run(self, command, timeout=SHELL_TIMEOUT):
        """(exit status, output) of `command`."""
        marker = "__lab_step_done_%d__" % time.monotonic_ns()
        self.process.stdin.write("%s\n__lab_status=$?; echo; echo %s $__lab_status\n" % (command.rstrip("\n"), marker))
        self.process.stdin.flush()
        received, deadline = b"", time.monotonic() + timeout
        end = ("\n%s " % marker).encode()
        while end not in received or not received.endswith(b"\n"):
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise LabError("the command did not finish within %ds" % timeout)
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise LabError("the shell exited")
            received += chunk
        output, _, status = received.decode(errors="replace").rpartition("\n%s " % marker)
        return int(status), output

    def start(self, command, env):
        """`command` in the background, in a process group of its own."""
        self.background.append(subprocess.Popen(["bash", "-c", command], cwd=REPO, env=env,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                start_new_session=True))

    def close(self):
        for process in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _matches(labels, wanted):
    return all(labels.get(k) == str(v) for k, v in wanted.items())


def _labels_text(labels):
    return ",".join("%s=%s" % kv for kv in labels.items())


def _fmt(value):
    return "%.4g" % value if isinstance(value, float) else str(value)


def judge_vector(result, expectation, baseline=None):
    """(passed, observed) for one query expectation over a result vector."""
    wanted = expectation.get("labels", {})
    series = [r for r in result if _matches(r["metric"], wanted)]
    # Without a label to pick by, the series found name themselves.
    shown = wanted or (series[0]["metric"] if series else {})
    where = _labels_text(shown) or "result"
    if expectation.get("absent"):
        return not series, "%s: %d series" % (where, len(series))
    if not series:
        return False, "%s: no series" % where
    values = [float(r["value"][1]) for r in series]
    observed = "%s: %s" % (where, " ".join(_fmt(v) for v in values))
    if any(math.isnan(v) for v in values):
        return False, observed + " (NaN: no requests in the window)"
    if "above" in expectation and not all(v > expectation["above"] for v in values):
        return False, observed
    if "below" in expectation and not all(v < expectation["below"] for v in values):
        return False, observed
    if expectation.get("increases"):
        before = (baseline or {}).get(_series_key(series[0]["metric"]), 0.0)
        return values[0] > before, "%s: %s, was %s" % (where, _fmt(values[0]), _fmt(before))
    return True, observed


def _series_key(metric):
    return tuple(sorted(metric.items()))


class Runner:
    def __init__(self, stack, lab, out=sys.stdout):
        self.stack, self.lab, self.out = stack, lab, out
        self.baselines = {}
        self.dashboards = None

    def panel_expr(self, panel):
        if self.dashboards is None:
            self.dashboards = list(dashboards.rendered_queries(dashboards.load_dashboards()))
        for uid, title, ref, expr in self.dashboards:
            if uid == panel["dashboard"] and title == panel["title"] and ref == panel["target"]:
                return expr
        raise LabError("dashboard %s has no panel %r with target %s" % (panel["dashboard"], panel["title"],
                                                                         panel["target"]))

    def step_expr(self, step):
        return self.panel_expr(step["panel"]) if "panel" in step else step["query"]

    def record_baselines(self):
        for step in self.lab["steps"]:
            if any(e.get("increases") for e in step.get("expect", [])):
                self.baselines[id(step)] = {_series_key(r["metric"]): float(r["value"][1])
                                            for r in self.stack.promql(self.step_expr(step))}

    def check(self, step):
        """(passed, observed) of one attempt at a step's checks."""
        kind = step_kind(step)
        if kind in ("query", "panel"):
            result = self.stack.promql(self.step_expr(step))
            verdicts = [judge_vector(result, e, self.baselines.get(id(step))) for e in step["expect"]]
        elif kind == "alerts":
            alerts = stack_probe.get_json(self.stack.url("prometheus") + "/api/v1/alerts")["data"]["alerts"]
            verdicts = [self.judge_alerts(alerts, e) for e in step["expect"]]
        elif kind == "alertmanager":
            alerts = stack_probe.get_json(self.stack.url("alertmanager") + "/api/v2/alerts")
            verdicts = [self.judge_alertmanager(alerts, e) for e in step["expect"]]
        elif kind == "groups":
            groups = stack_probe.get_json(self.stack.url("alertmanager") + "/api/v2/alerts/groups")
            verdicts = [self.judge_groups(groups, e) for e in step["expect"]]
        else:
            verdicts = [self.judge_exemplar_trace(step)]
        return all(v[0] for v in verdicts), "; ".join(v[1] for v in verdicts)

    @staticmethod
    def judge_alerts(alerts, expectation):
        found = [a for a in alerts if _matches(a["labels"], expectation["labels"])]
        name = expectation["labels"].get("alertname", "alert")
        if expectation["state"] == "inactive":
            return not found, "%s: %s" % (name, ",".join(a["state"] for a in found) or "inactive")
        states = [a["state"] for a in found]
        return expectation["state"] in states, "%s %s: %s" % (
            name, _labels_text({k: v for k, v in expectation["labels"].items() if k != "alertname"}),
            ",".join(states) or "not active")

    @staticmethod
    def judge_alertmanager(alerts, expectation):
        found = [a for a in alerts if _matches(a["labels"], expectation["labels"])]
        where = _labels_text(expectation["labels"])
        if not found:
            return False, "%s: no alert" % where

        def fits(alert):
            status = alert["status"]
            return (status["state"] == expectation["state"]
                    and ("inhibited" not in expectation or bool(status["inhibitedBy"]) == expectation["inhibited"])
                    and ("silenced" not in expectation or bool(status["silencedBy"]) == expectation["silenced"]))
        described = ",".join("%s%s%s" % (a["status"]["state"], " inhibited" if a["status"]["inhibitedBy"] else "",
                                         " silenced" if a["status"]["silencedBy"] else "") for a in found)
        return all(fits(a) for a in found), "%s: %s" % (where, described)

    @staticmethod
    def judge_groups(groups, expectation):
        found = [g for g in groups if g["labels"] == {k: str(v) for k, v in expectation["labels"].items()}]
        count = max((len(g["alerts"]) for g in found), default=0)
        return count >= expectation["alerts_at_least"], "group %s: %d alerts" % (
            _labels_text(expectation["labels"]), count)

    def judge_exemplar_trace(self, step):
        now = time.time()
        query = urllib.parse.urlencode({"query": step["exemplars"].strip(), "start": now - 300, "end": now})
        answer = stack_probe.get_json(self.stack.url("prometheus") + "/api/v1/query_exemplars?" + query)
        exemplars = sorted((e for series in answer["data"] for e in series["exemplars"]
                            if float(e["value"]) > step["above"] and "trace_id" in e["labels"]),
                           key=lambda e: float(e["timestamp"]), reverse=True)
        if not exemplars:
            return False, "no exemplar above %ss in the last 5 minutes" % step["above"]
        problems = []
        for exemplar in exemplars[:5]:
            trace_id = exemplar["labels"]["trace_id"]
            trace = stack_probe.jaeger_trace(self.stack.url("jaeger"), trace_id)
            if trace is None:
                problems.append("%s not in Jaeger yet" % trace_id)
                continue
            services = {trace["processes"][span["processID"]]["serviceName"] for span in trace["spans"]}
            wanted = set(step["span_tag"].items())
            tagged = [span for span in trace["spans"]
                      if wanted <= {(tag["key"], tag["value"]) for tag in span.get("tags", [])}]
            missing = [s for s in step["services"] if s not in services]
            observed = "exemplar %.3gs, trace %s: %s; %d span(s) with %s" % (
                float(exemplar["value"]), trace_id, ",".join(sorted(services)), len(tagged),
                _labels_text(step["span_tag"]))
            if not missing and tagged:
                return True, observed + ", the slowest %d ms" % (max(s["duration"] for s in tagged) // 1000)
            problems.append(observed)
        return False, "; ".join(problems)

    def run_action(self, step, shell, env):
        """(passed, observed) of a `run` step."""
        run = step["run"]
        command = self.stack.localise(run[self.stack.kind] if isinstance(run, dict) else run)
        if step.get("background"):
            shell.start(command, env)
            return True, "started in the background"
        status, output = shell.run(command)
        missing = [text for text in step.get("output", []) if text not in output]
        summary = " ".join(output.split())
        if len(summary) > 160:  # both ends: what a command answered, and where a loop stopped
            summary = summary[:78] + " ... " + summary[-77:]
        if status != 0:
            return False, "exit status %d: %s" % (status, summary)
        if missing:
            return False, "output lacks %s: %s" % (", ".join(missing), summary)
        return True, summary

    def run(self):
        """True when every step passed. Steps after a failure are not tried,
        except the clean-up ones, which always run."""
        lab = self.lab
        env = dict(os.environ)
        if self.stack.kind == "native":  # for scripts/stack in a step
            env["POKEDEX_STACK_PORT_OFFSET"] = str(self.stack.offset)
        if lab.get("token"):
            env["TOKEN"] = self.stack.token()
        self.record_baselines()
        print("lab %d: %s (the %s stack at %s)" % (lab["number"], lab["title"], self.stack.kind,
                                                   self.stack.url("prometheus")), file=self.out, flush=True)
        shell = Shell(env)
        failed = False
        try:
            for index, step in enumerate(lab["steps"], 1):
                if failed and not step.get("cleanup"):
                    self.report(index, step, "not run", "an earlier step failed", 0)
                    continue
                if step.get("stack") not in (None, self.stack.kind):
                    self.report(index, step, "skip", "%s stack only" % step["stack"], 0)
                    continue
                if step.get("needs") == "telegram" and not self.stack.telegram_configured():
                    self.report(index, step, "skip",
                                "no Telegram receiver is configured (docs/compose.md, Telegram notifications)", 0)
                    continue
                started = time.monotonic()
                try:
                    passed, observed = self.attempt(step, shell, env)
                except (LabError, OSError, urllib.error.URLError, KeyError, ValueError) as error:
                    passed, observed = False, "%s: %s" % (type(error).__name__, error)
                self.report(index, step, "pass" if passed else "FAIL", observed, time.monotonic() - started)
                failed = failed or not passed
        finally:
            shell.close()
        return not failed

    def attempt(self, step, shell, env):
        if "run" in step:
            return self.run_action(step, shell, env)
        deadline = time.monotonic() + step.get("within", 0)
        while True:
            passed, observed = self.check(step)
            if passed or time.monotonic() >= deadline:
                return passed, observed
            time.sleep(POLL_INTERVAL)

    def report(self, index, step, verdict, observed, seconds):
        print("  %2d. %-34s %-7s %5.0fs  %s" % (index, step["title"], verdict, seconds, observed),
              file=self.out, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/lab", description="The guided labs of docs/labs.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the labs")
    run = commands.add_parser("run", help="perform a lab's steps and check what each must show")
    run.add_argument("number", type=int)
    run.add_argument("--port-offset", type=int, default=int(os.environ.get("POKEDEX_STACK_PORT_OFFSET", "0")))
    run.add_argument("--stack", choices=("compose", "native"))
    run.add_argument("--token-file")
    args = parser.parse_args(argv)
    document = load()
    if args.command == "list":
        for lab in document["labs"]:
            print("%d  %-40s docs/labs/%s  (%d steps)" % (lab["number"], lab["title"], lab["page"],
                                                         len(lab["steps"])))
        return 0
    try:
        lab = lab_by_number(document, args.number)
        stack = Stack(args.port_offset, args.stack, args.token_file)
        return 0 if Runner(stack, lab).run() else 1
    except LabError as error:
        print("lab: %s" % error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
