"""Fixtures shared by the static suites."""
import shutil

import pytest


@pytest.fixture(scope="module")
def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: scripts/bootstrap installs Debian's prometheus package")
    return path
