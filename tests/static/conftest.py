"""Fixtures shared by the static suites."""

import pytest

from stackkit import prometheus


@pytest.fixture(scope="module")
def promtool():
    """promtool of the pinned Prometheus build (scripts/install-tools), or $PROMTOOL_BIN."""
    try:
        return prometheus.cached_binary("promtool")
    except prometheus.FixtureError as error:
        pytest.fail(str(error))
