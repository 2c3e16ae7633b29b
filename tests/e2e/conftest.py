"""The end-to-end suites reuse the integration suites' helpers (running
apimon, the seed as reference) and the fixtures for real servers."""
import importlib.util
import pathlib
import sys

TESTS = pathlib.Path(__file__).resolve().parents[1]

_spec = importlib.util.spec_from_file_location("integration_helpers", TESTS / "integration" / "conftest.py")
integration_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(integration_helpers)
sys.modules["integration_helpers"] = integration_helpers

start_apimon = integration_helpers.start_apimon
seed = integration_helpers.seed
