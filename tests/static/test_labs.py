"""The guided labs' pages follow docs/labs/labs.yaml, in both languages.

Each step of a lab is a section "### N. ..." of its page; its fenced code
blocks are exactly the step's blocks (stackkit.labs.shown_blocks), and every
value the step checks is named in it as inline code (stated_values). The
setup blocks come before the first step; no other block is shown. So the
commands a reader copies are the ones `scripts/lab run N` runs, and a
threshold, alert or panel the runner checks cannot differ from the text.
e2e.native_stack runs the labs themselves."""

import copy
import re
import subprocess
from pathlib import Path

import pytest

from stackkit import dashboards, labs

REPO = Path(__file__).resolve().parents[2]
LANGUAGES = {"en": REPO / "docs" / "labs", "pt-BR": REPO / "docs" / "pt-BR" / "labs"}
DOCUMENT = labs.load()
STEP_KEYS = {"title", "run", "background", "output", "query", "panel", "alerts", "alertmanager", "groups",
             "exemplars", "above", "services", "span_tag", "expect", "within", "needs", "cleanup", "stack"}
EXPECT_KEYS = {"labels", "above", "below", "absent", "increases", "state", "inhibited", "silenced",
               "alerts_at_least"}

STEP_HEADING = re.compile(r"^### (\d+)\. ")
FENCE = re.compile(r"^```(\S*)\s*$")
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)


def page_sections(text):
    """{"setup": [...], 1: [...], 2: [...], ...}: each a list of the section's
    (info string, code) blocks and its prose, split at the step headings; a
    level-2 heading ends a step's section."""
    sections, current = {"setup": ([], [])}, "setup"
    block, info = None, None
    for line in text.splitlines():
        if block is not None:
            if line.strip() == "```":
                sections[current][0].append((info, "\n".join(block) + "\n"))
                block = None
            else:
                block.append(line)
            continue
        fence = FENCE.match(line)
        if fence:
            block, info = [], fence.group(1)
            continue
        heading = STEP_HEADING.match(line)
        if heading:
            current = int(heading.group(1))
            assert current not in sections, "step %d appears twice" % current
            sections[current] = ([], [])
        elif line.startswith("## ") and current != "setup":
            current = "after"
            sections.setdefault(current, ([], []))
        sections[current][1].append(line)
    assert block is None, "a code block is never closed"
    return {key: (blocks, "\n".join(prose)) for key, (blocks, prose) in sections.items()}


def inline_code(prose):
    return {" ".join(m.group(2).split()) for m in INLINE_CODE.finditer(prose)}


def page_problems(text, lab):
    """What disagrees between a lab's page and labs.yaml."""
    problems = []
    sections = page_sections(text)
    numbers = sorted(k for k in sections if isinstance(k, int))
    if numbers != list(range(1, len(lab["steps"]) + 1)):
        problems.append("step headings %s, labs.yaml has %d steps" % (numbers, len(lab["steps"])))
    setup = [("sh", DOCUMENT["setup"]["compose"]), ("sh", DOCUMENT["setup"]["native"])] if lab.get("token") else []
    if sections["setup"][0] != setup:
        problems.append("before the steps the page shows %s, not the setup blocks %s" % (sections["setup"][0], setup))
    if sections.get("after", ([], ""))[0]:
        problems.append("code blocks after the steps, which the runner does not run: %s" % sections["after"][0])
    for number, step in enumerate(lab["steps"], 1):
        if number not in sections:
            continue
        blocks, prose = sections[number]
        if blocks != labs.shown_blocks(step):
            problems.append("step %d shows %s, labs.yaml has %s" % (number, blocks, labs.shown_blocks(step)))
        missing = [v for v in labs.stated_values(step) if " ".join(v.split()) not in inline_code(prose)]
        if missing:
            problems.append("step %d does not name %s as inline code" % (number, missing))
    return problems


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("lab", DOCUMENT["labs"], ids=lambda lab: lab["slug"])
def test_the_page_follows_labs_yaml(lab, language):
    page = LANGUAGES[language] / lab["page"]
    assert page.exists(), page
    assert page_problems(page.read_text(encoding="utf-8"), lab) == []


def test_labs_are_numbered_and_indexed_in_both_languages():
    assert [lab["number"] for lab in DOCUMENT["labs"]] == list(range(1, len(DOCUMENT["labs"]) + 1))
    for directory in LANGUAGES.values():
        index = (directory / "README.md").read_text(encoding="utf-8")
        for lab in DOCUMENT["labs"]:
            assert "(%s)" % lab["page"] in index, (directory, lab["page"])
        assert {p.name for p in directory.glob("*.md")} == {"README.md"} | {lab["page"] for lab in DOCUMENT["labs"]}


@pytest.mark.parametrize("lab", DOCUMENT["labs"], ids=lambda lab: lab["slug"])
def test_every_step_is_well_formed(lab):
    panels = {(uid, title, ref) for uid, title, ref, _ in dashboards.rendered_queries(dashboards.load_dashboards())}
    alert_names = set(re.findall(r"^\s+- alert: (\w+)", (REPO / "deploy/prometheus/rules/alerts.yml").read_text(),
                                 re.M))
    assert any(step.get("cleanup") for step in lab["steps"]) or not lab.get("token"), \
        "a lab that sets faults clears them, whatever happened before"
    for step in lab["steps"]:
        assert set(step) <= STEP_KEYS, set(step) - STEP_KEYS
        kind = labs.step_kind(step)
        assert sum(k in step for k in ("run", "query", "panel", "alerts", "alertmanager", "groups",
                                       "exemplars")) == 1, step["title"]
        if kind == "panel":
            panel = step["panel"]
            assert (panel["dashboard"], panel["title"], panel["target"]) in panels, panel
        if kind not in ("run", "exemplars"):
            assert step["expect"], step["title"]
        for expectation in step.get("expect", []):
            assert set(expectation) <= EXPECT_KEYS, set(expectation) - EXPECT_KEYS
            name = expectation.get("labels", {}).get("alertname")
            assert name is None or name in alert_names, name
        if kind == "run" and not step.get("background") and not isinstance(step["run"], dict):
            assert step.get("output"), "%s: a command's output is checked (its exit status, always)" % step["title"]


def run_blocks():
    for lab in DOCUMENT["labs"]:
        for step in lab["steps"]:
            for _, code in labs.shown_blocks(step):
                if "run" in step:
                    yield "lab %d, %s" % (lab["number"], step["title"]), code


@pytest.mark.parametrize("where,code", list(run_blocks()), ids=lambda x: x if isinstance(x, str) and
                         x.startswith("lab") else "")
def test_every_command_passes_shellcheck(where, code, tmp_path):
    # TOKEN comes from the setup block, SILENCE from an earlier step of lab 6.
    script = tmp_path / "step.sh"
    script.write_text("#!/bin/bash\nTOKEN=${TOKEN:?}\nSILENCE=${SILENCE:-}\n" + code)
    result = subprocess.run(["shellcheck", "-s", "bash", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, where + "\n" + result.stdout


def test_the_checker_sees_what_differs():
    lab = labs.lab_by_number(DOCUMENT, 1)
    text = (LANGUAGES["en"] / lab["page"]).read_text(encoding="utf-8")
    assert page_problems(text, lab) == []
    stricter = copy.deepcopy(lab)
    stricter["steps"][4]["expect"][0]["above"] = 0.3
    assert page_problems(text, stricter) == ["step 5 does not name ['0.3'] as inline code"]
    changed_command = text.replace('"latency_ms": 400', '"latency_ms": 500')
    assert any("step 4 shows" in p for p in page_problems(changed_command, lab))
    dropped_step = re.sub(r"### 6\. .*?(?=### 7\.)", "", text, flags=re.S)
    assert any("step headings" in p for p in page_problems(dropped_step, lab))
    extra_block = text + "\n```sh\ncurl localhost:5000/admin/faults\n```\n"
    assert any("after the steps" in p for p in page_problems(extra_block, lab))


def vector(*series):
    return [{"metric": labels, "value": [0, value]} for labels, value in series]


def test_the_runner_judges_a_result_vector():
    judge = labs.judge_vector
    result = vector(({"job": "apimon", "http_route": "/a"}, "0.3"), ({"job": "apimon", "http_route": "/b"}, "0.01"))
    assert judge(result, {"labels": {"http_route": "/a"}, "above": 0.25})[0]
    assert not judge(result, {"labels": {"job": "apimon"}, "above": 0.25})[0]  # every matching series must hold
    assert judge(result, {"labels": {"job": "apimon"}, "below": 0.5})[0]
    assert not judge(result, {"labels": {"job": "other"}, "below": 0.5})[0]  # nothing matched: no evidence
    assert not judge(vector(({"job": "apimon"}, "NaN")), {"below": 1})[0]
    assert judge([], {"labels": {"job": "apimon"}, "absent": True})[0]
    assert not judge(result, {"labels": {"http_route": "/a"}, "absent": True})[0]
    counter = vector(({"integration": "telegram"}, "3"))
    key = labs._series_key({"integration": "telegram"})
    assert judge(counter, {"increases": True}, {key: 2.0})[0]
    assert not judge(counter, {"increases": True}, {key: 3.0})[0]


def test_the_runner_moves_ports_by_the_offset():
    stack = labs.Stack.__new__(labs.Stack)
    stack.offset = 20000
    assert stack.localise("curl localhost:5000/x && curl localhost:9093/y") == \
        "curl localhost:25000/x && curl localhost:29093/y"
    stack.offset = 0
    assert stack.localise("curl localhost:5000/x") == "curl localhost:5000/x"
