"""The GitHub Actions workflows in .github/workflows.

- actionlint (pinned in scripts/tool-versions, with Debian's shellcheck for the
  `run:` scripts) reports nothing, and does report a broken workflow;
- every action is pinned to a full commit id, with its version in a comment;
- least-privilege permissions everywhere;
- ci.yml runs the README's test command, and brings the compose stack up on
  the runner (official images, Grafana included) with a smoke test of every UI
  and API, lets it run with its default load for a bounded while, checks
  Grafana through its HTTP API (scripts/grafana-check --require-data: data
  sources, dashboards, every panel query), and leaves no container, network or
  volume of the project behind (that step's script is run here against a fake
  docker);
- infra-apply.yml and infra-destroy.yml are manual only, destroy wants a typed
  confirmation (its check is run here), both authenticate through OIDC with
  access keys as the fallback, and the shared job checks formatting, validates,
  plans and applies with its state in S3. The settings step's tfvars file is
  generated here with the workflow's own jq program and fed to the real tofu.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stackkit import infra, tools

REPO = Path(infra.REPO)
WORKFLOWS = REPO / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.y*ml"))


def load(name):
    # PyYAML reads the key `on` as True (YAML 1.1); map it back.
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(job):
    return job.get("steps", [])


def step_named(job, fragment):
    found = [s for s in steps(job) if fragment in s.get("name", "") or fragment in s.get("run", "")]
    assert found, "no step with %r" % fragment
    return found[0]


def index_of(job, predicate):
    for i, step in enumerate(steps(job)):
        if predicate(step):
            return i
    raise AssertionError("no such step")


def test_the_workflows_exist():
    assert {p.name for p in FILES} == {"ci.yml", "infra.yml", "infra-apply.yml", "infra-destroy.yml"}


# ---------------------------------------------------------------- actionlint --

def actionlint(paths, cwd):
    return subprocess.run([tools.binary("actionlint"), "-no-color", "-shellcheck", tools.binary("shellcheck"),
                           *map(str, paths)], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_actionlint_passes():
    result = actionlint(FILES, REPO)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path):
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    text = (WORKFLOWS / "ci.yml").read_text()
    broken = text.replace("runs-on: ubuntu-24.04", "runs-on: ubuntu-24.04\n    needs: nonexistent", 1)
    broken = broken.replace("run: cp .env.example .env", "run: cp $UNQUOTED .env", 1)
    (workflows / "ci.yml").write_text(broken)
    result = actionlint([workflows / "ci.yml"], tmp_path)
    assert result.returncode != 0
    assert "nonexistent" in result.stdout and "SC2086" in result.stdout, result.stdout


def test_checkov_passes_on_the_workflows():
    report, _ = tools.checkov(WORKFLOWS.parent, "github_actions")
    assert not tools.checkov_failures(report), tools.checkov_failures(report)
    assert report["summary"]["passed"] >= 40, report["summary"]
    # Reviewed: the dispatch inputs of apply (a ref) and destroy (the confirmation).
    assert {c["check_id"] for c in report["results"]["skipped_checks"]} == {"CKV_GHA_7"}
    assert not tools.checkov_unjustified_skips(report)


# ------------------------------------------------------------------- pinning --

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.M)


def test_actions_are_pinned_to_commits_with_their_version():
    pins = {}
    for path in FILES:
        for ref, rest in USES.findall(path.read_text()):
            if ref.startswith("./"):
                assert (REPO / ref).exists(), "%s: %s does not exist" % (path.name, ref)
                continue
            action, _, commit = ref.partition("@")
            assert re.fullmatch(r"[0-9a-f]{40}", commit), "%s: %s is not pinned to a commit" % (path.name, ref)
            assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", rest), "%s: %s lacks its '# vX.Y.Z' comment" % (path.name, ref)
            pins.setdefault(action, set()).add((commit, rest.strip()))
    for action, versions in pins.items():
        assert len(versions) == 1, "%s is pinned to several versions: %s" % (action, versions)
    assert {"actions/checkout", "actions/setup-go", "actions/cache", "opentofu/setup-opentofu",
            "aws-actions/configure-aws-credentials"} == set(pins)


# --------------------------------------------------------------- permissions --

@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_least_privilege_permissions(path):
    data = load(path.name)
    assert data.get("permissions") == {"contents": "read"}, "%s: top-level permissions" % path.name
    for name, job in data["jobs"].items():
        permissions = job.get("permissions", {"contents": "read"})
        assert isinstance(permissions, dict), "%s/%s: permissions must list scopes" % (path.name, name)
        extra = {k: v for k, v in permissions.items() if (k, v) != ("contents", "read")}
        if path.name == "ci.yml" or name == "confirm":
            assert not extra, "%s/%s needs no more than contents: read" % (path.name, name)
        else:
            assert extra == {"id-token": "write"}, "%s/%s: %s" % (path.name, name, extra)


# ------------------------------------------------------------------------ ci --

def test_ci_runs_on_push_and_pull_request_and_runs_the_readme_test_command():
    data = load("ci.yml")
    assert set(data["on"]) == {"push", "pull_request"}
    test = data["jobs"]["test"]
    assert test["container"] == "debian:bookworm"
    run = step_named(test, "scripts/test")["run"]
    # The one test left out is e2e.compose, which starts a Docker Engine of its
    # own (a job container cannot); the compose job covers the stack there.
    # CI stays set, so nothing the suite needs may be missing quietly.
    assert re.fullmatch(r"scripts/test( --output-on-failure)?"
                        r"( --exclude-regex '\^e2e\\\.compose\$')?", run.strip()), run
    assert "e2e.compose" not in run or "compose" in data["jobs"], "the compose stack must be run somewhere"
    assert "scripts/test" in (REPO / "README.md").read_text()


def test_ci_go_is_new_enough_for_every_tool():
    data = load("ci.yml")
    setup = [s for s in steps(data["jobs"]["test"]) if s.get("uses", "").startswith("actions/setup-go@")]
    assert len(setup) == 1
    have = tuple(int(x) for x in str(setup[0]["with"]["go-version"]).split("."))
    for key, value in tools.tool_versions().items():
        if key.endswith("GO_MIN_VERSION"):
            assert have >= tuple(int(x) for x in value.split(".")), "%s=%s" % (key, value)
    cache = [s for s in steps(data["jobs"]["test"]) if s.get("uses", "").startswith("actions/cache@")][0]
    assert "scripts/tool-versions" in cache["with"]["key"] and "tests/requirements.txt" in cache["with"]["key"]


def test_ci_brings_the_stack_up_and_smoke_tests_it():
    job = load("ci.yml")["jobs"]["compose"]
    runs = [s.get("run", "").strip() for s in steps(job)]
    env = index_of(job, lambda s: s.get("run", "").strip() == "cp .env.example .env")
    up = index_of(job, lambda s: s.get("run", "").startswith("docker compose up -d --build --wait"))
    smoke = index_of(job, lambda s: s.get("run", "").startswith("scripts/smoke"))
    logs = index_of(job, lambda s: "docker compose logs" in s.get("run", ""))
    down = index_of(job, lambda s: s.get("run", "").startswith("docker compose down -v"))
    assert env < up < smoke < logs < down, runs
    assert steps(job)[logs]["if"] == "failure()"
    assert steps(job)[down]["if"] == "always()"
    assert re.search(r"--timeout \d+", runs[smoke])


def _compose_job():
    return load("ci.yml")["jobs"]["compose"]


def _runs(prefix):
    return lambda s: s.get("run", "").lstrip().startswith(prefix)


def test_ci_runs_the_official_images_of_compose_yaml():
    job = _compose_job()
    up = [s["run"].strip() for s in steps(job) if _runs("docker compose up")(s)]
    assert len(up) == 1 and re.fullmatch(r"docker compose up -d --build --wait --wait-timeout \d+", up[0]), up
    text = json.dumps(job)
    for override in ("COMPOSE_FILE", "docker tag", "docker load", "docker compose -f", "--file", "docker import"):
        assert override not in text, "the compose job must run compose.yaml's own images: %s" % override
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert compose["services"]["grafana"]["image"].startswith("grafana/grafana:")


def test_ci_prints_the_docker_compose_and_buildx_versions_first():
    job = _compose_job()
    versions = index_of(job, lambda s: "docker buildx version" in s.get("run", ""))
    run = steps(job)[versions]["run"].split("\n")
    for command in ("docker version", "docker compose version", "docker buildx version"):
        assert command in [line.strip() for line in run], command
    assert versions < index_of(job, _runs("docker compose up"))


def test_ci_checks_grafana_with_require_data_after_the_stack_has_run_with_load():
    job = _compose_job()
    up = index_of(job, _runs("docker compose up"))
    smoke = index_of(job, _runs("scripts/smoke"))
    load_wait = index_of(job, lambda s: re.search(r"^\s*sleep \d+\s*$", s.get("run", ""), re.M))
    check = index_of(job, _runs("scripts/grafana-check"))
    logs = index_of(job, lambda s: "docker compose logs" in s.get("run", ""))
    down = index_of(job, _runs("docker compose down -v"))
    assert up < smoke < load_wait < check < logs < down
    sleep = int(re.search(r"^\s*sleep (\d+)\s*$", steps(job)[load_wait]["run"], re.M).group(1))
    assert 180 <= sleep <= 900, "a few minutes of load, bounded: %d s" % sleep
    for i in (load_wait, check):
        assert "if" not in steps(job)[i], "runs only when the stack is up and answered the smoke test"
    argv = shlex.split(steps(job)[check]["run"].strip())
    assert argv[0] == "scripts/grafana-check" and "--require-data" in argv
    for option in ("--timeout", "--data-timeout"):
        assert option in argv and float(argv[argv.index(option) + 1]) > 0, option
    # The script accepts exactly these options (--list asks no Grafana), and
    # finds the PyYAML it needs on the runner.
    result = subprocess.run([sys.executable, str(REPO / argv[0]), *argv[1:], "--list"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and '"queries"' in result.stdout, result.stderr
    assert os.access(REPO / argv[0], os.X_OK)
    pyyaml = index_of(job, lambda s: "import yaml" in s.get("run", ""))
    assert pyyaml < check and "python3-yaml" in steps(job)[pyyaml]["run"]


FAKE_DOCKER = """#!/bin/bash
# Knows "ps --all", "network ls" and "volume ls", with a compose project label
# filter or without (then it lists every name). LEFT: "kind:name:project ...".
kind=$1; shift
[ "$kind" = ps ] && kind=container
[ "${1:-}" = ls ] && shift
project=
for arg in "$@"; do
  case $arg in label=com.docker.compose.project=*) project=${arg#label=com.docker.compose.project=} ;; esac
done
for item in $LEFT; do
  IFS=: read -r k name p <<<"$item"
  [ "$k" = "$kind" ] || continue
  if [ -z "$project" ] || [ "$p" = "$project" ]; then echo "$name"; fi
done
"""


@pytest.mark.parametrize("left,expected", [
    ("", 0),
    ("container:0123abcd:pokedex-stack", 1),
    ("network:pokedex-stack_default:pokedex-stack", 1),
    ("volume:pokedex-stack_grafana-data:pokedex-stack", 1),
    ("volume:pokedex-stack_db-data:", 1),  # named after the project, label lost
    ("volume:other_data:other network:bridge: container:0123abcd:other", 0),
])
def test_ci_asserts_nothing_of_the_project_remains(tmp_path, left, expected):
    job = _compose_job()
    down = index_of(job, _runs("docker compose down -v --remove-orphans"))
    remains = index_of(job, lambda s: "com.docker.compose.project=" in s.get("run", ""))
    assert down < remains and steps(job)[remains]["if"] == "always()"
    run = steps(job)[remains]["run"]
    assert "project=%s" % yaml.safe_load((REPO / "compose.yaml").read_text())["name"] in run
    for kind in ("docker ps --all", "docker network ls", "docker volume ls"):
        assert kind in run, kind
    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    env = {**os.environ, "PATH": "%s:%s" % (tmp_path, os.environ["PATH"]), "LEFT": left}
    # As GitHub runs a bash step: bash -e -o pipefail.
    result = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", run], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == expected, result.stdout + result.stderr
    if expected:
        assert left.split(":")[1] in result.stdout


# --------------------------------------------------------- apply and destroy --

def test_apply_and_destroy_are_manual_only():
    for name in ("infra-apply.yml", "infra-destroy.yml"):
        assert set(load(name)["on"]) == {"workflow_dispatch"}, name
    assert set(load("infra.yml")["on"]) == {"workflow_call"}


def test_both_call_the_shared_job_with_oidc_and_the_right_operation():
    for name, operation in (("infra-apply.yml", "apply"), ("infra-destroy.yml", "destroy")):
        jobs = load(name)["jobs"]
        (caller,) = [job for job in jobs.values() if "uses" in job]
        assert caller["uses"] == "./.github/workflows/infra.yml"
        assert caller["with"]["operation"] == operation
        assert caller["secrets"] == "inherit"
        assert caller["permissions"]["id-token"] == "write"


def test_destroy_needs_the_typed_confirmation():
    data = load("infra-destroy.yml")
    confirm_input = data["on"]["workflow_dispatch"]["inputs"]["confirm"]
    assert confirm_input["required"] is True and confirm_input["type"] == "string"
    assert data["jobs"]["destroy"]["needs"] == "confirm"
    (check,) = steps(data["jobs"]["confirm"])
    assert check["env"]["CONFIRM"] == "${{ inputs.confirm }}"
    for typed, expected in (("destroy pokedex-stack", 0), ("destroy", 1), ("", 1), ("DESTROY POKEDEX-STACK", 1),
                            ("destroy pokedex-stack ", 1)):
        result = subprocess.run(["bash", "-e", "-c", check["run"]], env={**os.environ, "CONFIRM": typed},
                                capture_output=True, text=True)
        assert result.returncode == expected, (typed, result.stdout)


@pytest.fixture(scope="module")
def shared_job():
    return load("infra.yml")["jobs"]["tofu"]


def test_shared_job_uses_an_environment_and_one_concurrency_group(shared_job):
    assert shared_job["environment"] == "aws"
    assert shared_job["concurrency"] == {"group": "infra-aws", "cancel-in-progress": False}
    assert shared_job["defaults"]["run"]["working-directory"] == "infra/aws"


def test_shared_job_order_fmt_validate_plan_apply(shared_job):
    def run_starts(prefix):
        return lambda s: s.get("run", "").lstrip().startswith(prefix)
    fmt = index_of(shared_job, run_starts("tofu fmt -check"))
    init = index_of(shared_job, lambda s: "tofu init" in s.get("run", ""))
    validate = index_of(shared_job, run_starts("tofu validate"))
    plan = index_of(shared_job, lambda s: "tofu plan" in s.get("run", ""))
    apply = index_of(shared_job, run_starts("tofu apply -input=false tfplan"))
    assert fmt < init < validate < plan < apply
    plan_run = steps(shared_job)[plan]["run"]
    assert "-destroy -out=tfplan" in plan_run and "tofu plan -input=false -out=tfplan" in plan_run


def test_shared_job_state_in_s3_with_native_locking(shared_job):
    init = step_named(shared_job, "tofu init")["run"]
    assert "cp s3-backend.tf.example s3-backend.tf" in init
    for setting in ('bucket=$TF_STATE_BUCKET', 'key=$TF_STATE_KEY', 'region=$TF_STATE_REGION',
                    'use_lockfile=true', 'encrypt=true'):
        assert '-backend-config="%s"' % setting in init
    assert (Path(infra.INFRA) / "s3-backend.tf.example").exists()


def test_shared_job_installs_the_pinned_tofu(shared_job):
    setup = [s for s in steps(shared_job) if s.get("uses", "").startswith("opentofu/setup-opentofu@")][0]
    assert setup["with"]["tofu_version"] == "${{ steps.versions.outputs.tofu }}"
    assert setup["with"]["tofu_wrapper"] is False
    versions = [s for s in steps(shared_job) if s.get("id") == "versions"][0]
    result = subprocess.run(["bash", "-e", "-c", versions["run"]], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "GITHUB_OUTPUT": "/dev/stdout"})
    assert result.stdout.strip() == "tofu=" + tools.tool_versions()["TOFU_VERSION"].lstrip("v")


def test_shared_job_authenticates_with_oidc_or_access_keys(shared_job):
    aws = [s for s in steps(shared_job) if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert len(aws) == 2
    oidc, keys = aws
    assert oidc["if"] == "env.AWS_ROLE_ARN != ''" and keys["if"] == "env.AWS_ROLE_ARN == ''"
    assert oidc["with"]["role-to-assume"] == "${{ env.AWS_ROLE_ARN }}"
    assert "aws-access-key-id" not in oidc["with"]
    assert keys["with"]["aws-access-key-id"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"
    assert keys["with"]["aws-secret-access-key"] == "${{ secrets.AWS_SECRET_ACCESS_KEY }}"
    assert shared_job["env"]["AWS_ROLE_ARN"] == "${{ vars.AWS_ROLE_ARN }}"
    assert shared_job["permissions"]["id-token"] == "write"
    # The credentials come before anything that talks to AWS.
    assert index_of(shared_job, lambda s: s is keys) < index_of(shared_job, lambda s: "tofu init" in s.get("run", ""))


SETTINGS_OK = {
    "OPERATION": "apply", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/gha", "HAS_ACCESS_KEYS": "false",
    "TF_STATE_BUCKET": "state", "TELEGRAM_CHAT_ID": "-100123", "ALLOWED_CIDRS": '["203.0.113.7/32"]',
}


@pytest.mark.parametrize("change,message", [
    ({}, None),
    ({"AWS_ROLE_ARN": "", "HAS_ACCESS_KEYS": "true"}, None),
    ({"AWS_ROLE_ARN": ""}, "AWS_ROLE_ARN"),
    ({"TF_STATE_BUCKET": ""}, "TF_STATE_BUCKET"),
    ({"TELEGRAM_CHAT_ID": ""}, None),
    ({"ALLOWED_CIDRS": ""}, "ALLOWED_CIDRS"),
    ({"ALLOWED_CIDRS": "[]"}, "ALLOWED_CIDRS"),
    ({"ALLOWED_CIDRS": "203.0.113.7/32"}, "ALLOWED_CIDRS"),
    ({"OPERATION": "plan"}, "operation"),
])
def test_settings_check(shared_job, change, message):
    check = step_named(shared_job, "Check the settings")["run"]
    result = subprocess.run(["bash", "-e", "-c", check], env={**os.environ, **SETTINGS_OK, **change},
                            capture_output=True, text=True)
    if message is None:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "::add-mask::203.0.113.7/32" in result.stdout  # the addresses stay out of the logs
    else:
        assert result.returncode != 0 and message in result.stdout, result.stdout


@pytest.mark.parametrize("extra", [
    {},
    {"INSTANCE_TYPE": "t3.small", "SSH_PUBLIC_KEY": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx example",
     "SECRET_PARAMETERS": '{"db_app_password": "/other/db-app"}'},
])
def test_generated_tfvars_are_accepted_by_tofu(shared_job, tmp_path, extra):
    settings = step_named(shared_job, "ci.auto.tfvars.json")["run"]
    assert shutil.which("jq"), "jq is missing: scripts/bootstrap installs it"
    env = {**os.environ, "ALLOWED_CIDRS": '["203.0.113.7/32"]', "AWS_REGION": "eu-west-1",
           "TELEGRAM_CHAT_ID": "-100123", "REPOSITORY_URL": "https://github.com/o/r.git",
           "REPOSITORY_REF": "0123456789abcdef0123456789abcdef01234567",
           "INSTANCE_TYPE": "", "SSH_PUBLIC_KEY": "", "SECRET_PARAMETERS": "", **extra}
    subprocess.run(["bash", "-e", "-c", settings], cwd=tmp_path, env=env, check=True)
    values = json.loads((tmp_path / "ci.auto.tfvars.json").read_text())
    assert values["repository_ref"] == env["REPOSITORY_REF"]
    assert ("instance_type" in values) == bool(extra)
    workdir = tmp_path / "tofu"
    workdir.mkdir()
    infra.ProviderFree(workdir).apply(values)
