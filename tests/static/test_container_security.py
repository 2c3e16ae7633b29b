"""checkov on the container files users run: services/Dockerfile with checkov's
own Dockerfile checks, and compose.yaml with the Compose policies of
tests/static/checkov (checkov ships none for Compose). No check may fail; a
service that cannot meet one says why inline (`# checkov:skip=ID: reason`),
and the set of skips is fixed here so a new one is a reviewed change.
"""

import re
from pathlib import Path

import pytest
import yaml

from stackkit import tools

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "services" / "Dockerfile"
COMPOSE = REPO / "compose.yaml"
COMPOSE_POLICIES = REPO / "tests" / "static" / "checkov"
COMPOSE_CHECKS = {"CKV_COMPOSE_%d" % n for n in range(1, 12)}

# (service, check): what the third-party images' documented setups need.
EXPECTED_COMPOSE_SKIPS = {
    ("db", "CKV_COMPOSE_2"), ("db", "CKV_COMPOSE_4"), ("db", "CKV_COMPOSE_10"),
    ("grafana", "CKV_COMPOSE_4"),
    ("cadvisor", "CKV_COMPOSE_2"), ("cadvisor", "CKV_COMPOSE_3"), ("cadvisor", "CKV_COMPOSE_4"),
    ("cadvisor", "CKV_COMPOSE_10"),
    ("node-exporter", "CKV_COMPOSE_9"),
}


def compose_checkov(path):
    return tools.checkov(path, "yaml", "--external-checks-dir", str(COMPOSE_POLICIES))


def service_blocks(path):
    """{first line: service name} for the top-level services of a compose file."""
    starts, inside = {}, False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if re.match(r"^\S", line):
            inside = line.startswith("services:")
        elif inside and (match := re.match(r"^  ([a-z][\w-]*):\s*$", line)):
            starts[number] = match.group(1)
    return starts


def service_of(result, blocks):
    """The service a checkov result's line range belongs to."""
    first = result["file_line_range"][0]
    return blocks[max(start for start in blocks if start <= first)]


def outcomes(report, path):
    blocks = service_blocks(path)
    return {kind: {(service_of(c, blocks), c["check_id"]) for c in report["results"][kind]}
            for kind in ("passed_checks", "failed_checks", "skipped_checks")}


@pytest.fixture(scope="module")
def dockerfile_report():
    return tools.checkov(DOCKERFILE, "dockerfile")


@pytest.fixture(scope="module")
def compose_report():
    return compose_checkov(COMPOSE)


def test_dockerfile_passes_every_checkov_check(dockerfile_report):
    report, result = dockerfile_report
    assert not tools.checkov_failures(report), "\n".join(tools.checkov_failures(report))
    assert report["summary"]["parsing_errors"] == 0, result.stderr[-3000:]
    passed = {c["check_id"] for c in report["results"]["passed_checks"]}
    # The properties the image promises: a HEALTHCHECK, a non-root USER, no
    # `latest` base image, apt-get (stable for scripts) rather than apt.
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7", "CKV_DOCKER_9"} <= passed, passed
    assert not report["results"]["skipped_checks"]
    assert result.returncode == 0


def test_checkov_notices_a_weakened_dockerfile(tmp_path):
    text = DOCKERFILE.read_text()
    weakened = re.sub(r"(?m)^(USER|HEALTHCHECK)\b.*(\n[ \t]+.*)*$", "", text)
    assert weakened != text
    (tmp_path / "Dockerfile").write_text(weakened)
    report, _ = tools.checkov(tmp_path / "Dockerfile", "dockerfile")
    failed = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3"} <= failed, failed


def test_compose_passes_every_policy_for_every_service(compose_report):
    report, result = compose_report
    assert report["summary"]["parsing_errors"] == 0, result.stderr[-3000:]
    seen = outcomes(report, COMPOSE)
    assert not seen["failed_checks"], sorted(seen["failed_checks"])
    services = set(yaml.safe_load(COMPOSE.read_text())["services"])
    every = {(service, check) for service in services for check in COMPOSE_CHECKS}
    assert seen["passed_checks"] | seen["skipped_checks"] == every
    assert result.returncode == 0


def test_compose_skips_are_the_reviewed_ones_and_justified(compose_report):
    report, _ = compose_report
    assert outcomes(report, COMPOSE)["skipped_checks"] == EXPECTED_COMPOSE_SKIPS
    assert not tools.checkov_unjustified_skips(report)
    assert not list(REPO.glob(".checkov.y*ml"))


def test_compose_policies_notice_a_weakened_service(tmp_path):
    document = yaml.safe_load(COMPOSE.read_text())
    apimon = document["services"]["apimon"]
    apimon.update(privileged=True, read_only=False, user="root", pid="host", image="pokedex-stack/apimon:latest")
    apimon.pop("healthcheck")
    apimon.pop("deploy")
    apimon.pop("logging")
    apimon["security_opt"] = []
    apimon["cap_drop"] = []
    apimon["environment"]["APIMON_ADMIN_TOKEN"] = "not-a-file"
    weakened = tmp_path / "compose.yaml"
    weakened.write_text(yaml.safe_dump(document, sort_keys=False))
    report, _ = compose_checkov(weakened)
    failed = {check for service, check in outcomes(report, weakened)["failed_checks"] if service == "apimon"}
    assert failed == COMPOSE_CHECKS, sorted(COMPOSE_CHECKS - failed)


def test_policies_are_checkov_checks_with_distinct_ids():
    # checkov loads the directory as a package; a policy file outside it, or
    # two policies sharing an id, would silently check less.
    assert (COMPOSE_POLICIES / "__init__.py").is_file()
    text = (COMPOSE_POLICIES / "compose_checks.py").read_text()
    ids = re.findall(r'check_id = "(CKV_COMPOSE_\d+)"', text)
    assert sorted(ids) == sorted(COMPOSE_CHECKS) and len(ids) == len(set(ids))
