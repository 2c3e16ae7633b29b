"""Fixtures shared by the static suites."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import prometheus  # noqa: E402  (tests/fixtures is not a package)


@pytest.fixture(scope="module")
def promtool():
    """promtool of the pinned Prometheus build (scripts/install-tools), or $PROMTOOL_BIN."""
    try:
        return prometheus.cached_binary("promtool")
    except prometheus.FixtureError as error:
        pytest.fail(str(error))
