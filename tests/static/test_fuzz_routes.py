"""The router fuzzer routes among the services' real route tables.

fuzz/router_fuzzer.cpp cannot link the services, so it carries its own copy
of their route templates. The OpenAPI documents are the reference: the
integration suite checks that each equals the routes its service registers,
and this checks that the fuzzer's copy equals the documents, so a route added
to a service without the fuzzer learning it fails here.
"""

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FUZZER = REPO / "fuzz" / "router_fuzzer.cpp"
SERVICES = ("apimon", "api-prometheus")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def documented_routes():
    routes = set()
    for service in SERVICES:
        document = json.loads((REPO / "services" / service / "openapi.json").read_text(encoding="utf-8"))
        for path, item in document["paths"].items():
            routes.update((path, method) for method in item if method in HTTP_METHODS)
    return routes


def fuzzed_routes():
    text = FUZZER.read_text(encoding="utf-8")
    table = re.search(r"get_templates\s*=\s*\{(.*?)\};", text, re.S)
    assert table, "the fuzzer's get_templates table is gone: update this test with it"
    routes = {(template, "get") for template in re.findall(r'"([^"]+)"', table.group(1))}
    routes.update(
        (template, method.rstrip("_"))
        for method, template in re.findall(r'routes\.add\(http::verb::(\w+),\s*"([^"]+)"', text)
    )
    return routes


def test_the_router_fuzzer_knows_every_documented_route_and_no_other():
    documented, fuzzed = documented_routes(), fuzzed_routes()
    assert len(documented) >= 14, "fewer documented routes than expected: are the documents still read?"
    assert fuzzed == documented, (
        "fuzz/router_fuzzer.cpp's route tables differ from the services' OpenAPI documents;\n"
        "  documented, not fuzzed: %s\n  fuzzed, not documented: %s"
        % (sorted(documented - fuzzed), sorted(fuzzed - documented))
    )


def test_the_template_count_matches_the_array_size():
    text = FUZZER.read_text(encoding="utf-8")
    size = int(re.search(r"std::array<std::string_view,\s*(\d+)>\s*get_templates", text).group(1))
    assert size == len({t for t, m in fuzzed_routes() if m == "get"})
