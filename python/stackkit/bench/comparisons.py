"""The paired cases (paired.py measures them), each two configurations side
by side, and the figure each pair gives. docs/performance.md describes
them.

    telemetry-off / telemetry-on   apimon on SQLite bare, and with telemetry on, 1 % traced to Jaeger
    nginx-log                      nginx without, and with, a buffered access log (the anchor of access-log)
    access-log                     apimon on SQLite bare, and with its access log on
    always-on                      apimon on SQLite bare, and with telemetry on, every request traced to a
                                   span sink that keeps nothing (span_sink.py): apimon's own cost of tracing
    always-on-jaeger               the same, every request traced to a live Jaeger beside wrk
    seed                           the seed peer and apimon on MariaDB, both tracing every request
"""

import os

from stackkit.bench import apimon, peer, scenarios, stats
from stackkit.bench.paired import Comparison, Side
from stackkit.bench.settings import TRACED_SERVICE


def _bare_sqlite(bench, name, context):
    return apimon.start(bench, name, *apimon.SQLITE_NO_CACHE)


def _traced_sqlite(bench, name, context):
    return apimon.start(bench, name, *apimon.SQLITE_NO_CACHE, otlp_endpoint=context["jaeger"]["otlp_http_endpoint"])


def _always_on_sqlite(bench, name, context):
    return apimon.start(bench, name, *apimon.SQLITE_NO_CACHE, otlp_endpoint=context["sink"].otlp_http_endpoint,
                        sampler=apimon.ALWAYS_ON)


def _always_on_sqlite_jaeger(bench, name, context):
    return apimon.start(bench, name, *apimon.SQLITE_NO_CACHE, otlp_endpoint=context["jaeger"]["otlp_http_endpoint"],
                        sampler=apimon.ALWAYS_ON)


def _logging_sqlite(bench, name, context):
    # The log (stdout and stderr) goes to the run's temporary directory: paired.py
    # counts its lines, keeps its end in OUT and removes it.
    return apimon.start(bench, name, *apimon.SQLITE_NO_CACHE, access_log=True,
                        log=os.path.join(bench.tmp, f"{name}.apimon.log"))


def _nginx(bench, name, context):
    return scenarios.start_nginx(bench, name)


def _logging_nginx(bench, name, context):
    return scenarios.start_nginx(bench, name, access_log=True)


def _seed_peer(bench, name, context):
    return peer.start(bench, name, context["mariadb"], context["jaeger"]["otlp_http_endpoint"],
                      workers=bench.settings.seed_workers)


def _always_on_mariadb(bench, name, context):
    state = context["mariadb"]
    return apimon.start(bench, name, "--threads", "1", "--db-pool-size", str(bench.settings.db_pool),
                        "--cache-entries", "0", "--database-url", state["url"],
                        "--database-password-file", state["app_password_file"],
                        otlp_endpoint=context["jaeger"]["otlp_http_endpoint"], sampler=apimon.ALWAYS_ON)


TELEMETRY = Comparison(case="telemetry-on", base=Side("telemetry-off", _bare_sqlite),
                        variant=Side("telemetry-on", _traced_sqlite, traced=True),
                        cases=("telemetry-off", "telemetry-on"), traced_services=(TRACED_SERVICE,))
NGINX_LOG = Comparison(case="nginx-log", base=Side("nginx-log-off", _nginx), variant=Side("nginx-log", _logging_nginx),
                        cases=("nginx-log",))
ACCESS_LOG = Comparison(case="access-log", base=Side("access-log-off", _bare_sqlite),
                         variant=Side("access-log", _logging_sqlite, access_log=True), cases=("access-log",))
ALWAYS_ON = Comparison(case="always-on", base=Side("always-on-off", _bare_sqlite),
                        variant=Side("always-on", _always_on_sqlite, traced=True), cases=("always-on",),
                        span_sink=True)
ALWAYS_ON_JAEGER = Comparison(case="always-on-jaeger", base=Side("always-on-jaeger-off", _bare_sqlite),
                               variant=Side("always-on-jaeger", _always_on_sqlite_jaeger, traced=True),
                               cases=("always-on-jaeger",), traced_services=(TRACED_SERVICE,))
SEED = Comparison(case="seed", base=Side("seed", _seed_peer, traced=True),
                   variant=Side("seed-apimon", _always_on_mariadb, traced=True), cases=("seed",),
                   traced_services=(TRACED_SERVICE, peer.SERVICE), mariadb=True)

ALL = (TELEMETRY, NGINX_LOG, ACCESS_LOG, ALWAYS_ON, ALWAYS_ON_JAEGER, SEED)
BY_CASE = {case: comparison for comparison in ALL for case in comparison.cases}


def rows(cases):
    """The names the report has a row for, in order: each case, with the
    sides of its comparison that are not cases of their own before it."""
    names = []
    for case in cases:
        comparison = BY_CASE.get(case)
        if comparison is not None:
            names += [side.name for side in comparison.sides if side.name not in comparison.cases]
        names.append(case)
    return names


def pair_values(settings, results, comparison, figure="overhead"):
    """One value per pair of runs measured back to back: "overhead", 1 -
    variant/base req/s in per cent; "ratio", variant/base req/s; "cpu_cost",
    the variant's CPU per request against the base's, in per cent more;
    "cpu_ratio", the base's CPU per request over the variant's."""
    values = []
    for r in range(1, settings.rounds + 1):
        for p in range(1, settings.pairs + 1):
            base, variant = (results.figures.get(f"{side.name}.r{r}.p{p}") for side in comparison.sides)
            if not base or not variant:
                continue
            base_us, variant_us = base.extra.get("cpu_us_per_request"), variant.extra.get("cpu_us_per_request")
            if figure == "cpu_cost":
                value = None if not base_us or variant_us is None else round((variant_us / base_us - 1) * 100, 2)
            elif figure == "cpu_ratio":
                value = None if not variant_us or base_us is None else round(base_us / variant_us, 2)
            elif base.requests_per_sec is None or variant.requests_per_sec is None:
                value = None
            elif figure == "ratio":
                value = stats.ratio(variant.requests_per_sec, base.requests_per_sec)
            else:
                value = stats.overhead_percent(variant.requests_per_sec, base.requests_per_sec)
            if value is not None:
                values.append(value)
    return values
