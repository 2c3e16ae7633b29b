"""Static checks of the Terraform/OpenTofu configuration in infra/aws.

- `tofu fmt -check` (the OpenTofu release pinned in scripts/tool-versions);
- checkov (pinned in tests/requirements.txt) with no failed check, and every
  skip justified inline;
- every variable validation, evaluated by the real tofu on a provider-free copy
  of variables.tf (see python/stackkit/infra.py for why `tofu validate` of the
  whole configuration cannot run here: the AWS provider is not installable);
- the properties the deployment promises: only the stack's ports, only from
  allowed_cidrs; IMDSv2; an encrypted gp3 root volume; a Debian AMI from a data
  source; secrets read from SSM by name; no credentials; local state by
  default and an S3 backend with native locking on request.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
import yaml

from stackkit import infra, tools

INFRA = Path(infra.INFRA)
REPO = Path(infra.REPO)
PARSED = infra.load_all()
RESOURCES = {kind: infra.blocks(PARSED, "resource", kind) for kind in (
    "aws_vpc", "aws_subnet", "aws_internet_gateway", "aws_route_table", "aws_route_table_association",
    "aws_default_security_group", "aws_security_group", "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule", "aws_instance", "aws_key_pair", "aws_iam_role",
    "aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_iam_instance_profile")}

# The published ports of the compose stack, and the checks scripts/smoke runs.
STACK_PORTS = {"apimon": 5000, "api_prometheus": 8689, "grafana": 3000, "prometheus": 9090,
               "alertmanager": 9093, "jaeger": 16686, "cadvisor": 8080}
# Reviewed skips; a new one must be justified inline and added here.
EXPECTED_SKIPS = {"CKV_AWS_88", "CKV_AWS_126", "CKV2_AWS_11"}


def first(value):
    """python-hcl2 wraps attribute values in a list."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def tf_text():
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(INFRA.glob("*.tf")))


def stack_ports():
    (local,) = [entry for entry in PARSED["security.tf"]["locals"] if "stack_ports" in entry]
    return {name: spec["port"] for name, spec in first(local["stack_ports"]).items()}


# ------------------------------------------------------------------ tofu fmt --

def test_tofu_is_the_pinned_release():
    wanted = tools.tool_versions()["TOFU_VERSION"]
    out = tools.run_tofu(["version"], str(INFRA)).stdout
    assert out.splitlines()[0] == "OpenTofu " + wanted, out


def test_tofu_fmt_check():
    result = tools.run_tofu(["fmt", "-check", "-recursive", "-diff", "-no-color", "."], str(INFRA), check=False)
    assert result.returncode == 0, "run `tofu fmt -recursive infra/aws`:\n" + result.stdout + result.stderr


def test_tofu_fmt_check_notices_bad_formatting(tmp_path):
    shutil.copy(INFRA / "outputs.tf", tmp_path)
    text = (tmp_path / "outputs.tf").read_text()
    (tmp_path / "outputs.tf").write_text(text.replace("  value", "value      ", 1))
    result = tools.run_tofu(["fmt", "-check", "-no-color", "."], str(tmp_path), check=False)
    assert result.returncode != 0


# ------------------------------------------------------------------- checkov --

@pytest.fixture(scope="module")
def checkov_report():
    return tools.checkov(INFRA, "terraform")


def test_checkov_passes(checkov_report):
    report, result = checkov_report
    summary = report["summary"]
    failed = tools.checkov_failures(report)
    assert summary["failed"] == 0 and not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert summary["parsing_errors"] == 0, result.stderr[-3000:]
    assert summary["passed"] >= 50, summary
    assert result.returncode == 0


def test_checkov_skips_are_justified_and_reviewed(checkov_report):
    report, _ = checkov_report
    assert {c["check_id"] for c in report["results"]["skipped_checks"]} == EXPECTED_SKIPS
    assert not tools.checkov_unjustified_skips(report)
    # Only inline skips: nothing switched off on the command line or in a config file.
    assert not list(REPO.glob(".checkov.y*ml")) and not list(INFRA.glob(".checkov.y*ml"))


def test_checkov_notices_a_weakened_instance(tmp_path):
    for path in INFRA.glob("*.tf"):
        shutil.copy(path, tmp_path)
    shutil.copytree(INFRA / "templates", tmp_path / "templates")
    text = (tmp_path / "instance.tf").read_text()
    assert 'http_tokens                 = "required"' in text
    (tmp_path / "instance.tf").write_text(
        text.replace('http_tokens                 = "required"', 'http_tokens                 = "optional"')
            .replace("encrypted             = true", "encrypted             = false"))
    report, _ = tools.checkov(tmp_path, "terraform")
    failed = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert {"CKV_AWS_79", "CKV_AWS_8"} <= failed, failed


# ------------------------------------------------ variables and validations --

def test_every_variable_has_type_and_description():
    for name, body in infra.variables().items():
        assert "type" in body, "variable %s has no type" % name
        description = first(body.get("description", [""]))
        assert len(description) >= 30, "variable %s has no real description" % name


def test_variables_users_must_set_have_no_default():
    variables = infra.variables()
    for name in ("allowed_cidrs", "repository_url"):
        assert "default" not in variables[name], name
    # Everything a shell or a security group consumes is validated.
    for name in ("allowed_cidrs", "repository_url", "repository_ref", "telegram_chat_id", "aws_region",
                 "instance_type", "secret_parameters", "swap_size_gib", "ssh_public_key", "name"):
        assert variables[name].get("validation"), "variable %s has no validation" % name


def test_instance_type_description_explains_the_memory_trade_off():
    description = first(infra.variables()["instance_type"]["description"])
    for words in ("t3.micro (1 GiB)", "t3.small (2 GiB)", "t3.medium (4 GiB"):
        assert words in description


@pytest.fixture(scope="module")
def provider_free(tmp_path_factory):
    return infra.ProviderFree(tmp_path_factory.mktemp("infra-vars"))


def test_sample_values_are_accepted(provider_free):
    provider_free.apply(infra.SAMPLE_VARS)


def test_only_two_variables_are_required(provider_free):
    minimal = {k: infra.SAMPLE_VARS[k] for k in ("allowed_cidrs", "repository_url")}
    provider_free.apply(minimal)
    for missing in minimal:
        values = {k: v for k, v in minimal.items() if k != missing}
        result = provider_free.apply(values, check=False)
        assert result.returncode != 0
        assert 'No value for required variable' in result.stderr and missing in result.stderr, result.stderr


def test_tfvars_example_is_accepted(provider_free):
    example = Path(provider_free.dir) / "example.tfvars"
    shutil.copy(INFRA / "terraform.tfvars.example", example)
    tools.run_tofu(["apply", "-auto-approve", "-input=false", "-no-color", "-var-file=" + str(example)],
                   provider_free.dir)


REJECTED = [
    ("allowed_cidrs", [], "allowed_cidrs is empty"),
    ("allowed_cidrs", ["0.0.0.0/0"], "must not contain 0.0.0.0/0"),
    ("allowed_cidrs", ["203.0.113.7/32", "0.0.0.0/0"], "must not contain 0.0.0.0/0"),
    ("allowed_cidrs", ["203.0.113.7/24"], "host bits set"),
    ("allowed_cidrs", ["203.0.113.7"], "must be an IPv4 range"),
    ("allowed_cidrs", ["2001:db8::/32"], "must be an IPv4 range"),
    ("repository_url", "http://github.com/o/r.git", "plain https:// URL"),
    ("repository_url", "https://user:token@github.com/o/r.git", "plain https:// URL"),
    ("repository_url", "https://github.com/o/r.git'; reboot; '", "plain https:// URL"),
    ("repository_ref", "main'; reboot; '", "must be a branch, tag or commit"),
    ("repository_ref", "--upload-pack=evil", "must be a branch, tag or commit"),
    ("repository_ref", "a/../b", "must be a branch, tag or commit"),
    ("telegram_chat_id", "@channel", "must be an integer"),
    ("aws_region", "Mars-1", "region code"),
    ("instance_type", "large", "EC2 instance type"),
    ("swap_size_gib", 1.5, "whole number"),
    ("root_volume_size_gib", 8, "whole number from 20"),
    ("ssh_public_key", "not a key", "OpenSSH public key"),
    ("ami_id", "debian-13", "ami-"),
    ("ssm_kms_key_arn", "alias/aws/ssm", "KMS key ARN"),
    ("secret_parameters", {"db_app_password": "db-app-password"}, "full parameter name"),
    ("secret_parameters", {"db_app_password": "/x/$(reboot)"}, "full parameter name"),
    ("secret_parameters", {"db_app_password": "/same", "db_root_password": "/same"}, "a different parameter"),
    ("name", "Pokedex Stack", "lower-case"),
]


@pytest.mark.parametrize("name,value,message", REJECTED, ids=["%s=%s" % (n, json.dumps(v)) for n, v, _ in REJECTED])
def test_invalid_values_are_refused(provider_free, name, value, message):
    result = provider_free.apply({**infra.SAMPLE_VARS, name: value}, check=False)
    assert result.returncode != 0, "tofu accepted %s = %r" % (name, value)
    error = " ".join(result.stderr.split())
    assert "Invalid value for variable" in error and message in error, result.stderr


# ------------------------------------------------------------------- network --

def test_one_vpc_one_public_subnet_routed_to_an_internet_gateway():
    assert len(RESOURCES["aws_vpc"]) == 1 and len(RESOURCES["aws_subnet"]) == 1
    assert len(RESOURCES["aws_internet_gateway"]) == 1
    (table,) = RESOURCES["aws_route_table"].values()
    (route,) = table["route"]
    assert first(route["cidr_block"]) == "0.0.0.0/0"
    assert first(route["gateway_id"]) == "${aws_internet_gateway.stack.id}"
    (association,) = RESOURCES["aws_route_table_association"].values()
    assert first(association["subnet_id"]) == "${aws_subnet.public.id}"
    # The default security group is taken over and left without rules.
    (default_sg,) = RESOURCES["aws_default_security_group"].values()
    assert "ingress" not in default_sg and "egress" not in default_sg


def test_security_group_opens_only_the_stack_ports_and_only_to_allowed_cidrs():
    assert stack_ports() == STACK_PORTS
    text = (INFRA / "security.tf").read_text()
    assert "setproduct(keys(local.stack_ports), var.allowed_cidrs)" in text
    ingress = RESOURCES["aws_vpc_security_group_ingress_rule"]
    assert set(ingress) == {"stack", "ssh"}
    assert first(ingress["stack"]["for_each"]) == "${local.stack_ingress}"
    assert first(ingress["stack"]["cidr_ipv4"]) == "${each.value.cidr}"
    assert first(ingress["stack"]["from_port"]) == first(ingress["stack"]["to_port"]) == "${each.value.port}"
    assert first(ingress["ssh"]["for_each"]) == "${local.ssh_ingress}"
    assert first(ingress["ssh"]["cidr_ipv4"]) == "${each.value}"
    assert "var.ssh_public_key == null ? toset([]) : toset(var.allowed_cidrs)" in text
    for body in ingress.values():
        assert first(body["ip_protocol"]) == "tcp"
        assert "cidr_ipv6" not in body and "referenced_security_group_id" not in body
    # No other way in: no inline rules, no legacy rule resources.
    (sg,) = RESOURCES["aws_security_group"].values()
    assert "ingress" not in sg and "egress" not in sg
    assert "aws_security_group_rule" not in tf_text()
    # Out: HTTP and HTTPS only.
    (egress,) = RESOURCES["aws_vpc_security_group_egress_rule"].values()
    assert first(egress["for_each"]) == "${toset(['80', '443'])}"
    assert first(egress["ip_protocol"]) == "tcp"


def test_ports_agree_with_smoke_outputs_and_compose():
    smoke = subprocess.run([str(REPO / "scripts" / "smoke"), "--list", "--host", "192.0.2.1"],
                           capture_output=True, text=True, check=True).stdout
    smoke_ports = {int(m) for m in re.findall(r"http://192\.0\.2\.1:(\d+)/", smoke)}
    assert smoke_ports == set(STACK_PORTS.values())
    outputs = (INFRA / "outputs.tf").read_text()
    assert "for name, p in local.stack_ports" in outputs
    # Whatever compose publishes must be opened (and smoke-tested) on EC2 too;
    # the database and OTLP stay internal.
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    published = set()
    for name, service in (compose.get("services") or {}).items():
        for port in service.get("ports") or []:
            spec = port if isinstance(port, str) else "%s:%s" % (port.get("published"), port.get("target"))
            host_port = spec.rsplit(":", 2)[-2] if spec.count(":") >= 1 else spec
            published.add((name, int(str(host_port).split("/")[0].split("-")[0])))
    for name, port in published:
        assert port in STACK_PORTS.values(), (
            "compose.yaml publishes %s on %d: add it to local.stack_ports (infra/aws/security.tf) "
            "and scripts/smoke" % (name, port))
        assert port not in (3306, 4317, 4318)


# ------------------------------------------------------------------ instance --

def test_instance_hardening():
    (instance,) = RESOURCES["aws_instance"].values()
    (metadata,) = instance["metadata_options"]
    assert first(metadata["http_tokens"]) == "required"
    assert first(metadata["http_put_response_hop_limit"]) == 1
    (root,) = instance["root_block_device"]
    assert first(root["volume_type"]) == "gp3"
    assert first(root["encrypted"]) is True
    assert first(root["volume_size"]) == "${var.root_volume_size_gib}"
    assert first(instance["instance_type"]) == "${var.instance_type}"
    assert first(instance["user_data"]) == "${local.user_data}"
    assert first(instance["user_data_replace_on_change"]) is True
    assert first(instance["iam_instance_profile"]) == "${aws_iam_instance_profile.instance.name}"
    assert first(instance["key_name"]) == "${one(aws_key_pair.admin[*].key_name)}"
    assert "data.aws_ami.debian.id" in first(instance["ami"])
    # No SSH provisioner, no private key anywhere.
    assert "provisioner" not in instance and "connection" not in instance
    assert "private_key" not in tf_text()


def test_ami_is_official_debian_from_a_data_source():
    (ami,) = infra.blocks(PARSED, "data", "aws_ami").values()
    assert first(ami["owners"]) == ["136693071363"]  # Debian's cloud team
    assert first(ami["most_recent"]) is True
    names = [f for f in ami["filter"] if first(f["name"]) == "name"]
    assert "debian-13-amd64-*" in str(names) and "debian-13-arm64-*" in str(names)


def test_key_pair_is_optional():
    (key,) = RESOURCES["aws_key_pair"].values()
    assert first(key["count"]) == "${var.ssh_public_key == None ? 0 : 1}"
    assert infra.variables()["ssh_public_key"]["default"] == [None]


def test_instance_role_reads_only_its_secret_parameters():
    text = (INFRA / "iam.tf").read_text()
    (policy,) = [body for name, body in infra.blocks(PARSED, "data", "aws_iam_policy_document").items()
                 if name == "read_secrets"]
    (statement,) = policy["statement"]
    assert first(statement["actions"]) == ["ssm:GetParameter"]
    assert first(statement["resources"]) == \
        "${[for name in values(var.secret_parameters) : \"${local.parameter_arn_prefix}${name}\"]}"
    assert re.search(r'parameter_arn_prefix = "arn:\$\{[^"]*\}:ssm:\$\{[^"]*\}:\$\{[^"]*\}:parameter"', text)
    assert '"*"' not in text
    attachment = RESOURCES["aws_iam_role_policy_attachment"]["ssm_session_manager"]
    assert first(attachment["count"]) == "${var.enable_ssm_session_manager ? 1 : 0}"
    assert "AmazonSSMManagedInstanceCore" in first(attachment["policy_arn"])


def test_outputs_name_the_address_and_every_ui():
    outputs = {}
    for entry in PARSED["outputs.tf"]["output"]:
        outputs.update(entry)
    for name in ("public_ip", "public_dns", "urls", "instance_id", "ssm_session_command", "smoke_command"):
        assert name in outputs and first(outputs[name]["description"]), name


# -------------------------------------------------------- versions and state --

def test_versions_are_pinned():
    (block,) = PARSED["versions.tf"]["terraform"]
    required = first(block["required_version"])
    assert required == "~> 1.10"
    tofu = tools.tool_versions()["TOFU_VERSION"].lstrip("v").split(".")
    assert tofu[0] == "1" and int(tofu[1]) >= 10, "TOFU_VERSION does not satisfy %s" % required
    (providers,) = block["required_providers"]
    aws = first(providers["aws"])
    assert aws["source"] == "hashicorp/aws"
    assert re.fullmatch(r"\d+\.\d+\.\d+", aws["version"]), "pin one exact provider version, not %r" % aws["version"]


def test_no_credentials_in_code():
    (provider,) = [p["aws"] for p in PARSED["providers.tf"]["provider"]]
    for key in ("access_key", "secret_key", "token", "profile", "shared_credentials_files", "assume_role"):
        assert key not in provider
    for path in list(INFRA.rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", text), path
            assert not re.search(r"(?i)aws_secret_access_key\s*=", text), path


def test_local_state_by_default_and_s3_backend_on_request():
    for tree in PARSED.values():
        for block in tree.get("terraform", []):
            assert "backend" not in block and "cloud" not in block
    example = hcl2.loads((INFRA / "s3-backend.tf.example").read_text())
    (block,) = example["terraform"]
    (backend,) = block["backend"]
    assert list(backend) == ["s3"]
    assert not {k: v for k, v in backend["s3"].items() if not k.startswith("__")}, \
        "settings belong in the .tfbackend file"
    settings = hcl2.loads((INFRA / "s3.tfbackend.example").read_text())
    assert first(settings["use_lockfile"]) is True
    assert first(settings["encrypt"]) is True
    assert "dynamodb_table" not in settings
    assert {"bucket", "key", "region"} <= set(settings)
    ignored = (INFRA / ".gitignore").read_text().split()
    for name in ("*.tfstate", ".terraform/", "terraform.tfvars", "s3.tfbackend"):
        assert name in ignored
