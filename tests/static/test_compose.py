"""Static checks of the container setup: compose.yaml, services/Dockerfile,
.dockerignore, .env.example, the secrets placeholders, the MariaDB init
scripts, deploy/mysqld-exporter/run.sh and docs/compose.md.

No Docker engine is needed: the files are parsed and their properties asserted,
so a change that would break `docker compose up -d --build` from a clean clone,
weaken the hardening, or let compose drift from what the tests run natively,
fails here first.

* compose.yaml is valid against the Compose Specification's JSON schema
  (vendored in tests/static/compose-spec/), after interpolating every
  ${VAR:-default} as a clean clone without .env would.
* Every service has a pinned image, a healthcheck, a restart policy, rotated
  logs and a memory limit; the limits add up to no more than the budget
  docs/compose.md documents, and match its table.
* The images Prometheus, Alertmanager, node-exporter, mysqld-exporter and
  Jaeger run are the releases scripts/tool-versions pins, and the binaries
  the tests run report the same releases: the builds scripts/install-tools
  makes (prometheus, promtool, alertmanager, amtool, node_exporter), the
  installed Debian package (mysqld-exporter).
* Prometheus scrapes exactly the compose services that serve metrics, each on
  a port that service listens on; the published ports are the issue's.
* Every secret is file-backed with a committed placeholder (empty where empty
  means "not configured"), no password or token passes through the
  environment, .env.example documents every variable.
* services/Dockerfile builds every image compose builds: multi-stage on the
  pinned bookworm-slim, packages from scripts/bootstrap, non-root USER,
  HEALTHCHECK matching compose's.
"""

import fnmatch
import hashlib
import http.server
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import jsonschema
import pytest
import yaml

from stackkit import compose, otelcol, tools
from stackkit import prometheus as prometheus_fixture
from stackkit.compose import (
    bind_mounts,
    command_list,
    flag_value,
    interpolation_default,
    named_volumes,
    published_ports,
)
from stackkit.compose import environment as env_dict
from stackkit.processes import free_port as processes_free_port
from stackkit.tools import tool_versions

REPO = Path(__file__).resolve().parents[2]

COMPOSE_FILE = REPO / "compose.yaml"
COMPOSE_SCHEMA = REPO / "tests" / "static" / "compose-spec" / "compose-spec.json"
COMPOSE_SCHEMA_README = COMPOSE_SCHEMA.parent / "README.md"
DOCKERFILE = REPO / "services" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / ".env.example"
COMPOSE_DOC = REPO / "docs" / "compose.md"
MARIADB_DIR = REPO / "deploy" / "mariadb"
APP_USER_SCRIPT = MARIADB_DIR / "03-app-user.sh"
MONITOR_USER_SCRIPT = MARIADB_DIR / "04-monitor-user.sh"
ACCOUNT_LIB = MARIADB_DIR / "account-lib.bash"
EXPORTER_RUN = REPO / "deploy" / "mysqld-exporter" / "run.sh"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
JAEGER_CONFIG = REPO / "deploy" / "jaeger" / "config.yaml"
OTELCOL_CONFIG = REPO / "deploy" / "otelcol" / "config.yaml"
ALERTMANAGER_DIR = REPO / "deploy" / "alertmanager"
BOOTSTRAP = REPO / "scripts" / "bootstrap"

# An image reference is pinned when it carries a digest, or a tag naming an exact
# release: a three-part version (11.4.9, v3.1.0) or a dated build (bookworm-20260202-slim).
PINNED_TAG = re.compile(r"\d+\.\d+\.\d+|(?<!\d)20\d{6}(?!\d)")

# The services of the stack and the host ports the issue lists for them.
EXPECTED_SERVICES = {
    "db", "apimon", "api-prometheus", "pokeload", "pokeload-apimon", "prometheus", "alertmanager",
    "grafana", "jaeger", "otel-collector", "cadvisor", "node-exporter", "mysqld-exporter",
}
PUBLISHED = {
    "apimon": 5000, "api-prometheus": 8689, "grafana": 3000, "prometheus": 9090,
    "jaeger": 16686, "cadvisor": 8080, "alertmanager": 9093,
}
# Services Prometheus does not scrape, and why.
NOT_SCRAPED = {
    "db": "MariaDB is watched through mysqld-exporter",
    "grafana": "a user interface, not a signal of the stack under study",
}

# Images whose releases the tests and the native stack run: compose image ->
# (the scripts/tool-versions key of the release, how the tag spells it, and
# what runs it outside Docker: the binaries scripts/install-tools builds into
# the tool cache, or a Debian package with its scripts/tool-versions key).
NATIVE_IMAGES = {
    "prom/prometheus": ("PROMETHEUS_VERSION", "v{}", ("prometheus", "promtool"), None),
    "prom/alertmanager": ("ALERTMANAGER_VERSION", "v{}", ("alertmanager", "amtool"), None),
    "prom/node-exporter": ("NODE_EXPORTER_VERSION", "v{}", ("node_exporter",), None),
    "prom/mysqld-exporter": ("MYSQLD_EXPORTER_VERSION", "v{}", (),
                             ("prometheus-mysqld-exporter", "MYSQLD_EXPORTER_DEB_VERSION")),
}

# Secrets whose committed default is an empty file, meaning "not configured".
EMPTY_BY_DEFAULT = {"telegram_bot_token", "fault_admin_token", "otlp_vendor_key"}

# The memory the stack may take on a 1 GiB host; docs/compose.md must not
# document more, and the limits must add up to no more than it documents.
MAX_BUDGET_MIB = 900
MIB = 1 << 20

# Third-party host paths a service may bind-mount (read-only), by service.
HOST_MOUNTS = {
    "node-exporter": {"/"},
    "cadvisor": {"/", "/var/run", "/sys", "/var/lib/docker/", "/dev/disk/"},
}


# ---------------------------------------------------------------- helpers ----

def load_compose():
    with open(COMPOSE_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


COMPOSE = load_compose()
SERVICES = COMPOSE.get("services") or {}
BUILT = {name: s for name, s in SERVICES.items() if "build" in s}


def split_image(ref):
    """(name, tag, digest) of an image reference; tag/digest are None when absent."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    last = ref.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        tag = last.rsplit(":", 1)[1]
        ref = ref[: -(len(tag) + 1)]
    return ref, tag, digest


def assert_pinned(ref, where):
    name, tag, digest = split_image(ref)
    assert name, "%s: empty image name in %r" % (where, ref)
    if digest:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), "%s: malformed digest in %r" % (where, ref)
        return
    assert tag, "%s: image %r has no tag (means :latest)" % (where, ref)
    assert tag != "latest", "%s: image %r uses :latest" % (where, ref)
    assert PINNED_TAG.search(tag), (
        "%s: tag of %r names no exact release (want x.y.z, a dated tag or a digest)" % (where, ref))


def interpolated(node):
    """The whole document as Compose sees it without .env: defaults filled in, $$ unescaped."""
    if isinstance(node, dict):
        return {k: interpolated(v) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolated(v) for v in node]
    if isinstance(node, str):
        parts = node.split("$$")
        return "$".join(interpolation_default(p) for p in parts)
    return node


def parse_size(value):
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)(i?[bB])?\s*", str(value))
    assert m, "unparseable size %r" % value
    factor = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    return int(float(m.group(1)) * factor)


def walk_strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from walk_strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_strings(v)
    elif isinstance(node, str):
        yield node


def compose_variables():
    names = set()
    for s in walk_strings(COMPOSE):
        s = s.replace("$$", "")  # an escaped dollar is not interpolated
        names.update(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", s))
        names.update(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", s))
    return names


def secret_names(service):
    return {(s if isinstance(s, str) else s["source"]) for s in service.get("secrets") or []}


def secret_target(service, name):
    for s in service.get("secrets") or []:
        if isinstance(s, str) and s == name:
            return "/run/secrets/" + name
        if isinstance(s, dict) and s.get("source") == name:
            target = s.get("target", name)
            return target if target.startswith("/") else "/run/secrets/" + target
    return None


def host_path(service, container_path):
    """The repository path a container path of the service comes from (None when not mounted)."""
    found = compose.host_path(service, container_path)
    return Path(found) if found else None


def memory_limit(service):
    limit = service.get("mem_limit") or \
        (((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("memory")
    return parse_size(limit) if limit else None


def listening_ports(name):
    """Ports a service demonstrably listens on: what compose says (see
    stackkit.compose.listening_ports) and the EXPOSE of its Dockerfile target."""
    ports = compose.listening_ports(SERVICES[name])
    if name in BUILT:
        ports.update(int(p) for p in " ".join(stage_args(TARGETS[BUILT[name]["build"]["target"]], "EXPOSE")).split())
    return ports


def documented_variables():
    return set(re.findall(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"),
                          re.MULTILINE))


# ------------------------------------------------------------- Dockerfile ----

def read_dockerfile(path=DOCKERFILE):
    """Stages of a Dockerfile as lists of (INSTRUCTION, arguments); instructions
    before the first FROM (global ARGs) are returned apart."""
    lines = path.read_text(encoding="utf-8").splitlines()
    instructions, current = [], ""
    for line in lines:
        if re.match(r"\s*#", line) or (not current and not line.strip()):
            continue  # comments, also inside a continued instruction
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            keyword, _, rest = current.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
        current = ""
    assert not current.strip(), "Dockerfile ends inside a continued instruction"
    preamble, stages = [], []
    for keyword, rest in instructions:
        if keyword == "FROM":
            stages.append([])
        if not stages:
            assert keyword == "ARG", "instruction %s before the first FROM" % keyword
            preamble.append((keyword, rest))
            continue
        stages[-1].append((keyword, rest))
    return preamble, stages


def stage_args(stage, keyword):
    return [rest for k, rest in stage if k == keyword]


def from_image(stage):
    words = stage[0][1].split()
    words = [w for w in words if not w.startswith("--")]
    return words[0], (words[2] if len(words) >= 3 and words[1].upper() == "AS" else None)


PREAMBLE, STAGES = read_dockerfile()
NAMED_STAGES = {from_image(stage)[1]: stage for stage in STAGES if from_image(stage)[1]}
BUILD_STAGE = NAMED_STAGES.get("build")
RUNTIME_STAGE = NAMED_STAGES.get("runtime")
# The image targets: stages built on the runtime stage, by name.
TARGETS = {name: stage for name, stage in NAMED_STAGES.items() if from_image(stage)[0] == "runtime"}


def cmake_project_version():
    text = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    m = re.search(r"project\([^)]*VERSION\s+([0-9][0-9.]*)", text)
    assert m, "CMakeLists.txt declares no project VERSION"
    return m.group(1)


def dockerignore_patterns():
    patterns = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line)
    return patterns


def ignored_by_dockerignore(path):
    """Simplified .dockerignore matching (last matching pattern wins, ! re-includes)."""
    ignored = False
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        p = pattern[1:] if negate else pattern
        p = p.strip("/")
        candidates = [p]
        while candidates[-1].startswith("**/"):
            candidates.append(candidates[-1][3:])
        if any(fnmatch.fnmatchcase(prefix, c) for prefix in prefixes for c in candidates):
            ignored = not negate
    return ignored


HTTP_PROBE = REPO / "services" / "http-probe"


def image_healthcheck(stage):
    """(port variable, default port, path) of a target's HEALTHCHECK, which must
    run http-probe in the shell form with the port from the program's variable."""
    checks = stage_args(stage, "HEALTHCHECK")
    assert checks, "no HEALTHCHECK"
    check = checks[-1]
    for option in ("--interval=", "--timeout=", "--retries="):
        assert option in check, "HEALTHCHECK sets no %s" % option
    m = re.search(r'\bCMD http-probe "\$\{([A-Z_]+):-(\d+)\}" (/\S*)$', check)
    assert m, "HEALTHCHECK must be: CMD http-probe \"${PORT_VARIABLE:-PORT}\" /PATH, not %r" % check
    return m.group(1), int(m.group(2)), m.group(3)


# ---------------------------------------------------------------- compose ----

def test_compose_validates_against_the_compose_specification_schema():
    digest = hashlib.sha256(COMPOSE_SCHEMA.read_bytes()).hexdigest()
    assert digest in COMPOSE_SCHEMA_README.read_text(encoding="utf-8"), \
        "the vendored schema changed but its README does not record the new checksum"
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(interpolated(COMPOSE)), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message[:300])
                                 for e in errors[:10])


def test_the_schema_rejects_what_compose_rejects():
    # The validation above must be able to fail: the vendored schema really is
    # the Compose Specification's, strict about unknown keys and types.
    validator = jsonschema.Draft202012Validator(json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8")))
    broken = interpolated(COMPOSE)
    broken["services"]["apimon"]["restart_policy"] = "always"
    broken["services"]["db"]["healthcheck"]["retries"] = ["5"]
    messages = [e.message for e in validator.iter_errors(broken)]
    assert any("restart_policy" in m for m in messages), messages
    assert any("'5'" in m for m in messages), messages


def test_compose_defines_the_stack():
    assert "version" not in COMPOSE, "the Compose Specification has no top-level version key"
    assert COMPOSE.get("name") == "pokedex-stack", \
        "the dashboards select containers by the project name (pokedex-stack-<service>-N)"
    assert set(SERVICES) == EXPECTED_SERVICES, "services %s" % sorted(set(SERVICES) ^ EXPECTED_SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_image_is_pinned(name):
    service = SERVICES[name]
    assert "image" in service, "%s: no image (a built service names its image too)" % name
    assert_pinned(interpolation_default(service["image"]), "service " + name)


def image_versions():
    """{image name: tag} of the third-party images."""
    return {split_image(s["image"])[0]: split_image(s["image"])[1] for s in SERVICES.values() if "build" not in s}


def release_disagreements(image, tags, versions):
    """Where compose's tag of `image`, its scripts/tool-versions pin and what
    the tests run disagree: a list of sentences, empty when all agree. tags:
    {image: tag} of compose.yaml; versions: the scripts/tool-versions pairs.
    A built binary's release is what its --version reports; a Debian
    package's is the installed package version."""
    version_key, tag_format, binaries, deb = NATIVE_IMAGES[image]
    if image not in tags:
        return ["compose.yaml does not run %s" % image]
    if version_key not in versions:
        return ["scripts/tool-versions pins no %s" % version_key]
    release = versions[version_key]
    problems = []
    if tags[image] != tag_format.format(release):
        problems.append("%s:%s, but scripts/tool-versions pins %s=%s" % (image, tags[image], version_key, release))
    for name in binaries:
        try:
            built = prometheus_fixture.version(prometheus_fixture.cached_binary(name))
        except prometheus_fixture.FixtureError as error:
            problems.append(str(error))
            continue
        if built != release:
            problems.append("the built %s reports %s; scripts/tool-versions pins %s=%s (run scripts/install-tools)"
                            % (name, built, version_key, release))
    if deb:
        package, deb_key = deb
        deb_version = versions.get(deb_key)
        if deb_version is None:
            return problems + ["scripts/tool-versions pins no %s" % deb_key]
        upstream = re.sub(r"^\d+:", "", deb_version).split("-")[0].split("+")[0]
        if upstream != release:
            problems.append("%s=%s is not release %s" % (deb_key, deb_version, release))
        if not re.search(r"(^|\s)%s(\s|$)" % re.escape(package), BOOTSTRAP.read_text(encoding="utf-8")):
            problems.append("scripts/bootstrap does not install %s" % package)
        dpkg = shutil.which("dpkg-query")
        installed = None
        if dpkg:
            result = subprocess.run([dpkg, "-W", "-f=${Version}", package], capture_output=True, text=True)
            installed = result.stdout.strip() if result.returncode == 0 else None
        if not installed:
            problems.append("Debian package %s is not installed (scripts/bootstrap installs it)" % package)
        elif installed != deb_version:
            problems.append("installed %s is %s; scripts/tool-versions says %s" % (package, installed, deb_version))
    return problems


@pytest.mark.parametrize("image", sorted(NATIVE_IMAGES))
def test_image_is_the_release_the_tests_run(image):
    problems = release_disagreements(image, image_versions(), tool_versions())
    assert not problems, "\n".join(problems)


def test_a_pin_a_tag_or_a_build_that_disagrees_is_caught(tmp_path, monkeypatch):
    # A stand-in promtool that reports another release than the pin.
    fake = tmp_path / "promtool"
    fake.write_text("#!/bin/sh\necho 'promtool, version 3.15.1 (branch: HEAD, revision: v0.315.1)'\n")
    fake.chmod(0o755)
    real_prometheus = tmp_path / "prometheus"
    real_prometheus.write_text("#!/bin/sh\necho 'prometheus, version 3.16.0 (branch: HEAD, revision: v0.316.0)'\n")
    real_prometheus.chmod(0o755)
    monkeypatch.setenv("PROMTOOL_BIN", str(fake))
    monkeypatch.setenv("PROMETHEUS_BIN", str(real_prometheus))
    pins = {"PROMETHEUS_VERSION": "3.16.0"}
    problems = release_disagreements("prom/prometheus", {"prom/prometheus": "v3.16.0"}, pins)
    assert problems == ["the built promtool reports 3.15.1; scripts/tool-versions pins PROMETHEUS_VERSION=3.16.0 "
                        "(run scripts/install-tools)"], problems
    # The tag, then the pin, out of step with the rest.
    fake.write_text(real_prometheus.read_text().replace("prometheus,", "promtool,"))
    assert release_disagreements("prom/prometheus", {"prom/prometheus": "v3.16.0"}, pins) == []
    assert release_disagreements("prom/prometheus", {"prom/prometheus": "v3.15.1"}, pins) == [
        "prom/prometheus:v3.15.1, but scripts/tool-versions pins PROMETHEUS_VERSION=3.16.0"]
    problems = release_disagreements("prom/prometheus", {"prom/prometheus": "v3.16.0"},
                                     {"PROMETHEUS_VERSION": "3.17.0"})
    assert len(problems) == 3 and all("3.17.0" in p for p in problems), problems
    # A build that is missing is a failure, never a skip.
    monkeypatch.delenv("PROMTOOL_BIN")
    monkeypatch.setenv("POKEDEX_CACHE_DIR", str(tmp_path / "empty-cache"))
    problems = release_disagreements("prom/prometheus", {"prom/prometheus": "v3.16.0"}, pins)
    assert len(problems) == 1 and "run scripts/install-tools" in problems[0], problems


def test_jaeger_image_is_the_release_the_tests_run():
    release = tool_versions()["JAEGER_RELEASE"]
    assert image_versions().get("jaegertracing/jaeger") == release.lstrip("v"), \
        "jaegertracing/jaeger:%s, but the tests run Jaeger %s" % (image_versions().get("jaegertracing/jaeger"),
                                                                  release)


def test_built_image_tag_follows_project_version():
    version = cmake_project_version()
    assert BUILT, "compose.yaml builds no service"
    for name, service in BUILT.items():
        image, tag, _ = split_image(service["image"])
        assert image.startswith("pokedex-stack/"), "%s: image %s is not named pokedex-stack/<name>" % (name, image)
        assert tag == version, "%s: image tag %s, CMake project version %s" % (name, tag, version)
        assert service.get("pull_policy") == "build", (
            "%s: pull_policy must be build so the image is never pulled from a registry" % name)
    # One image, one build: services sharing an image share its target.
    by_image = {}
    for service in BUILT.values():
        by_image.setdefault(service["image"], set()).add(service["build"]["target"])
    assert all(len(targets) == 1 for targets in by_image.values()), by_image


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_has_healthcheck(name):
    hc = SERVICES[name].get("healthcheck")
    assert hc, "%s: no healthcheck" % name
    assert not hc.get("disable"), "%s: healthcheck disabled" % name
    test = hc.get("test")
    assert test, "%s: healthcheck without a test" % name
    if isinstance(test, list):
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, "%s: bad healthcheck test %r" % (name, test)
    for key in ("interval", "timeout", "retries"):
        assert key in hc, "%s: healthcheck sets no %s" % (name, key)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_has_restart_policy(name):
    service = SERVICES[name]
    restart = service.get("restart")
    condition = ((service.get("deploy") or {}).get("restart_policy") or {}).get("condition")
    assert restart in ("always", "unless-stopped") or (restart or "").startswith("on-failure") \
        or condition in ("any", "on-failure"), "%s: no restart policy" % name


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_has_memory_limit(name):
    limit = memory_limit(SERVICES[name])
    assert limit, "%s: no memory limit (mem_limit or deploy.resources.limits.memory)" % name
    assert limit >= 16 * MIB, "%s: memory limit %d MiB is implausibly small" % (name, limit // MIB)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_logs_are_rotated(name):
    logging = SERVICES[name].get("logging")
    assert logging, "%s: no logging section (default json-file grows without bound)" % name
    options = logging.get("options") or {}
    assert logging.get("driver", "json-file") in ("json-file", "local"), "%s: unexpected log driver" % name
    assert options.get("max-size"), "%s: logging without max-size" % name
    parse_size(options["max-size"])
    assert int(options.get("max-file", 0)) >= 1, "%s: logging without max-file" % name


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_go_memory_limit_is_below_the_container_limit(name):
    value = env_dict(SERVICES[name]).get("GOMEMLIMIT")
    if value is None:
        return  # not a Go program, or one too old to read it
    m = re.fullmatch(r"(\d+)MiB", value)
    assert m, "%s: GOMEMLIMIT %r (write it in MiB)" % (name, value)
    assert int(m.group(1)) * MIB < memory_limit(SERVICES[name]), \
        "%s: GOMEMLIMIT %s is not below the container's limit" % (name, value)


def documented_memory():
    """({service: limit in MiB}, documented total, budget) of docs/compose.md's memory section."""
    text = COMPOSE_DOC.read_text(encoding="utf-8")
    m = re.search(r"^## Memory\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert m, "docs/compose.md has no '## Memory' section"
    section = m.group(1)
    budget = re.search(r"^Budget: \*\*(\d+) MiB\*\*", section, re.MULTILINE)
    assert budget, "docs/compose.md states no 'Budget: **N MiB**'"
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (\d+) MiB \|", section, re.MULTILINE))
    total = re.search(r"^\| \*\*total\*\* \| \*\*(\d+) MiB\*\* \|", section, re.MULTILINE)
    assert total, "the memory table has no total row"
    measured = re.search(r"^### Measured use", section, re.MULTILINE)
    assert measured, "docs/compose.md has no 'Measured use' section"
    return {k: int(v) for k, v in rows.items()}, int(total.group(1)), int(budget.group(1))


def test_memory_limits_fit_the_documented_budget():
    rows, total, budget = documented_memory()
    limits = {name: memory_limit(s) for name, s in SERVICES.items()}
    assert all(v % MIB == 0 for v in limits.values()), "write every limit in whole MiB (M)"
    limits = {name: v // MIB for name, v in limits.items()}
    assert rows == limits, "docs/compose.md's memory table disagrees with compose.yaml: %s" % sorted(
        set(rows.items()) ^ set(limits.items()))
    assert total == sum(limits.values()), "the table's total %d MiB is not the sum %d MiB" % (
        total, sum(limits.values()))
    assert sum(limits.values()) <= budget, "the limits add up to %d MiB, over the %d MiB budget" % (
        sum(limits.values()), budget)
    assert budget <= MAX_BUDGET_MIB, "a %d MiB budget does not leave a 1 GiB host room for itself" % budget


def cpu_limit(service):
    value = (((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("cpus")
    return float(value) if value is not None else None


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_has_a_cpu_limit_a_one_vcpu_host_can_give(name):
    """Without a CPU limit cAdvisor exports no CFS periods, so the throttling
    panel and ContainerCpuThrottled would have nothing to show."""
    limit = cpu_limit(SERVICES[name])
    assert limit is not None, "%s: no CPU limit (deploy.resources.limits.cpus)" % name
    assert 0.05 <= limit <= 0.5, "%s: a CPU limit of %s does not fit a 1 vCPU host beside the others" % (name, limit)


def test_cpu_limits_match_the_documented_table():
    text = COMPOSE_DOC.read_text(encoding="utf-8")
    m = re.search(r"^## CPU\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert m, "docs/compose.md has no '## CPU' section"
    rows = {k: float(v) for k, v in re.findall(r"^\| `([a-z-]+)` \| ([0-9.]+) \|", m.group(1), re.MULTILINE)}
    limits = {name: cpu_limit(s) for name, s in SERVICES.items()}
    assert rows == limits, "docs/compose.md's CPU table disagrees with compose.yaml: %s" % sorted(
        set(rows.items()) ^ set(limits.items()))


def test_the_throttling_alert_reads_what_cadvisor_exports_for_limited_containers():
    alerts = (REPO / "deploy" / "prometheus" / "rules" / "alerts.yml").read_text(encoding="utf-8")
    assert "container_cpu_cfs_throttled_periods_total" in alerts and "container_cpu_cfs_periods_total" in alerts


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_service_is_non_root_and_read_only(name):
    service = BUILT[name]
    user = str(service.get("user", ""))
    assert user, "%s: no user (the image's USER must not be the only guard)" % name
    uid = user.split(":")[0]
    assert uid not in ("", "0", "root"), "%s runs as root" % name
    assert service.get("read_only") is True, "%s: root filesystem not read_only" % name
    assert any(t.split(":")[0] == "/tmp" for t in service.get("tmpfs") or []), "%s: no /tmp tmpfs" % name
    assert "ALL" in (service.get("cap_drop") or []), "%s: capabilities not dropped" % name
    assert "no-new-privileges:true" in (service.get("security_opt") or []), name
    build = service["build"]
    assert (REPO / build.get("context", ".") / build["dockerfile"]).resolve() == DOCKERFILE, \
        "%s: not built from services/Dockerfile" % name
    assert build.get("target") in TARGETS, "%s: target %r is not an image stage of the Dockerfile" % (
        name, build.get("target"))


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_bind_mounts_exist_and_are_read_only(name):
    for source, target, read_only in bind_mounts(SERVICES[name]):
        source = interpolation_default(source)
        assert read_only, "%s: bind mount %s -> %s is writable" % (name, source, target)
        if source.startswith("/"):
            assert source in HOST_MOUNTS.get(name, set()), \
                "%s: host path %s is not one this service's documentation asks for" % (name, source)
            continue
        path = (REPO / source).resolve()
        assert path.is_relative_to(REPO), "%s: bind source %s lies outside the repository" % (name, source)
        assert path.exists(), "%s: bind source %s (-> %s) does not exist" % (name, source, target)


def test_named_volumes_are_declared_and_used():
    declared = set(COMPOSE.get("volumes") or {})
    used = {v for s in SERVICES.values() for v in named_volumes(s).values()}
    assert used == declared, "volumes used %s, declared %s" % (sorted(used), sorted(declared))
    for name, path in (("db", "/var/lib/mysql"), ("prometheus", "/prometheus"),
                       ("alertmanager", "/alertmanager"), ("grafana", "/var/lib/grafana")):
        assert path in named_volumes(SERVICES[name]), "%s: %s is not on a named volume" % (name, path)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_names_services_with_conditions(name):
    depends = SERVICES[name].get("depends_on") or {}
    assert isinstance(depends, dict), "%s: depends_on must give a condition for each service" % name
    for other, spec in depends.items():
        assert other in SERVICES, "%s depends on unknown service %s" % (name, other)
        condition = (spec or {}).get("condition")
        assert condition in ("service_started", "service_healthy"), "%s -> %s: condition %r" % (
            name, other, condition)
        if condition == "service_healthy":
            assert SERVICES[other].get("healthcheck"), "%s waits for %s to be healthy; it has no check" % (
                name, other)


def test_dependencies_follow_the_call_graph():
    healthy = {(name, other) for name, s in SERVICES.items() for other, spec in (s.get("depends_on") or {}).items()
               if spec.get("condition") == "service_healthy"}
    for edge in (("apimon", "db"), ("mysqld-exporter", "db"), ("api-prometheus", "apimon"),
                 ("pokeload", "api-prometheus"), ("pokeload-apimon", "apimon"), ("grafana", "prometheus")):
        assert edge in healthy, "%s must wait until %s is healthy" % edge
    for name in BUILT:
        assert "otel-collector" in (SERVICES[name].get("depends_on") or {}), \
            "%s exports traces to the otel-collector" % name
    assert "jaeger" in (SERVICES["otel-collector"].get("depends_on") or {}), "otel-collector exports to jaeger"


def test_published_ports_are_the_issues():
    for name, service in SERVICES.items():
        ports = published_ports(service)
        if name in PUBLISHED:
            assert ports == {PUBLISHED[name]: PUBLISHED[name]}, "%s publishes %s, not %d" % (
                name, ports, PUBLISHED[name])
        else:
            assert not ports, "%s publishes %s; it stays inside the network" % (name, ports)


def prometheus_targets():
    """{job: [(host, port)]} of deploy/prometheus/prometheus.yml."""
    with open(PROMETHEUS_CONFIG, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    jobs = {}
    for sc in config["scrape_configs"]:
        for static in sc["static_configs"]:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                jobs.setdefault(sc["job_name"], []).append((host, int(port)))
    alerting = [t for m in config["alerting"]["alertmanagers"] for sc in m["static_configs"] for t in sc["targets"]]
    return jobs, alerting


def test_prometheus_scrapes_compose_services_on_their_ports():
    jobs, alerting = prometheus_targets()
    scraped = set()
    for job, targets in jobs.items():
        for host, port in targets:
            assert host in SERVICES, "job %s scrapes %s, which is no compose service" % (job, host)
            assert port in listening_ports(host), "job %s scrapes %s:%d; %s listens on %s" % (
                job, host, port, host, sorted(listening_ports(host)))
            scraped.add(host)
    missing = set(SERVICES) - set(NOT_SCRAPED) - scraped
    assert not missing, "Prometheus scrapes no metrics of %s" % sorted(missing)
    assert not scraped & set(NOT_SCRAPED), sorted(scraped & set(NOT_SCRAPED))
    for target in alerting:
        host, port = target.rsplit(":", 1)
        assert host in SERVICES and int(port) in listening_ports(host), "alerts go to %s" % target


def test_prometheus_flags():
    prometheus = SERVICES["prometheus"]
    args = command_list(prometheus)
    # Every flag prometheus.yml documents at its top, as it documents it.
    header = PROMETHEUS_CONFIG.read_text(encoding="utf-8").split("\nglobal:", 1)[0]
    documented = re.findall(r"^#\s+(--[a-z.-]+(?:=\S+)?)", header, re.MULTILINE)
    assert len(documented) >= 3, documented
    for flag in documented:
        assert flag in args, "prometheus.yml documents %s; compose does not pass it" % flag
    assert flag_value(args, "--enable-feature") == "exemplar-storage"
    assert flag_value(args, "--storage.tsdb.retention.time") == "31d"
    assert "--web.enable-lifecycle" in args
    size = interpolation_default(flag_value(args, "--storage.tsdb.retention.size") or "")
    assert re.fullmatch(r"\d+(B|KB|MB|GB|TB)", size), "retention size %r" % size
    config = flag_value(args, "--config.file")
    assert host_path(prometheus, config) == PROMETHEUS_CONFIG.resolve(), \
        "--config.file=%s is not deploy/prometheus/prometheus.yml" % config
    assert flag_value(args, "--storage.tsdb.path") in named_volumes(prometheus)


def test_alertmanager_renders_its_config_from_the_mounted_template():
    am = SERVICES["alertmanager"]
    entrypoint = command_list(am, "entrypoint")
    script = next(a for a in entrypoint if a.endswith("render-config.sh"))
    assert entrypoint[0] in ("/bin/sh", "sh") and entrypoint[-1].endswith("alertmanager"), entrypoint
    assert host_path(am, script) == (ALERTMANAGER_DIR / "render-config.sh").resolve(), script
    # The script finds the template and templates/ next to itself.
    for needed in ("alertmanager.yml", "templates"):
        found = host_path(am, os.path.join(os.path.dirname(script), needed))
        assert found == (ALERTMANAGER_DIR / needed).resolve() and found.exists(), \
            "%s is not mounted next to render-config.sh" % needed
    env = env_dict(am)
    assert env.get("TELEGRAM_BOT_TOKEN_FILE") == secret_target(am, "telegram_bot_token")
    assert env.get("TELEGRAM_CHAT_ID") == "${TELEGRAM_CHAT_ID:-}", "Telegram stays optional"
    out = env.get("ALERTMANAGER_CONFIG_OUT", "/tmp/alertmanager/alertmanager.yml")
    assert out.startswith("/tmp/") and any(t.split(":")[0] == "/tmp" for t in am.get("tmpfs") or []), \
        "the rendered configuration needs a writable tmpfs: the root file system is read-only"
    args = command_list(am)
    assert flag_value(args, "--storage.path") in named_volumes(am)
    assert not flag_value(args, "--config.file"), "render-config.sh appends --config.file itself"


def test_jaeger_wiring():
    jaeger = SERVICES["jaeger"]
    args = command_list(jaeger)
    config = flag_value(args, "--config")
    assert host_path(jaeger, config) == JAEGER_CONFIG.resolve(), "jaeger must run deploy/jaeger/config.yaml"
    text = JAEGER_CONFIG.read_text(encoding="utf-8")
    defaults = dict(re.findall(r"\$\{env:(JAEGER_[A-Z_]+_PORT):-(\d+)\}", text))
    env = env_dict(jaeger)
    ports = {k: int(env.get(k, v)) for k, v in defaults.items()}
    assert ports["JAEGER_QUERY_HTTP_PORT"] in published_ports(jaeger).values()
    for key in ("JAEGER_OTLP_GRPC_PORT", "JAEGER_OTLP_HTTP_PORT", "JAEGER_METRICS_PORT", "JAEGER_HEALTH_PORT"):
        assert ports[key] not in published_ports(jaeger).values(), "%s is published" % key
        assert ports[key] in listening_ports("jaeger"), "%s is not exposed" % key
    assert "${env:JAEGER_MAX_TRACES" in text and env.get("JAEGER_MAX_TRACES")
    collector_config = yaml.safe_load(OTELCOL_CONFIG.read_text(encoding="utf-8"))
    jaeger_endpoint = collector_config["exporters"]["otlp_grpc/jaeger"]["endpoint"]
    assert interpolation_default(jaeger_endpoint.replace("${env:", "${")) == "jaeger:%d" % ports[
        "JAEGER_OTLP_GRPC_PORT"], "the otel-collector must export to Jaeger's OTLP/gRPC port"
    for name in BUILT:
        service_env = env_dict(SERVICES[name])
        endpoint = service_env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        assert endpoint == "http://otel-collector:4318", "%s exports to %r" % (name, endpoint)
        assert service_env.get("OTEL_TRACES_SAMPLER") == "parentbased_traceidratio", name
        ratio = float(interpolation_default(service_env.get("OTEL_TRACES_SAMPLER_ARG") or "x"))
        assert 0 < ratio <= 1, name
        assert service_env.get("OTEL_SERVICE_NAME") == BUILT[name]["build"]["target"], name


def test_otel_collector_wiring():
    """The official contrib image's paths, the shared configuration, a vendor
    overlay chosen by OTLP_VENDOR (none.yaml by default, which changes
    nothing), the vendor key as a secret file, ports inside the network only,
    every setting of the configuration overridable from .env."""
    collector = SERVICES["otel-collector"]
    assert collector["image"] == "otel/opentelemetry-collector-contrib:%s" % tool_versions()["OTELCOL_VERSION"]
    args = command_list(collector)
    configs = [a.split("=", 1)[1] for a in args if a.startswith("--config=")]
    assert configs == ["/etc/otelcol-contrib/config.yaml", "/etc/otelcol-contrib/vendors/${OTLP_VENDOR:-none}.yaml"]
    assert host_path(collector, configs[0]) == OTELCOL_CONFIG.resolve()
    vendors_dir = host_path(collector, "/etc/otelcol-contrib/vendors/none.yaml").parent
    assert vendors_dir == OTELCOL_CONFIG.parent / "vendors"
    assert yaml.safe_load((vendors_dir / "none.yaml").read_text(encoding="utf-8")) == {}
    # The health check validates the same configurations the Collector runs.
    assert collector["healthcheck"]["test"][1:3] == ["/otelcol-contrib", "validate"]
    assert [a.split("=", 1)[1] for a in collector["healthcheck"]["test"] if a.startswith("--config=")] == configs
    assert not published_ports(collector), "the Collector's ports stay inside the network"
    assert {4317, 4318, 8888, 8889, 13133} <= listening_ports("otel-collector")
    assert "otlp_vendor_key" in (collector.get("secrets") or [])
    text = OTELCOL_CONFIG.read_text(encoding="utf-8")
    settings = set(re.findall(r"\$\{env:(OTELCOL_[A-Z_]+)", text))
    for name in ("OTELCOL_LATENCY_THRESHOLD_MS", "OTELCOL_BASE_PERCENTAGE", "OTELCOL_DECISION_WAIT",
                 "OTELCOL_NUM_TRACES", "OTELCOL_MEMORY_LIMIT_MIB", "OTELCOL_MEMORY_SPIKE_LIMIT_MIB"):
        assert name in settings, "deploy/otelcol/config.yaml does not read %s" % name
        assert env_dict(collector).get(name) == "${%s:-%s}" % (
            name, re.search(r"\$\{env:%s:-([^}]*)\}" % name, text).group(1)), \
            "%s: compose's default must be the configuration's" % name
    limit_mib = memory_limit(collector) // MIB
    memory_limit_mib = int(interpolation_default(env_dict(collector)["OTELCOL_MEMORY_LIMIT_MIB"]))
    assert memory_limit_mib < limit_mib, "memory_limiter's limit must be below the container's"
    # Every overlay adds the vendor exporter and restates Jaeger (lists are replaced).
    for overlay in sorted(vendors_dir.glob("*.yaml")):
        if overlay.name == "none.yaml":
            continue
        config = yaml.safe_load(overlay.read_text(encoding="utf-8"))
        assert config["service"]["pipelines"]["traces/sampled"]["exporters"] == [
            "otlp_grpc/jaeger", "otlp_http/vendor"], overlay.name
        headers = config["exporters"]["otlp_http/vendor"]["headers"]
        assert any("${file:/run/secrets/otlp_vendor_key}" in str(v) for v in headers.values()), overlay.name
    assert {p.stem for p in vendors_dir.glob("*.yaml")} == {"none", "newrelic", "dynatrace", "honeycomb",
                                                             "grafana-cloud"}


def test_otel_collector_configurations_are_valid_for_the_pinned_release(tmp_path):
    """The pinned Collector build (the stand-in's binary) validates the shared
    configuration alone, with each vendor overlay (the key read from a file,
    as from the compose secret), and as the test fixture renders it; an
    overlay that needs an endpoint refuses to load without one."""
    binary = tools.cached_binary("otelcol")
    key = tmp_path / "otlp_vendor_key"
    key.write_bytes(b"not-a-real-key")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTELCOL_", "OTLP_VENDOR"))}

    def validate(*configs, **extra):
        return subprocess.run([binary, "validate", *("--config=%s" % c for c in configs)], env={**env, **extra},
                              capture_output=True, text=True, timeout=60)
    assert validate(OTELCOL_CONFIG).returncode == 0
    for overlay in sorted((OTELCOL_CONFIG.parent / "vendors").glob("*.yaml")):
        copy = tmp_path / overlay.name
        copy.write_text(overlay.read_text(encoding="utf-8").replace("/run/secrets/otlp_vendor_key", str(key)))
        result = validate(OTELCOL_CONFIG, copy, OTLP_VENDOR_ENDPOINT="https://otlp.example.com")
        assert result.returncode == 0, (overlay.name, result.stderr[-2000:])
        if overlay.stem in ("dynatrace", "grafana-cloud"):
            refused = validate(OTELCOL_CONFIG, copy)
            assert refused.returncode != 0 and "endpoint" in refused.stderr, overlay.name
    ports = dict(zip(otelcol.PORT_NAMES, range(20001, 20006), strict=True))
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(otelcol.render_config(ports, "127.0.0.1:4317", 500, 10.0, 2000, 256, "test"))
    assert "${env:" not in rendered.read_text()
    assert validate(rendered).returncode == 0


def test_secrets_are_files_with_committed_placeholders():
    secrets = COMPOSE.get("secrets") or {}
    assert {"db_root_password", "db_app_password", "db_monitor_password", "grafana_admin_password",
            "telegram_bot_token", "fault_admin_token"} <= set(secrets)
    for name, spec in secrets.items():
        assert "file" in spec, (
            "secret %s must be file-backed: Compose rejects environment-sourced secrets "
            "for read_only services" % name)
        path = (REPO / interpolation_default(spec["file"])).resolve()
        assert path.is_relative_to(REPO) and path.is_file(), "secret %s: default file %s missing" % (name, path)
        content = path.read_text(encoding="utf-8").strip()
        if name in EMPTY_BY_DEFAULT:
            assert content == "", "secret %s: the committed default must be empty ('not configured')" % name
        else:
            assert content, "secret %s: default file is empty" % name
            assert "not-a-secret" in content, (
                "secret %s: the committed default must be an obvious public placeholder" % name)
        assert path.stat().st_mode & stat.S_IROTH, \
            "secret %s: the containers' users (999, 10001, 65534, 472) cannot read %s" % (name, path)
        assert ignored_by_dockerignore(str(path.relative_to(REPO))), "%s is sent to the image builder" % path
    used = set()
    for name, service in SERVICES.items():
        for secret in secret_names(service):
            assert secret in secrets, "%s uses undeclared secret %s" % (name, secret)
            used.add(secret)
    assert used == set(secrets), "secrets nobody uses: %s" % sorted(set(secrets) - used)


def test_no_secret_in_plain_environment():
    for name, service in SERVICES.items():
        for key, value in env_dict(service).items():
            if re.search(r"PASSWORD|TOKEN|SECRET", key.upper()):
                assert key.upper().endswith("_FILE"), "%s: %s passes a secret in the environment" % (name, key)
                assert value and value.startswith("/run/secrets/"), "%s: %s=%r is no secret" % (name, key, value)
                assert value in {secret_target(service, s) for s in secret_names(service)}, \
                    "%s: %s names a secret the service is not given" % (name, key)


def test_fault_admin_api_is_off_by_default_and_fed_by_a_secret():
    for name, prefix in (("apimon", "APIMON"), ("api-prometheus", "APIPROM")):
        service = SERVICES[name]
        env = env_dict(service)
        assert env.get(prefix + "_ADMIN_TOKEN_FILE") == secret_target(service, "fault_admin_token"), name
        assert prefix + "_ADMIN_TOKEN" not in env
        assert not any(k.startswith(prefix + "_FAULT_") for k in env), \
            "%s: faults are off by default (docs/compose.md says how to add them)" % name


def test_grafana_wiring():
    grafana = SERVICES["grafana"]
    env = env_dict(grafana)
    assert env.get("GF_SECURITY_ADMIN_PASSWORD__FILE") == secret_target(grafana, "grafana_admin_password")
    assert env.get("GF_AUTH_ANONYMOUS_ENABLED", "false") == "false"
    assert host_path(grafana, "/etc/grafana/grafana.ini") == (REPO / "deploy" / "grafana" / "grafana.ini").resolve()


def test_every_compose_variable_is_documented_in_env_example():
    documented = documented_variables()
    used = compose_variables()
    missing = used - documented
    assert not missing, ".env.example does not document %s" % sorted(missing)
    stale = {v for v in documented - used if not v.startswith("COMPOSE_")}
    assert not stale, ".env.example documents %s, which compose.yaml does not use" % sorted(stale)


def test_every_variable_has_a_default_for_a_clean_clone():
    # A clean clone has no .env, so `docker compose up` must not need one.
    for s in walk_strings(COMPOSE):
        for body in re.findall(r"\$\{([^}]*)\}", s.replace("$$", "")):
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*:?-.*", body), "${%s} has no default" % body


def test_docs_describe_every_service_and_port():
    text = COMPOSE_DOC.read_text(encoding="utf-8")
    for name, service in SERVICES.items():
        row = re.search(r"^\| `%s` \| `([^`]+)`[^|]*\| ([^|]*) \|" % re.escape(name), text, re.MULTILINE)
        assert row, "docs/compose.md's service table has no row for %s" % name
        assert row.group(1) == service["image"], "%s: docs say %s, compose runs %s" % (
            name, row.group(1), service["image"])
        published = published_ports(service)
        assert row.group(2).strip() == (", ".join(str(p) for p in published) or "none"), \
            "%s: docs say published port %r" % (name, row.group(2))
    assert "compose.offline.yaml" in text and "leaves Grafana out" in text, \
        "docs/compose.md must say how the stack is tested and which image the tests do not run"


# ------------------------------------------------------- db and exporters ----

def test_mariadb_init_scripts_are_mounted_in_order():
    db = SERVICES["db"]
    mounts = {os.path.normpath(interpolation_default(src)): target for src, target, _ in bind_mounts(db)}
    ordered = ["db/schema.sql", "db/seed.sql", "deploy/mariadb/03-app-user.sh", "deploy/mariadb/04-monitor-user.sh"]
    targets = [mounts.get(src) for src in ordered]
    for src, target in zip(ordered, targets, strict=True):
        assert target and target.startswith("/docker-entrypoint-initdb.d/"), "db: %s not mounted for init" % src
        assert os.path.splitext(target)[1] == os.path.splitext(src)[1], target
    names = [os.path.basename(t) for t in targets]
    assert names == sorted(names), "init files run in name order; got %s" % names
    # The account scripts source their helpers from their own directory; the
    # entrypoint must not run the helpers as an init file.
    lib = mounts.get("deploy/mariadb/account-lib.bash")
    assert lib and os.path.dirname(lib) == os.path.dirname(targets[2]), "account-lib.bash must sit beside 03/04"
    assert not re.search(r"\.(sh|sql)(\.(gz|xz|zst))?$", lib), "the entrypoint would run %s" % lib
    data_volumes = named_volumes(db)
    assert "/var/lib/mysql" in data_volumes, "db: /var/lib/mysql is not on one named volume"


def test_mariadb_settings():
    db = SERVICES["db"]
    command = command_list(db)
    assert "--character-set-server=utf8mb4" in command
    assert "--collation-server=utf8mb4_bin" in command
    pool = flag_value(command, "--innodb-buffer-pool-size")
    assert pool and parse_size(pool) <= memory_limit(db) // 4, "the buffer pool must fit well inside the limit"
    env = env_dict(db)
    assert env.get("MARIADB_DATABASE") == "pokedex"
    assert env.get("MARIADB_ROOT_PASSWORD_FILE") == secret_target(db, "db_root_password")
    assert env.get("MARIADB_ROOT_HOST") == "localhost", "root must not be reachable over the network"
    assert "MARIADB_USER" not in env, "MARIADB_USER would get ALL PRIVILEGES; 03-app-user.sh creates the account"
    test = db["healthcheck"]["test"]
    assert "healthcheck.sh" in test and "--connect" in test and "--innodb_initialized" in test
    assert not db.get("ports"), "the study stack does not publish MariaDB (its default passwords are public)"


def test_apimon_database_wiring_matches_db():
    db, apimon = SERVICES["db"], SERVICES["apimon"]
    db_env, app_env = env_dict(db), env_dict(apimon)
    m = re.fullmatch(r"mysql://([^@:/]+)@([^:/]+):(\d+)/(\w+)", app_env.get("APIMON_DATABASE_URL", ""))
    assert m, "APIMON_DATABASE_URL %r" % app_env.get("APIMON_DATABASE_URL")
    user, host, port, database = m.groups()
    assert host == "db" and port == "3306"
    assert user == db_env.get("POKEDEX_APP_USER", "pokedex_app") == "pokedex_app"
    assert database == db_env["MARIADB_DATABASE"]
    # apimon and the init script read the same secret.
    assert "db_app_password" in secret_names(apimon) and "db_app_password" in secret_names(db)
    assert app_env.get("APIMON_DATABASE_PASSWORD_FILE") == secret_target(apimon, "db_app_password")
    assert db_env.get("POKEDEX_APP_PASSWORD_FILE") == secret_target(db, "db_app_password")
    assert "db_root_password" not in secret_names(apimon), "apimon must not see the root password"


def test_api_prometheus_and_pokeload_targets():
    assert env_dict(SERVICES["api-prometheus"]).get("APIPROM_APIMON_URL") == "http://apimon:5000"
    for name, target, api in (("pokeload", "http://api-prometheus:8689", "api-prometheus"),
                              ("pokeload-apimon", "http://apimon:5000", "apimon")):
        env = env_dict(SERVICES[name])
        assert env.get("POKELOAD_TARGET") == target and env.get("POKELOAD_API") == api, name
        host, port = target[len("http://"):].split(":")
        assert int(port) in listening_ports(host), "%s targets a port %s does not listen on" % (name, host)
        rate = float(interpolation_default(env.get("POKELOAD_RATE", "x")))
        assert 0 < rate <= 10, "%s: a study stack on a small host needs a low rate, not %s" % (name, rate)


def test_mysqld_exporter_wiring_matches_db():
    db, exporter = SERVICES["db"], SERVICES["mysqld-exporter"]
    db_env, env = env_dict(db), env_dict(exporter)
    assert env.get("MYSQLD_EXPORTER_USER") == db_env.get("POKEDEX_MONITOR_USER") == "pokedex_monitor"
    assert env.get("MYSQLD_EXPORTER_HOST") == "db" and env.get("MYSQLD_EXPORTER_PORT") == "3306"
    assert env.get("MYSQLD_EXPORTER_PASSWORD_FILE") == secret_target(exporter, "db_monitor_password")
    assert db_env.get("POKEDEX_MONITOR_PASSWORD_FILE") == secret_target(db, "db_monitor_password")
    assert "db_root_password" not in secret_names(exporter)
    entrypoint = command_list(exporter, "entrypoint")
    script = next(a for a in entrypoint if a.endswith("run.sh"))
    assert host_path(exporter, script) == EXPORTER_RUN.resolve()
    assert entrypoint[0] in ("/bin/sh", "sh") and entrypoint[-1].endswith("mysqld_exporter"), entrypoint
    cnf = env.get("MYSQLD_EXPORTER_CNF", "/tmp/mysqld-exporter/my.cnf")
    assert cnf.startswith("/tmp/") and any(t.split(":")[0] == "/tmp" for t in exporter.get("tmpfs") or []), \
        "the my.cnf (it holds the password) belongs on a tmpfs"


def grants(path):
    return re.findall(r"GRANT\s+(.+?)\s+ON\s+(\S+)\s+TO", path.read_text(encoding="utf-8"))


def test_app_user_script_grants_select_only():
    found = grants(APP_USER_SCRIPT)
    assert found, "03-app-user.sh grants nothing"
    assert all(g.strip().upper() == "SELECT" for g, _ in found), "03-app-user.sh grants %s" % found
    text = APP_USER_SCRIPT.read_text(encoding="utf-8")
    assert re.search(r"IDENTIFIED BY", text) and "POKEDEX_APP_PASSWORD_FILE" in text


def test_monitor_user_script_grants_what_mysqld_exporter_needs():
    found = grants(MONITOR_USER_SCRIPT)
    assert len(found) == 1, found
    privileges = {p.strip().upper() for p in found[0][0].split(",")}
    assert privileges == {"PROCESS", "REPLICATION CLIENT", "SELECT"}, privileges
    assert found[0][1] == "*.*"
    text = MONITOR_USER_SCRIPT.read_text(encoding="utf-8")
    assert "WITH MAX_USER_CONNECTIONS 3" in text and "POKEDEX_MONITOR_PASSWORD_FILE" in text
    assert "/run/secrets/db_monitor_password" in text


@pytest.mark.parametrize("path", [APP_USER_SCRIPT, MONITOR_USER_SCRIPT, ACCOUNT_LIB], ids=lambda p: p.name)
def test_init_scripts_never_exit(path):
    # The entrypoint sources non-executable init scripts; `exit` would end the entrypoint.
    assert not re.search(r"^\s*exit\b", path.read_text(encoding="utf-8"), re.MULTILINE), path.name


def shellcheck():
    binary = os.environ.get("SHELLCHECK_BIN") or shutil.which("shellcheck")
    if not binary:
        pytest.fail("shellcheck is not installed (scripts/bootstrap installs it)")
    return binary


@pytest.mark.parametrize("path", [EXPORTER_RUN, APP_USER_SCRIPT, MONITOR_USER_SCRIPT, ACCOUNT_LIB, HTTP_PROBE],
                         ids=lambda p: p.name)
def test_scripts_pass_shellcheck(path):
    shell = ["--shell=sh"] if path == EXPORTER_RUN else []
    result = subprocess.run([shellcheck(), "--external-sources", "--severity=style", *shell,
                             str(path.relative_to(REPO))], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def run_exporter_script(tmp_path, password, **env):
    """Runs run.sh with a command that prints its last argument and the file it names."""
    secret = tmp_path / "password"
    secret.write_bytes(password)
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MYSQLD_EXPORTER_PASSWORD_FILE": str(secret),
                   "MYSQLD_EXPORTER_CNF": str(tmp_path / "cnf" / "my.cnf")}
    environment.update(env)
    return subprocess.run(["sh", str(EXPORTER_RUN), "sh", "-c", 'echo "$0"; cat "${0#--config.my-cnf=}"'],
                          env=environment, capture_output=True, timeout=30)


def test_exporter_script_writes_a_private_my_cnf(tmp_path):
    password = b"p#a;s's\"w@rd/x:y \\z\r\n"
    result = run_exporter_script(tmp_path, password)
    assert result.returncode == 0, result.stderr.decode()
    cnf = tmp_path / "cnf" / "my.cnf"
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "--config.my-cnf=%s" % cnf, "the command gets --config.my-cnf= last"
    assert lines[1:] == ["[client]", "user = pokedex_monitor", "password = `p#a;s's\"w@rd/x:y \\z`",
                         "host = db", "port = 3306"], lines
    assert stat.S_IMODE(cnf.stat().st_mode) == 0o600


def test_exporter_script_takes_its_settings_from_the_environment(tmp_path):
    result = run_exporter_script(tmp_path, b"pw\n", MYSQLD_EXPORTER_USER="mon", MYSQLD_EXPORTER_HOST="127.0.0.1",
                                 MYSQLD_EXPORTER_PORT="33306")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().splitlines()[1:] == ["[client]", "user = mon", "password = `pw`",
                                                       "host = 127.0.0.1", "port = 33306"]


@pytest.mark.parametrize("password, env, problem", [
    (b"", {}, "empty"),
    (b"\r\n", {}, "empty"),
    (b"back`quote", {}, "backquote"),
    (b"two\nlines", {}, "line break"),
    (b"pw", {"MYSQLD_EXPORTER_USER": "no-dash"}, "MYSQLD_EXPORTER_USER"),
    (b"pw", {"MYSQLD_EXPORTER_HOST": "-oops"}, "MYSQLD_EXPORTER_HOST"),
    (b"pw", {"MYSQLD_EXPORTER_PORT": "65536"}, "MYSQLD_EXPORTER_PORT"),
    (b"pw", {"MYSQLD_EXPORTER_CNF": "relative/my.cnf"}, "absolute"),
    (b"pw", {"MYSQLD_EXPORTER_PASSWORD_FILE": "/nonexistent/password"}, "cannot read"),
])
def test_exporter_script_refuses_what_it_cannot_write(tmp_path, password, env, problem):
    result = run_exporter_script(tmp_path, password, **env)
    assert result.returncode == 78, (result.returncode, result.stdout, result.stderr)
    assert problem in result.stderr.decode()
    assert not result.stdout, "the exporter must not start"


# -------------------------------------------------------------- Dockerfile ----

def test_dockerfile_has_a_target_for_every_built_service():
    assert BUILD_STAGE and RUNTIME_STAGE, "services/Dockerfile needs stages named build and runtime"
    assert {s["build"]["target"] for s in BUILT.values()} == set(TARGETS), \
        "targets %s, compose builds %s" % (sorted(TARGETS), sorted({s["build"]["target"] for s in BUILT.values()}))


def test_dockerfile_is_multi_stage_on_pinned_bookworm_slim():
    assert len(STAGES) >= 3, "Dockerfile is not multi-stage"
    images = [from_image(stage)[0] for stage in STAGES if from_image(stage)[0] not in NAMED_STAGES]
    for image in images:
        assert image.startswith("debian:bookworm-") and image.endswith("-slim"), image
        assert_pinned(image, "Dockerfile FROM")
    assert len(set(images)) == 1, "stages use different base images: %s" % images
    for name, stage in TARGETS.items():
        assert not any(k == "RUN" and "bootstrap" in a for k, a in stage), "%s installs packages again" % name


def test_dockerfile_build_stage():
    runs = " ".join(stage_args(BUILD_STAGE, "RUN"))
    assert re.search(r"(^|[\s;&])(\./)?scripts/bootstrap --build-only", runs), "build stage skips bootstrap"
    assert "cmake --preset release" in runs and "-DPOKEDEX_BUILD_TESTS=OFF" in runs
    assert "-DPOKEDEX_BUILD_BENCHMARKS=OFF" in runs
    built = re.search(r"cmake --build --preset release --target ((?:[\w-]+ ?)+)", runs)
    assert built and set(TARGETS) <= set(built.group(1).split()), "the build stage does not build %s" % sorted(TARGETS)
    for name in TARGETS:
        assert re.search(r"strip [^&]*/%s\b" % re.escape(name), runs), "%s is not stripped" % name
    # Tests are off, so tests/ must be reachable only through the option.
    top = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    assert re.search(r"if\(POKEDEX_BUILD_TESTS\)(\s*(enable_testing\(\)|add_subdirectory\([\w/.-]+\)))*?"
                     r"\s*add_subdirectory\(tests\)", top)


def copied_sources(stage):
    sources = []
    for args in stage_args(stage, "COPY"):
        words = shlex.split(args)
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        sources.extend(w.rstrip("/") or "." for w in words[:-1])
    return sources


def test_dockerfile_copies_what_cmake_needs():
    copied = copied_sources(BUILD_STAGE)
    top = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    top_no_tests = re.sub(r"if\(POKEDEX_BUILD_(TESTS|BENCHMARKS|FUZZERS)\).*?endif\(\)", "", top, flags=re.DOTALL)
    needed = {"CMakeLists.txt", "CMakePresets.json"}
    needed.update(d.split("/")[0] for d in re.findall(r"add_subdirectory\(\s*([\w./-]+)", top_no_tests))
    for cm in list(REPO.glob("libs/**/CMakeLists.txt")) + list(REPO.glob("libs/**/*.cmake")) + \
            list(REPO.glob("services/**/CMakeLists.txt")) + [REPO / "CMakeLists.txt"]:
        text = cm.read_text(encoding="utf-8")
        needed.update(re.findall(r"\$\{(?:PROJECT|CMAKE)_SOURCE_DIR\}/([\w.-]+)", text))
        if cm.parent == REPO:
            needed.update(d.split("/")[0] for d in re.findall(r"include\(\s*(cmake/[\w./-]+)", text))
    for item in sorted(needed):
        assert any(src == item or src.startswith(item + "/") or item.startswith(src + "/") for src in copied), \
            "the build stage does not COPY %s, which CMake reads" % item


@pytest.mark.parametrize("stage", ["build", "runtime"])
def test_dockerfile_copy_sources_exist_and_are_in_context(stage):
    for source in copied_sources(NAMED_STAGES[stage]):
        assert (REPO / source).exists(), "COPY %s: not in the repository" % source
        assert not ignored_by_dockerignore(source), "COPY %s: excluded by .dockerignore" % source


def test_bootstrap_is_executable_and_has_the_modes_the_dockerfile_uses():
    assert BOOTSTRAP.is_file()
    assert os.access(BOOTSTRAP, os.X_OK), "the Dockerfile runs scripts/bootstrap directly"
    text = BOOTSTRAP.read_text(encoding="utf-8")
    assert "--build-only)" in text and "--runtime-only)" in text


def test_bootstrap_keeps_the_exporters_system_services_stopped():
    text = BOOTSTRAP.read_text(encoding="utf-8")
    loop = re.search(r"^for service in ([^;]+); do", text, re.MULTILINE)
    assert loop, "scripts/bootstrap no longer stops the system services"
    assert {"prometheus", "prometheus-alertmanager", "prometheus-node-exporter",
            "prometheus-mysqld-exporter"} <= set(loop.group(1).split())


def test_dockerfile_runtime_stage():
    runs = stage_args(RUNTIME_STAGE, "RUN")
    assert any(re.search(r"scripts/bootstrap --runtime-only", r) for r in runs), \
        "runtime stage does not install its libraries with scripts/bootstrap --runtime-only"
    assert not any("--build-only" in r for r in runs)
    joined = " ".join(runs)
    assert "useradd" in joined and "--uid 10001" in joined and "--gid 10001" in joined
    labels = " ".join(stage_args(RUNTIME_STAGE, "LABEL"))
    for key in ("version", "revision", "licenses"):
        assert "org.opencontainers.image.%s=" % key in labels
    version_args = [a for a in stage_args(PREAMBLE, "ARG") if a.startswith("PROJECT_VERSION=")]
    assert version_args and version_args[0].split("=", 1)[1] == cmake_project_version()
    assert "PROJECT_VERSION" in stage_args(RUNTIME_STAGE, "ARG")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_dockerfile_image_target(target):
    stage = TARGETS[target]
    users = stage_args(stage, "USER")
    assert users, "%s sets no USER" % target
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "%s: USER %r must be a numeric non-root uid" % (target, users[-1])
    keywords = [k for k, _ in stage]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k in ("RUN", "COPY")), \
        "USER must follow the last RUN/COPY"
    copies = [a for a in stage_args(stage, "COPY") if a.startswith("--from=build ")]
    assert [a.split()[-1] for a in copies] == ["/usr/local/bin/" + target], copies
    assert any(json.loads(r) == [target, "--version"] for r in stage_args(stage, "RUN") if r.startswith("[")), \
        "%s: the image build does not run the binary once (missing shared libraries)" % target
    assert json.loads(stage_args(stage, "ENTRYPOINT")[-1]) == [target]
    labels = " ".join(stage_args(stage, "LABEL"))
    assert 'org.opencontainers.image.title="%s"' % target in labels and "image.description=" in labels


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_dockerfile_healthcheck_probes_the_exposed_port(target):
    stage = TARGETS[target]
    variable, port, path = image_healthcheck(stage)
    assert str(port) in " ".join(stage_args(stage, "EXPOSE")).split(), "%s probes %d, exposes %s" % (
        target, port, stage_args(stage, "EXPOSE"))
    assert path in ("/healthz", "/metrics"), path
    # The program's own --help names the variable its --port reads.
    binary = os.environ[target.upper().replace("-", "_") + "_BIN"]
    usage = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30, check=True).stdout
    options = [line.split()[0] for line in usage.splitlines() if line.rstrip().endswith("(Env:%s)" % variable)]
    assert options in (["--port"], ["--metrics-port"]), \
        "%s: %s is not the program's port variable (%s)" % (target, variable, options)


def test_runtime_stage_installs_the_probe():
    copies = [shlex.split(a) for a in stage_args(RUNTIME_STAGE, "COPY")]
    assert any(words[-2:] == ["services/http-probe", "/usr/local/bin/http-probe"] for words in copies), copies


@pytest.mark.parametrize("name", sorted(BUILT))
def test_compose_healthcheck_of_built_service_matches_image(name):
    test = SERVICES[name]["healthcheck"]["test"]
    _, port, path = image_healthcheck(TARGETS[SERVICES[name]["build"]["target"]])
    assert test == ["CMD", "http-probe", str(port), path], \
        "%s: compose probes %s, the image %d %s" % (name, test, port, path)


@pytest.fixture(scope="module")
def http_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_http_probe_wants_a_200(http_server):
    def probe(*args):
        return subprocess.run(["bash", str(HTTP_PROBE), *map(str, args)], capture_output=True, timeout=30).returncode
    assert probe(http_server, "/healthz") == 0
    assert probe(http_server, "/readyz") == 1, "a 503 is not healthy"
    closed = processes_free_port()
    assert probe(closed, "/healthz") == 1, "nothing listening is not healthy"
    assert probe("x", "/healthz") == 2 and probe(http_server, "healthz") == 2
    assert os.access(HTTP_PROBE, os.X_OK)


def test_dockerignore_keeps_secrets_and_build_trees_out():
    for path in (".git", "build/release", ".env", ".env.local", "secrets/db_app_password",
                 "deploy/secrets/db_app_password", "deploy/secrets/telegram_bot_token",
                 "infra/aws/terraform.tfstate", "infra/aws/prod.tfvars", "tests/__pycache__/x.pyc"):
        assert ignored_by_dockerignore(path), ".dockerignore lets %s into the build context" % path
    for path in ("scripts/bootstrap", "CMakeLists.txt", "libs/http/src/server.cpp", "db/seed.sql",
                 "services/Dockerfile", "services/pokeload/main.cpp"):
        assert not ignored_by_dockerignore(path), ".dockerignore excludes %s" % path


# ---------------------------------------------------- the offline override ----

OFFLINE_FILE = REPO / "compose.offline.yaml"


def test_the_offline_override_swaps_every_third_party_image_for_its_stand_in_of_the_same_release():
    """compose.offline.yaml (the compose test's) replaces each pulled image but
    Grafana's with the stand-in scripts/standin-images builds, of the same
    release, and pulls nothing."""
    class ComposeLoader(yaml.SafeLoader):
        """Reads Compose's !reset and !override tags as the plain values."""
    for tag in ("!reset", "!override"):
        ComposeLoader.add_constructor(tag, lambda loader, node: (
            loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
            else loader.construct_mapping(node) if isinstance(node, yaml.MappingNode)
            else loader.construct_scalar(node)))
    with open(OFFLINE_FILE, encoding="utf-8") as f:
        offline = yaml.load(f, Loader=ComposeLoader)["services"]
    built = subprocess.run([str(REPO / "scripts" / "standin-images"), "--list"], capture_output=True, text=True,
                           check=True, timeout=60).stdout.split()
    pulled = {name: s["image"] for name, s in SERVICES.items() if "build" not in s}
    assert set(pulled) - {"grafana"} <= set(offline)
    for name, official in pulled.items():
        if name == "grafana":
            assert offline["grafana"].get("profiles"), "Grafana cannot run here: it must sit behind a profile"
            continue
        standin = offline[name]["image"]
        assert standin in built, "%s: %s is not an image scripts/standin-images builds" % (name, standin)
        assert standin.startswith("pokedex-standin/") and offline[name].get("pull_policy") == "never", name
        assert standin.rsplit(":", 1)[1] == official.rsplit(":", 1)[1], \
            "%s: the stand-in %s is not the release compose.yaml names (%s)" % (name, standin, official)
    assert offline["cadvisor"].get("privileged") is False, "privileged containers cannot start on the CI machines"
