"""The EC2 boot script: infra/aws/templates/user_data.sh.tftpl, rendered by the
real tofu exactly as `tofu apply` of infra/aws renders it (user_data.tf and
variables.tf, provider-free; see python/stackkit/infra.py), with sample values.

The rendered script must be shellcheck-clean, and it is run here, function by
function, against stand-ins for git, apt-get, dpkg, docker, systemctl and
boto3 that record what they are asked to do, with its three directories moved
under a scratch root. That proves the commands it would run on a fresh host
and on a reboot (nothing installed or cloned twice), what it writes (.env, the
secret files and their modes) and that every secret comes from SSM by the
parameter names given. What needs a real host (the Docker apt repository,
swap, the lock) is checked in the text.
"""

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from stackkit import infra, tools

SAMPLE = infra.SAMPLE_VARS
SECRETS = SAMPLE["secret_parameters"]
TEMPLATE = Path(infra.TEMPLATE)

# Constants of the script that the harness moves under its scratch root.
RELOCATED = {
    "checkout": "/opt/pokedex-stack",
    "secrets_dir": "/etc/pokedex-stack/secrets",
    "self": "/usr/local/sbin/pokedex-stack-up",
    "unit_file": "/etc/systemd/system/pokedex-stack.service",
}

# Stand-ins, as shell functions (they shadow the commands), logging each call
# to $LOG; their answers are steered by environment variables.
STUBS = r'''
git() {
  echo "git $*" >> "$LOG"
  if [ "$1" = init ]; then mkdir -p "$3/.git"; return 0; fi
  case "$3 $4" in
    "fetch -q") return "${GIT_FETCH_RC:-0}" ;;
    "rev-parse -q") return "${GIT_HAS_HEAD_RC:-0}" ;;
    "rev-parse HEAD") echo 0123456789abcdef0123456789abcdef01234567 ;;
  esac
}
dpkg() {
  case " ${INSTALLED:-} " in *" $2 "*) return 0 ;; *) return 1 ;; esac
}
apt-get() { echo "apt-get $*" >> "$LOG"; }
curl() {
  echo "curl $*" >> "$LOG"
  [ -n "${IMDS_PUBLIC_IPV4:-}" ] || return 22
  case "$*" in
    *latest/api/token*) echo token-123 ;;
    *"X-aws-ec2-metadata-token: token-123"*latest/meta-data/public-ipv4*) echo "$IMDS_PUBLIC_IPV4" ;;
    *) return 22 ;;
  esac
}
docker() {
  echo "docker $* (in $PWD)" >> "$LOG"
  [ "$1 $2" != "compose version" ] || return "${DOCKER_COMPOSE_RC:-0}"
}
systemctl() {
  echo "systemctl $*" >> "$LOG"
  [ "$1" != is-enabled ] || return "${UNIT_ENABLED_RC:-1}"
}
sleep() { :; }
'''


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("user-data")
    text = infra.ProviderFree(workdir).rendered_user_data(SAMPLE)
    (workdir / "user_data.sh").write_text(text)
    return text


@pytest.fixture(scope="module")
def rendered_path(rendered, tmp_path_factory):
    path = tmp_path_factory.mktemp("user-data-file") / "user_data.sh"
    path.write_text(rendered)
    return path


class Host:
    """The rendered script, sourced with its directories under `root` and the
    stand-ins above; run(FUNCTION) calls one of its functions."""

    def __init__(self, rendered, root):
        self.root = Path(root)
        self.log = self.root / "commands.log"
        text = rendered
        for name, path in RELOCATED.items():
            line = "readonly %s=%s\n" % (name, path)
            assert text.count(line) == 1, "the script no longer sets %s=%s" % (name, path)
            text = text.replace(line, 'readonly %s="$TEST_ROOT%s"\n' % (name, path))
        assert text.endswith('\nmain "$@"\n')
        text = text[: -len('main "$@"\n')]
        self.script = self.root / "sourced.sh"
        self.script.write_text(text)
        self.stubs = self.root / "stubs.sh"
        self.stubs.write_text(STUBS)

    def path(self, absolute):
        return self.root / absolute.lstrip("/")

    def run(self, *command, env=None, after_source=""):
        # A file, not bash -c: the script copies "$0" into place as itself.
        driver = self.root / "driver.sh"
        driver.write_text('source "$STUBS"\nsource "$SCRIPT"\n%s\n"$@"\n' % after_source)
        environment = {**os.environ, "TEST_ROOT": str(self.root), "LOG": str(self.log),
                       "STUBS": str(self.stubs), "SCRIPT": str(self.script), **(env or {})}
        return subprocess.run(["bash", str(driver), *command], cwd=self.root,
                              env=environment, capture_output=True, text=True, timeout=60)

    def commands(self):
        return self.log.read_text().splitlines() if self.log.exists() else []

    def clear(self):
        if self.log.exists():
            self.log.unlink()


@pytest.fixture
def host(rendered, tmp_path):
    return Host(rendered, tmp_path)


def fake_ssm(values=None):
    """A stand-in ssm_parameter: each name's value is 'secret-for:NAME' unless given."""
    cases = "".join("    %s) printf '%%s' %s ;;\n" % (name, shell_quote(value))
                    for name, value in (values or {}).items())
    return ('ssm_parameter() {\n  echo "ssm $1" >> "$LOG"\n  case $1 in\n%s'
            '    *) printf "secret-for:%%s" "$1" ;;\n  esac\n}' % cases)


def shell_quote(value):
    return "'" + value.replace("'", "'\\''") + "'"


# ------------------------------------------------------------- the rendering --

def test_rendered_is_the_template_with_the_values(rendered):
    """Nothing but the placeholders changed: no other interpolation slipped in."""
    values = {
        "repository_url": SAMPLE["repository_url"], "repository_ref": SAMPLE["repository_ref"],
        "aws_region": SAMPLE["aws_region"], "telegram_chat_id": SAMPLE["telegram_chat_id"],
        "swap_size_gib": str(SAMPLE["swap_size_gib"]),
        **{"parameter_" + key: name for key, name in SECRETS.items()},
    }
    template = TEMPLATE.read_text()
    assert set(re.findall(r"\$\{(\w+)\}", template)) == set(values)
    assert "%{" not in template
    assert rendered == re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


def test_templatefile_gets_names_and_settings_only():
    text = (Path(infra.INFRA) / "user_data.tf").read_text()
    keys = re.findall(r"^ {4}(\w+)\s+=", text, re.M)
    assert set(keys) == {"repository_url", "repository_ref", "aws_region", "telegram_chat_id", "swap_size_gib",
                         "parameter_grafana_admin_password", "parameter_telegram_bot_token",
                         "parameter_db_root_password", "parameter_db_app_password",
                         "parameter_db_monitor_password"}
    for line in text.splitlines():
        if "parameter_" in line and "=" in line:
            assert "var.secret_parameters." in line, line


def test_fits_in_ec2_user_data(rendered):
    assert len(rendered.encode()) < 16 * 1024


def test_shellcheck_clean(rendered_path):
    shellcheck = tools.binary("shellcheck")
    for path in (rendered_path, TEMPLATE):
        result = subprocess.run([shellcheck, "--shell=bash", "--severity=style", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, "%s:\n%s" % (path, result.stdout)
    assert subprocess.run(["bash", "-n", str(rendered_path)]).returncode == 0


def test_values_reach_the_shell_unchanged(host):
    names = ["repository_url", "repository_ref", "aws_region", "telegram_chat_id", "swap_size_gib",
             "parameter_grafana_admin_password", "parameter_telegram_bot_token",
             "parameter_db_root_password", "parameter_db_app_password", "parameter_db_monitor_password"]
    show = "show() { printf '%%s\\n' %s; }" % " ".join('"$%s"' % n for n in names)
    result = host.run("show", after_source=show)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        SAMPLE["repository_url"], SAMPLE["repository_ref"], SAMPLE["aws_region"],
        SAMPLE["telegram_chat_id"], str(SAMPLE["swap_size_gib"]),
        SECRETS["grafana_admin_password"], SECRETS["telegram_bot_token"],
        SECRETS["db_root_password"], SECRETS["db_app_password"], SECRETS["db_monitor_password"]]
    assert host.commands() == []  # sourcing it runs nothing


# ---------------------------------------------------------------- packages --

def test_installs_only_missing_packages(host):
    result = host.run("install_packages", "git", "python3-boto3", env={"INSTALLED": "git"})
    assert result.returncode == 0, result.stderr
    assert host.commands() == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends python3-boto3",
    ]
    host.clear()
    assert host.run("install_packages", "git", "python3-boto3",
                    env={"INSTALLED": "git python3-boto3"}).returncode == 0
    assert host.commands() == []


def test_installs_docker_engine_and_the_compose_plugin_from_docker(rendered):
    body = function_body(rendered, "install_docker")
    assert "install_packages docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin" in body
    assert "https://download.docker.com/linux/debian/gpg" in body
    assert "URIs: https://download.docker.com/linux/debian" in body
    assert "Signed-By: /etc/apt/keyrings/docker.asc" in body
    # The key is trusted only after its fingerprint matched Docker's.
    assert body.index("--show-keys") < body.index("mv -f /etc/apt/keyrings/docker.asc.new")
    assert "docker_key_fingerprint=9DC858229FC7DD38854AE2D88D81803C0EBFCD88" in rendered
    assert "systemctl enable --now docker.service" in body


def test_docker_is_not_installed_again(host):
    result = host.run("install_docker", env={"DOCKER_COMPOSE_RC": "0"})
    assert result.returncode == 0, result.stderr
    assert [c.split(" (in ")[0] for c in host.commands()] == ["docker compose version"]


def test_swap_is_created_once(rendered):
    body = function_body(rendered, "setup_swap")
    assert '[ ! -f /swapfile ]' in body and 'fallocate -l "$swap_size_gib"G /swapfile' in body
    assert "grep -x /swapfile >/dev/null || swapon /swapfile" in body
    assert "grep -q '^/swapfile ' /etc/fstab ||" in body


# -------------------------------------------------------------- repository --

def test_clones_the_repository_at_the_ref_then_only_fetches(host):
    checkout = host.path(RELOCATED["checkout"])
    url, ref = SAMPLE["repository_url"], SAMPLE["repository_ref"]
    assert host.run("checkout_repository").returncode == 0
    assert host.commands() == [
        "git init -q %s" % checkout,
        "git -C %s remote add origin %s" % (checkout, url),
        "git -C %s remote set-url origin %s" % (checkout, url),
        "git -C %s fetch -q --depth 1 origin %s" % (checkout, ref),
        "git -C %s checkout -q --force --detach FETCH_HEAD" % checkout,
        "git -C %s rev-parse HEAD" % checkout,
    ]
    host.clear()
    assert host.run("checkout_repository").returncode == 0  # a reboot
    assert not [c for c in host.commands() if " init " in c or "remote add" in c]
    assert "git -C %s fetch -q --depth 1 origin %s" % (checkout, ref) in host.commands()


def test_a_failed_fetch_keeps_the_checkout_or_stops_a_fresh_host(host):
    assert host.run("checkout_repository").returncode == 0
    result = host.run("checkout_repository", env={"GIT_FETCH_RC": "1"})
    assert result.returncode == 0 and "warning: cannot fetch" in result.stdout
    assert not [c for c in host.commands()[-3:] if "checkout -q" in c]
    result = host.run("checkout_repository", env={"GIT_FETCH_RC": "1", "GIT_HAS_HEAD_RC": "1"})
    assert result.returncode != 0 and "cannot fetch %s" % SAMPLE["repository_ref"] in result.stderr


# ----------------------------------------------------------------- secrets --

SECRET_FILES = {"db_root_password": "db_root_password", "db_app_password": "db_app_password",
                "db_monitor_password": "db_monitor_password", "grafana_admin_password": "grafana_admin_password",
                "telegram_bot_token": "telegram_bot_token"}
MEMORY = 'memory_mib() { echo "${MEMORY_MIB:-4096}"; }'


def test_reads_each_secret_from_ssm_by_name_into_files(host):
    checkout = host.path(RELOCATED["checkout"])
    secrets = host.path(RELOCATED["secrets_dir"])
    checkout.mkdir(parents=True)
    env = {"IMDS_PUBLIC_IPV4": "198.51.100.20"}
    for _boot in ("first", "after a reboot"):  # the same files both times
        result = host.run("write_secrets_and_env", env=env, after_source=fake_ssm() + "\n" + MEMORY)
        assert result.returncode == 0, result.stderr
        assert sorted(c for c in host.commands() if c.startswith("ssm ")) == sorted(
            "ssm " + name for name in SECRETS.values())
        host.clear()
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
        for key, filename in SECRET_FILES.items():
            path = secrets / filename
            assert path.read_text() == "secret-for:" + SECRETS[key]
            assert stat.S_IMODE(path.stat().st_mode) == 0o644
        assert sorted(p.name for p in secrets.iterdir()) == sorted(SECRET_FILES.values())
        env_file = checkout / ".env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        lines = [line for line in env_file.read_text().splitlines() if not line.startswith("#")]
        assert lines == [
            "DB_ROOT_PASSWORD_FILE=%s/db_root_password" % secrets,
            "DB_APP_PASSWORD_FILE=%s/db_app_password" % secrets,
            "DB_MONITOR_PASSWORD_FILE=%s/db_monitor_password" % secrets,
            "GRAFANA_ADMIN_PASSWORD_FILE=%s/grafana_admin_password" % secrets,
            "TELEGRAM_BOT_TOKEN_FILE=%s/telegram_bot_token" % secrets,
            "TELEGRAM_CHAT_ID=" + SAMPLE["telegram_chat_id"],
            "PROMETHEUS_EXTERNAL_URL=http://198.51.100.20:9090",
        ]
        assert sorted(p.name for p in checkout.iterdir()) == [".env"]
        # Every variable written is one compose.yaml reads.
        compose = (Path(infra.REPO) / "compose.yaml").read_text()
        for line in lines:
            assert "${%s" % line.split("=", 1)[0] in compose, line


def test_without_a_telegram_chat_no_token_is_read(rendered, tmp_path):
    host = Host(rendered.replace("telegram_chat_id='%s'" % SAMPLE["telegram_chat_id"], "telegram_chat_id=''"),
                tmp_path)
    checkout = host.path(RELOCATED["checkout"])
    checkout.mkdir(parents=True)
    stale = host.path(RELOCATED["secrets_dir"]) / "telegram_bot_token"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    result = host.run("write_secrets_and_env", after_source=fake_ssm() + "\n" + MEMORY)
    assert result.returncode == 0, result.stderr
    assert "ssm " + SECRETS["telegram_bot_token"] not in host.commands()
    assert not stale.exists()
    text = (checkout / ".env").read_text()
    assert "TELEGRAM" not in text
    # Nor a public address when the metadata service has none.
    assert "PROMETHEUS_EXTERNAL_URL" not in text


def test_a_small_host_builds_with_one_compiler(host):
    host.path(RELOCATED["checkout"]).mkdir(parents=True)
    for memory, expected in (("1952", True), ("3903", False)):
        result = host.run("write_secrets_and_env", env={"MEMORY_MIB": memory},
                          after_source=fake_ssm() + "\n" + MEMORY)
        assert result.returncode == 0, result.stderr
        text = (host.path(RELOCATED["checkout"]) / ".env").read_text()
        assert ("CMAKE_BUILD_PARALLEL_LEVEL=1" in text) == expected, memory
    result = host.run("memory_mib")
    with open("/proc/meminfo") as f:
        total_kib = int(f.readline().split()[1])
    assert result.stdout.strip() == str(total_kib // 1024)


def test_an_empty_secret_is_refused(host):
    host.path(RELOCATED["checkout"]).mkdir(parents=True)
    result = host.run("write_secrets_and_env", after_source=fake_ssm({SECRETS["db_app_password"]: ""}))
    assert result.returncode != 0 and SECRETS["db_app_password"] + " is empty" in result.stderr
    assert not (host.path(RELOCATED["checkout"]) / ".env").exists()


FAKE_BOTO3 = '''
import json, os
class _Client:
    def __init__(self, service, region_name):
        self.service, self.region = service, region_name
    def get_parameter(self, **kwargs):
        with open(os.environ["BOTO3_CALLS"], "a") as f:
            f.write(json.dumps({"service": self.service, "region": self.region, **kwargs}) + "\\n")
        if os.environ.get("BOTO3_FAIL"):
            raise RuntimeError("AccessDeniedException")
        return {"Parameter": {"Name": kwargs["Name"], "Value": "value of " + kwargs["Name"]}}
def client(service, region_name=None):
    return _Client(service, region_name)
'''


def test_ssm_parameter_decrypts_with_boto3_in_the_region(host, tmp_path):
    (tmp_path / "fakeboto").mkdir()
    (tmp_path / "fakeboto" / "boto3.py").write_text(FAKE_BOTO3)
    calls = tmp_path / "calls.jsonl"
    env = {"PYTHONPATH": str(tmp_path / "fakeboto"), "BOTO3_CALLS": str(calls)}
    name = SECRETS["db_root_password"]
    result = host.run("ssm_parameter", name, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "value of " + name  # no newline added
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [
        {"service": "ssm", "region": SAMPLE["aws_region"], "Name": name, "WithDecryption": True}]
    calls.unlink()
    result = host.run("ssm_parameter", name, env={**env, "BOTO3_FAIL": "1"})
    assert result.returncode != 0 and "cannot read the SSM parameter %s" % name in result.stderr
    assert len(calls.read_text().splitlines()) == 10  # retried, then gave up


# --------------------------------------------------- boot unit and compose --

def test_boot_unit_runs_the_same_script_at_every_boot(host):
    unit_file = host.path(RELOCATED["unit_file"])
    unit_file.parent.mkdir(parents=True)
    host.path(RELOCATED["self"]).parent.mkdir(parents=True)
    assert host.run("install_boot_unit").returncode == 0
    assert host.commands() == ["systemctl daemon-reload", "systemctl is-enabled --quiet pokedex-stack.service",
                               "systemctl enable pokedex-stack.service"]
    installed = host.path(RELOCATED["self"])
    assert stat.S_IMODE(installed.stat().st_mode) == 0o700
    assert installed.read_text() == (host.root / "driver.sh").read_text()  # a copy of "$0"
    unit = unit_file.read_text()
    assert "ExecStart=%s\n" % installed in unit
    assert "Requires=docker.service" in unit and "After=network-online.target docker.service" in unit
    assert "Type=oneshot" in unit and "WantedBy=multi-user.target" in unit
    host.clear()
    assert host.run("install_boot_unit", env={"UNIT_ENABLED_RC": "0"}).returncode == 0
    assert host.commands() == ["systemctl is-enabled --quiet pokedex-stack.service"]


def test_starts_the_stack_with_compose_in_the_checkout(host):
    checkout = host.path(RELOCATED["checkout"])
    checkout.mkdir(parents=True)
    assert host.run("start_stack").returncode == 0
    assert host.commands() == ["docker compose up -d --build (in %s)" % checkout]


def test_main_runs_each_step_once_under_a_lock(rendered):
    body = function_body(rendered, "main")
    steps = [line.strip() for line in body.splitlines()
             if line.strip() and not line.strip().startswith("#")]
    assert steps == ["exec 9>/run/pokedex-stack.lock", "flock 9", "install_packages git python3-boto3",
                     "setup_swap", "install_docker", "checkout_repository", "write_secrets_and_env",
                     "install_boot_unit", "start_stack"]
    assert rendered.rstrip().endswith('main "$@"')
    assert "set -euo pipefail" in rendered.splitlines()[:20]


def function_body(script, name):
    match = re.search(r"^%s\(\) \{.*?\n(.*?)^\}" % re.escape(name), script, re.S | re.M)
    assert match, "no function %s" % name
    return match.group(1)
