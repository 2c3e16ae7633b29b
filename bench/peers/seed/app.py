"""The Pokédex API as the seed project built it: Flask under gunicorn's sync
workers, PyMySQL, prometheus_client and OpenTelemetry. Serves what apimon
serves for GET /pokemon/{id}, from the same pokedex_entries table.

Settings come from the environment: SEED_DATABASE_URL
(mysql://user@host:port/database), SEED_DATABASE_PASSWORD_FILE,
PROMETHEUS_MULTIPROC_DIR (gunicorn runs several processes) and the standard
OTEL_* variables (service name, OTLP endpoint, sampler).
"""

import contextlib
import os
import time
import urllib.parse

import pymysql
from flask import Flask, g, jsonify, request
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.pymysql import PyMySQLInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

# The same query apimon prepares (libs/pokedex/include/pokedex/queries.hpp).
FIND_POKEMON = (
    "SELECT pokemon_id, slug, name, name_lang, primary_type, secondary_type, generation_id, height, weight, "
    "hp, attack, defense, special_attack, special_defense, speed "
    "FROM pokedex_entries WHERE pokemon_id = %s AND lang = %s"
)
LANGUAGES = ("en", "ja", "ja-Hrkt", "ja-Latn", "ko", "zh-Hant", "zh-Hans", "fr", "de", "es", "es-419", "it")
MAX_POKEDEX_ID = 1_000_000

REQUESTS = Counter("http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


class Database:
    """One kept connection per worker process: a sync worker serves one
    request at a time, so it never needs two. Reconnects once if the server
    closed it."""

    def __init__(self, url, password):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "mysql" or not parsed.hostname or not parsed.path.strip("/"):
            raise ValueError(f"SEED_DATABASE_URL must be mysql://user@host:port/database, not {url!r}")
        self._options = dict(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "",
                             password=password, database=parsed.path.strip("/"), charset="utf8mb4",
                             autocommit=True, connect_timeout=5, read_timeout=5, write_timeout=5)
        self._connection = None

    def fetch_one(self, sql, args):
        for attempt in (1, 2):
            try:
                if self._connection is None:
                    self._connection = pymysql.connect(**self._options)
                with self._connection.cursor() as cursor:
                    cursor.execute(sql, args)
                    return cursor.fetchone()
            except (pymysql.err.OperationalError, pymysql.err.InterfaceError):
                self.close()
                if attempt == 2:
                    raise
        return None

    def close(self):
        if self._connection is not None:
            with contextlib.suppress(pymysql.err.Error):
                self._connection.close()
            self._connection = None


def problem(status, title, detail):
    response = jsonify(type="about:blank", title=title, status=status, detail=detail)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def pokemon_document(row):
    (pokemon_id, slug, name, name_lang, primary_type, secondary_type, generation, height, weight, hp, attack,
     defense, special_attack, special_defense, speed) = row
    return {
        "id": pokemon_id, "name": name, "lang": name_lang, "slug": slug, "generation": generation,
        "types": [primary_type] + ([secondary_type] if secondary_type else []),
        "height": height, "weight": weight,
        "base_stats": {"hp": hp, "attack": attack, "defense": defense, "special_attack": special_attack,
                       "special_defense": special_defense, "speed": speed},
    }


def setup_tracing():
    """Spans of every request and query, batched to OTLP/HTTP. The SDK reads
    OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER(_ARG), OTEL_EXPORTER_OTLP_ENDPOINT
    and OTEL_SDK_DISABLED itself. Called in each worker: the batch
    processor's thread does not survive a fork."""
    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    PyMySQLInstrumentor().instrument(tracer_provider=provider)
    return provider


def create_app():
    password_file = os.environ.get("SEED_DATABASE_PASSWORD_FILE")
    password = ""
    if password_file:
        with open(password_file) as f:
            password = f.read().strip()
    provider = setup_tracing()
    database = Database(os.environ.get("SEED_DATABASE_URL", "mysql://root@127.0.0.1:3306/pokedex"), password)

    app = Flask(__name__)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def count(response):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        LATENCY.labels(request.method, route).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response

    @app.get("/pokemon/<pokemon_id>")
    def get_pokemon(pokemon_id):
        if not pokemon_id.isascii() or not pokemon_id.isdigit() or pokemon_id.startswith("0"):
            return problem(400, "Bad Request", "The Pokédex number must be a plain positive integer, such as 25.")
        if int(pokemon_id) > MAX_POKEDEX_ID:
            return problem(400, "Bad Request",
                           f"The Pokédex number is out of range (at most {MAX_POKEDEX_ID}).")
        lang = request.args.get("lang", "en")
        if lang not in LANGUAGES:
            return problem(400, "Bad Request", "Unknown language; supported: " + ", ".join(LANGUAGES) + ".")
        row = database.fetch_one(FIND_POKEMON, (int(pokemon_id), lang))
        if row is None:
            return problem(404, "Not Found", "No Pokémon has this National Pokédex number.")
        return jsonify(pokemon_document(row))

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/metrics")
    def metrics():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}

    @app.errorhandler(pymysql.err.Error)
    def database_unavailable(error):
        app.logger.error("database error: %s", error)
        return problem(503, "Service Unavailable", "The Pokédex storage is unavailable; try again later.")

    return app
