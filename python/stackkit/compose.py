"""compose.yaml read as a clean clone without .env reads it: its services,
their commands and flags, environment, mounts and ports. The native stack
takes its ports and flags from here, and the static tests check compose.yaml
through the same readings."""

import os
import re
import shlex

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPOSE_FILE = os.path.join(REPO, "compose.yaml")


class ComposeError(ValueError):
    pass


def load(path=COMPOSE_FILE):
    """The parsed compose file, as written (nothing interpolated)."""
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def services(path=COMPOSE_FILE):
    """{name: service} of the compose file, in its order."""
    return load(path).get("services") or {}


def interpolation_default(value):
    """Resolve ${VAR:-default} / ${VAR-default} to its default, as a clean clone without .env sees it."""
    def default(match):
        body = match.group(1)
        for separator in (":-", "-"):
            if separator in body:
                return body.split(separator, 1)[1]
        raise ComposeError("variable %r has no default, so a clean clone has no value" % body)
    return re.sub(r"\$\{([^}]*)\}", default, value)


def command_list(service, key="command"):
    """The service's command (or entrypoint) as a list of arguments, as written."""
    command = service.get(key)
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def flag_name(argument):
    """"--flag" of "--flag=value" (or of "--flag"); None for a positional argument."""
    return argument.split("=", 1)[0] if argument.startswith("-") else None


def flag_value(args, flag):
    """Value of --flag=VALUE in args (None when absent)."""
    for arg in args:
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def environment(service):
    """{name: value or None} of the service's environment, as written."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


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


def repo_mounts(service):
    """{container target: repository path} of the bind mounts from the repository."""
    found = {}
    for source, target, _ in bind_mounts(service):
        source = interpolation_default(source)
        if not source.startswith("/"):
            found[target] = os.path.realpath(os.path.join(REPO, source))
    return found


def host_path(service, container_path):
    """The repository path a container path of the service comes from (None when not mounted)."""
    for target, source in sorted(repo_mounts(service).items(), key=lambda item: -len(item[0])):
        if container_path == target:
            return source
        if container_path.startswith(target.rstrip("/") + "/"):
            return os.path.realpath(os.path.join(source, os.path.relpath(container_path, target)))
    return None


def named_volumes(service):
    """{container target: volume name} of the named volumes."""
    found = {}
    for v in service.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) > 1 and not parts[0].startswith((".", "/", "~", "$")):
                found[parts[1]] = parts[0]
        elif v.get("type") == "volume":
            found[v["target"]] = v["source"]
    return found


def published_ports(service):
    """{host port: container port} of the published ports."""
    found = {}
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            found[int(p["published"])] = int(p["target"])
            continue
        parts = interpolation_default(str(p)).split(":")
        if len(parts) < 2:
            raise ComposeError("a port published on a random host port: %r" % p)
        found[int(parts[-2])] = int(parts[-1].split("/")[0])
    return found


def addressed_ports(all_services, name):
    """Ports the other services' settings reach `name` on: the port of every
    URL naming it as host (http://apimon:5000, mysql://user@db:3306/...)."""
    pattern = re.compile(r"//(?:[^@/\s]+@)?%s:(\d+)\b" % re.escape(name))
    return {int(port) for other in all_services.values() for value in environment(other).values()
            if value for port in pattern.findall(value)}


def listening_ports(service):
    """Ports a service demonstrably listens on in its container: published or
    exposed ports, the ports its healthcheck probes on 127.0.0.1, and its
    --web.listen-address."""
    ports = set(published_ports(service).values())
    ports.update(int(str(p).split("/")[0]) for p in service.get("expose") or [])
    test = (service.get("healthcheck") or {}).get("test") or []
    ports.update(int(p) for p in re.findall(r"127\.0\.0\.1[:/](\d+)", " ".join(test)))
    if test[1:2] == ["http-probe"]:
        ports.add(int(test[2]))
    for arg in command_list(service):
        m = re.fullmatch(r"--web\.listen-address=[^:]*:(\d+)", arg)
        if m:
            ports.add(int(m.group(1)))
    return ports


def service_port(all_services, name):
    """The one port a service serves on: the port it publishes, or else the
    only port it listens on or the other services address it on."""
    published = set(published_ports(all_services[name]).values())
    candidates = published if len(published) == 1 else (listening_ports(all_services[name])
                                                         | addressed_ports(all_services, name))
    if len(candidates) != 1:
        raise ComposeError("compose.yaml does not say which one port %s serves on: %s"
                           % (name, sorted(candidates) or "none"))
    return next(iter(candidates))


def healthcheck_address(service):
    """(port, path) of the 127.0.0.1 URL the service's healthcheck asks, or
    None when it asks no URL (a database client, say)."""
    test = (service.get("healthcheck") or {}).get("test") or []
    if test[1:2] == ["http-probe"]:
        return int(test[2]), test[3]
    m = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*)", " ".join(test))
    return (int(m.group(1)), m.group(2)) if m else None
