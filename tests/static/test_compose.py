"""Static checks of the container setup: compose.yaml, services/apimon/Dockerfile,
.dockerignore, .env.example and the MariaDB init script.

No Docker engine is needed: the files are parsed and their properties asserted,
so a change that would break `docker compose up -d --build` from a clean clone,
or weaken the hardening, fails here first.
"""

import fnmatch
import json
import os
import re
import shlex
import stat
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose.yaml"
DOCKERFILE = REPO / "services" / "apimon" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / ".env.example"
APP_USER_SCRIPT = REPO / "deploy" / "mariadb" / "03-app-user.sh"
BOOTSTRAP = REPO / "scripts" / "bootstrap"

# An image reference is pinned when it carries a digest, or a tag naming an exact
# release: a three-part version (11.4.9, v3.1.0) or a dated build (bookworm-20260202-slim).
PINNED_TAG = re.compile(r"\d+\.\d+\.\d+|(?<!\d)20\d{6}(?!\d)")


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


def interpolation_default(value):
    """Resolve ${VAR:-default} / ${VAR-default} to its default, as a clean clone without .env sees it."""
    def repl(m):
        body = m.group(1)
        for sep in (":-", "-"):
            if sep in body:
                return body.split(sep, 1)[1]
        raise AssertionError("variable %r has no default, so a clean clone has no value" % body)
    return re.sub(r"\$\{([^}]*)\}", repl, value)


def parse_size(value):
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)[bB]?\s*", str(value))
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


def env_dict(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


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


def bind_mounts(service):
    """(host source, container target, read_only) of every bind mount."""
    mounts = []
    for v in service.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
            mode = parts[2] if len(parts) > 2 else ""
            if source.startswith((".", "/", "~", "$")):
                mounts.append((source, target, "ro" in mode.split(",")))
        elif v.get("type") == "bind":
            mounts.append((v["source"], v["target"], bool(v.get("read_only"))))
    return mounts


def read_dockerfile():
    """Stages of the Dockerfile as lists of (INSTRUCTION, arguments)."""
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
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
    stages = []
    for keyword, rest in instructions:
        if keyword == "FROM":
            stages.append([])
        assert stages, "instruction %s before the first FROM" % keyword
        stages[-1].append((keyword, rest))
    return stages


STAGES = read_dockerfile()


def stage_args(stage, keyword):
    return [rest for k, rest in stage if k == keyword]


def from_image(stage):
    words = stage[0][1].split()
    words = [w for w in words if not w.startswith("--")]
    return words[0], (words[2] if len(words) >= 3 and words[1].upper() == "AS" else None)


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
        if p.startswith("**/"):
            candidates.append(p[3:])
        if any(fnmatch.fnmatchcase(prefix, c) for prefix in prefixes for c in candidates):
            ignored = not negate
    return ignored


# ---------------------------------------------------------------- compose ----

def test_compose_is_compose_spec_without_version_key():
    assert "version" not in COMPOSE, "the Compose Specification has no top-level version key"
    assert {"db", "apimon"} <= set(SERVICES), "compose.yaml must define db and apimon"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_image_is_pinned(name):
    service = SERVICES[name]
    assert "image" in service, "%s: no image (a built service names its image too)" % name
    assert_pinned(interpolation_default(service["image"]), "service " + name)


def test_built_image_tag_follows_project_version():
    version = cmake_project_version()
    assert BUILT, "compose.yaml builds no service"
    for name, service in BUILT.items():
        _, tag, _ = split_image(service["image"])
        assert tag == version, "%s: image tag %s, CMake project version %s" % (name, tag, version)
        assert service.get("pull_policy") == "build", (
            "%s: pull_policy must be build so the image is never pulled from a registry" % name)


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
    service = SERVICES[name]
    limit = service.get("mem_limit") or \
        (((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("memory")
    assert limit, "%s: no memory limit (mem_limit or deploy.resources.limits.memory)" % name
    assert parse_size(limit) >= 16 << 20, "%s: memory limit %r is implausibly small" % (name, limit)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_logs_are_rotated(name):
    logging = SERVICES[name].get("logging")
    assert logging, "%s: no logging section (default json-file grows without bound)" % name
    options = logging.get("options") or {}
    assert logging.get("driver", "json-file") in ("json-file", "local"), "%s: unexpected log driver" % name
    assert options.get("max-size"), "%s: logging without max-size" % name
    parse_size(options["max-size"])
    assert int(options.get("max-file", 0)) >= 1, "%s: logging without max-file" % name


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_service_is_non_root_and_read_only(name):
    service = BUILT[name]
    user = str(service.get("user", ""))
    assert user, "%s: no user (the image's USER must not be the only guard)" % name
    uid = user.split(":")[0]
    assert uid not in ("", "0", "root"), "%s runs as root" % name
    assert service.get("read_only") is True, "%s: root filesystem not read_only" % name
    assert "ALL" in (service.get("cap_drop") or []), "%s: capabilities not dropped" % name
    assert "no-new-privileges:true" in (service.get("security_opt") or []), name
    dockerfile = REPO / service["build"].get("context", ".") / service["build"]["dockerfile"]
    assert dockerfile.is_file(), "%s: %s missing" % (name, dockerfile)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_bind_mounted_host_files_exist_in_repo(name):
    for source, target, read_only in bind_mounts(SERVICES[name]):
        path = (REPO / interpolation_default(source)).resolve()
        assert path.is_relative_to(REPO), "%s: bind source %s lies outside the repository" % (name, source)
        assert path.exists(), "%s: bind source %s (-> %s) does not exist" % (name, source, target)
        assert read_only, "%s: bind mount %s -> %s is writable" % (name, source, target)


def test_secret_files_exist_and_defaults_are_marked_placeholders():
    secrets = COMPOSE.get("secrets") or {}
    assert {"db_root_password", "db_app_password"} <= set(secrets)
    for name, spec in secrets.items():
        assert "file" in spec, (
            "secret %s must be file-backed: Compose rejects environment-sourced secrets "
            "for read_only services" % name)
        path = (REPO / interpolation_default(spec["file"])).resolve()
        assert path.is_relative_to(REPO) and path.is_file(), "secret %s: default file %s missing" % (name, path)
        content = path.read_text(encoding="utf-8").strip()
        assert content, "secret %s: default file is empty" % name
        assert "not-a-secret" in content, (
            "secret %s: the committed default must be an obvious public placeholder" % name)
        mode = path.stat().st_mode
        assert mode & stat.S_IROTH, "secret %s: the containers' users (999, 10001) cannot read %s" % (name, path)
    for name, service in SERVICES.items():
        for secret in secret_names(service):
            assert secret in secrets, "%s uses undeclared secret %s" % (name, secret)


def test_no_password_in_plain_environment():
    for name, service in SERVICES.items():
        for key, value in env_dict(service).items():
            if "PASSWORD" in key.upper():
                assert key.upper().endswith("_FILE"), "%s: %s passes a password in the environment" % (name, key)
                assert value and value.startswith("/run/secrets/"), "%s: %s=%r is no secret" % (name, key, value)


def test_every_compose_variable_is_documented_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"),
                                re.MULTILINE))
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


# ------------------------------------------------------- db and apimon wiring ----

def test_mariadb_init_scripts_are_mounted_in_order():
    db = SERVICES["db"]
    mounts = {os.path.normpath(interpolation_default(src)): target for src, target, _ in bind_mounts(db)}
    schema = mounts.get("db/schema.sql")
    seed = mounts.get("db/seed.sql")
    user = mounts.get("deploy/mariadb/03-app-user.sh")
    for what, target in (("schema", schema), ("seed", seed), ("app user script", user)):
        assert target and target.startswith("/docker-entrypoint-initdb.d/"), "db: %s not mounted for init" % what
    assert schema.endswith(".sql") and seed.endswith(".sql") and user.endswith(".sh")
    names = [os.path.basename(t) for t in (schema, seed, user)]
    assert names == sorted(names), "init files run in name order; got %s" % names
    data_volumes = [v.split(":")[0] for v in db.get("volumes") or []
                    if isinstance(v, str) and v.split(":")[1:2] == ["/var/lib/mysql"]]
    data_volumes += [v.get("source") for v in db.get("volumes") or []
                     if isinstance(v, dict) and v.get("type") == "volume" and v.get("target") == "/var/lib/mysql"]
    assert len(data_volumes) == 1, "db: /var/lib/mysql is not on one named volume"
    assert data_volumes[0] in (COMPOSE.get("volumes") or {}), "db: volume %s not declared" % data_volumes[0]


def test_mariadb_settings():
    db = SERVICES["db"]
    command = db.get("command")
    command = shlex.split(command) if isinstance(command, str) else list(command or [])
    assert "--character-set-server=utf8mb4" in command
    assert "--collation-server=utf8mb4_bin" in command
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
    assert (apimon.get("depends_on") or {}).get("db", {}).get("condition") == "service_healthy"
    assert "5000:5000" in [str(p) for p in apimon.get("ports") or []]


def test_app_user_script_grants_select_only():
    text = APP_USER_SCRIPT.read_text(encoding="utf-8")
    grants = re.findall(r"GRANT\s+(.+?)\s+ON\s", text)
    assert grants, "03-app-user.sh grants nothing"
    assert all(g.strip().upper() == "SELECT" for g in grants), "03-app-user.sh grants %s" % grants
    assert re.search(r"IDENTIFIED BY", text) and "POKEDEX_APP_PASSWORD_FILE" in text
    assert not re.search(r"^\s*exit\b", text, re.MULTILINE), (
        "the entrypoint sources non-executable init scripts; `exit` would end the entrypoint")


# -------------------------------------------------------------- Dockerfile ----

def test_dockerfile_is_multi_stage_on_pinned_bookworm_slim():
    assert len(STAGES) >= 2, "Dockerfile is not multi-stage"
    images = [from_image(stage)[0] for stage in STAGES]
    for image in images:
        assert image.startswith("debian:bookworm-") and image.endswith("-slim"), image
        assert_pinned(image, "Dockerfile FROM")
    assert len(set(images)) == 1, "stages use different base images: %s" % images


def test_dockerfile_build_stage():
    build = STAGES[0]
    runs = " ".join(stage_args(build, "RUN"))
    assert re.search(r"(^|[\s;&])(\./)?scripts/bootstrap --build-only", runs), "build stage skips bootstrap"
    assert "cmake --preset release" in runs and "-DPOKEDEX_BUILD_TESTS=OFF" in runs
    assert re.search(r"cmake --build --preset release --target apimon", runs)
    assert "strip" in runs
    # Tests are off, so tests/ must be reachable only through the option.
    top = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    assert re.search(r"if\(POKEDEX_BUILD_TESTS\)(\s*(enable_testing\(\)|add_subdirectory\([\w/.-]+\)))*?"
                     r"\s*add_subdirectory\(tests\)", top)
    assert "-DPOKEDEX_BUILD_BENCHMARKS=OFF" in runs


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
    copied = copied_sources(STAGES[0])
    top = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    top_no_tests = re.sub(r"if\(POKEDEX_BUILD_(TESTS|BENCHMARKS)\).*?endif\(\)", "", top, flags=re.DOTALL)
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


@pytest.mark.parametrize("stage_index", [0, -1])
def test_dockerfile_copy_sources_exist_and_are_in_context(stage_index):
    for source in copied_sources(STAGES[stage_index]):
        assert (REPO / source).exists(), "COPY %s: not in the repository" % source
        assert not ignored_by_dockerignore(source), "COPY %s: excluded by .dockerignore" % source


def test_bootstrap_is_executable_and_has_the_modes_the_dockerfile_uses():
    assert BOOTSTRAP.is_file()
    assert os.access(BOOTSTRAP, os.X_OK), "the Dockerfile runs scripts/bootstrap directly"
    text = BOOTSTRAP.read_text(encoding="utf-8")
    assert "--build-only)" in text and "--runtime-only)" in text


def test_dockerfile_runtime_stage():
    runtime = STAGES[-1]
    runs = stage_args(runtime, "RUN")
    assert any(re.search(r"scripts/bootstrap --runtime-only", r) for r in runs), \
        "runtime stage does not install its libraries with scripts/bootstrap --runtime-only"
    assert not any("--build-only" in r for r in runs)
    joined = " ".join(runs)
    assert "useradd" in joined and "--uid 10001" in joined and "--gid 10001" in joined

    users = stage_args(runtime, "USER")
    assert users, "runtime stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "runtime USER %r must be a numeric non-root uid" % users[-1]

    keywords = [k for k, _ in runtime]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k in ("RUN", "COPY")), \
        "USER must follow the last RUN/COPY"

    copies = [a for a in stage_args(runtime, "COPY") if a.startswith("--from=")]
    assert any(a.split()[-1] == "/usr/local/bin/apimon" for a in copies)

    assert "5000" in " ".join(stage_args(runtime, "EXPOSE")).split()
    entrypoint = json.loads(stage_args(runtime, "ENTRYPOINT")[-1])
    assert entrypoint == ["apimon"]

    labels = " ".join(stage_args(runtime, "LABEL"))
    for key in ("title", "description", "version", "revision", "licenses"):
        assert "org.opencontainers.image.%s=" % key in labels
    version_args = [a for a in stage_args(runtime, "ARG") if a.startswith("APIMON_VERSION=")]
    assert version_args and version_args[0].split("=", 1)[1] == cmake_project_version()


def test_dockerfile_healthcheck_probes_healthz():
    runtime = STAGES[-1]
    checks = stage_args(runtime, "HEALTHCHECK")
    assert checks, "runtime stage has no HEALTHCHECK"
    check = checks[-1]
    assert not check.upper().startswith("NONE")
    m = re.search(r"\bCMD\s+(\[.*\])\s*$", check)
    assert m, "HEALTHCHECK must use the exec form: %r" % check
    argv = json.loads(m.group(1))  # fails on a JSON escaping mistake
    assert argv[0] == "bash", "the probe needs bash, which bookworm-slim has (curl it has not)"
    script = argv[-1]
    assert "/dev/tcp/127.0.0.1/" in script and "GET /healthz HTTP/1.0\\r\\n" in script and " 200 " in script
    for option in ("--interval=", "--timeout=", "--retries="):
        assert option in check


def test_compose_healthcheck_of_built_service_matches_image():
    test = SERVICES["apimon"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"]
    script = test[3]
    assert "/dev/tcp/127.0.0.1/5000" in script and "GET /healthz HTTP/1.0\\r\\n" in script
    assert "$$status" in script and "${" not in script.replace("$${", ""), \
        "shell variables in a compose healthcheck must be written $$ to escape interpolation"


def test_dockerignore_keeps_secrets_and_build_trees_out():
    for path in (".git", "build/release", ".env", "secrets/db_app_password", "deploy/secrets/db_app_password",
                 "tests/__pycache__/x.pyc"):
        assert ignored_by_dockerignore(path), ".dockerignore lets %s into the build context" % path
    for path in ("scripts/bootstrap", "CMakeLists.txt", "libs/http/src/server.cpp", "db/seed.sql"):
        assert not ignored_by_dockerignore(path), ".dockerignore excludes %s" % path
