"""checkov policies for a Compose file (checkov has none of its own): the
container hardening that compose.yaml promises, one check per property, run by
tests/static/test_container_security.py with

    checkov -f compose.yaml --framework yaml --external-checks-dir tests/static/checkov

Each check looks at every service (`services.*`). A service that cannot meet
one says why inline, inside its block: `# checkov:skip=CKV_COMPOSE_N: reason`.
"""

import re

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.yaml_doc.base_yaml_check import BaseYamlCheck
from checkov.yaml_doc.enums import BlockType

SERVICES = "services.*"
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE)


class ComposeServiceCheck(BaseYamlCheck):
    """One property of every service; `passes(service)` says whether it holds."""

    check_id = ""
    title = ""
    category = CheckCategories.GENERAL_SECURITY

    def __init__(self):
        super().__init__(name=self.title, id=self.check_id, categories=[self.category],
                         supported_entities=[SERVICES], block_type=BlockType.ARRAY)

    def scan_entity_conf(self, conf, entity_type):
        if not isinstance(conf, dict):
            return CheckResult.UNKNOWN, conf
        return (CheckResult.PASSED if self.passes(conf) else CheckResult.FAILED), conf

    def passes(self, service):
        raise NotImplementedError


def as_list(value):
    return value if isinstance(value, list) else []


class NoNewPrivileges(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_1"
    title = "security_opt sets no-new-privileges:true (no privilege gain through setuid binaries)"

    def passes(self, service):
        return any(str(option).replace("=", ":") in ("no-new-privileges:true", "no-new-privileges")
                   for option in as_list(service.get("security_opt")))


class DropsAllCapabilities(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_2"
    title = "cap_drop lists ALL; any capability needed is added back by name"

    def passes(self, service):
        return "ALL" in [str(c).upper() for c in as_list(service.get("cap_drop"))]


class NotPrivileged(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_3"
    title = "the container is not privileged"

    def passes(self, service):
        return service.get("privileged") is not True


class ReadOnlyRootFilesystem(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_4"
    title = "the root filesystem is read-only (writable paths are tmpfs or volumes)"

    def passes(self, service):
        return service.get("read_only") is True


class HasResourceLimits(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_5"
    title = "deploy.resources.limits sets both memory and cpus"
    category = CheckCategories.GENERAL_SECURITY

    def passes(self, service):
        limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        return bool(limits.get("memory")) and bool(limits.get("cpus"))


class HasHealthcheck(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_6"
    title = "a healthcheck with a test command, not disabled"

    def passes(self, service):
        check = service.get("healthcheck") or {}
        test = check.get("test")
        return not check.get("disable") and bool(test) and as_list(test)[:1] != ["NONE"]


class PinnedImage(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_7"
    title = "the image names an explicit version tag or digest, never latest"

    def passes(self, service):
        image = str(service.get("image", ""))
        if "@sha256:" in image:
            return True
        name, _, tag = image.rpartition(":")
        return bool(name) and "/" not in tag and tag not in ("", "latest")


class NoSecretInEnvironment(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_8"
    title = "no password, token or key in the environment: secrets come from files (*_FILE)"
    category = CheckCategories.SECRETS

    def passes(self, service):
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(str(item).partition("=")[::2] for item in environment)
        return not any(SECRET_NAME.search(str(name)) and not str(name).endswith("_FILE")
                       for name in environment if not str(name).startswith("__"))


class NoHostNamespaces(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_9"
    title = "no host network, PID or IPC namespace"

    def passes(self, service):
        return all(service.get(key) != "host" for key in ("network_mode", "pid", "ipc", "userns_mode"))


class NonRootUser(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_10"
    title = "user names a non-root user"

    def passes(self, service):
        user = str(service.get("user", "")).split(":")[0]
        return user not in ("", "0", "root")


class BoundedLogs(ComposeServiceCheck):
    check_id = "CKV_COMPOSE_11"
    title = "the json-file log is rotated (max-size and max-file), so logs cannot fill the disk"

    def passes(self, service):
        options = (service.get("logging") or {}).get("options") or {}
        return bool(options.get("max-size")) and bool(options.get("max-file"))


CHECKS = [check() for check in ComposeServiceCheck.__subclasses__()]
