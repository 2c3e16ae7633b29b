"""apimon on its embedded default, the in-memory SQLite seeded from the SQL
compiled into the binary, checked against the committed seed."""
import json
import sqlite3
import time

from conftest import expected_document

from stackkit import exposition


def test_every_pokemon_matches_the_seed(start_apimon, seed):
    apimon = start_apimon()
    conn = apimon.connection()
    for pokemon_id in range(1, 1026):
        status, headers, body = apimon.get(f"/pokemon/{pokemon_id}", conn)
        assert status == 200, (pokemon_id, body)
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == expected_document(seed, pokemon_id), pokemon_id


def test_names_are_spelled_exactly_as_the_data_spells_them(start_apimon):
    apimon = start_apimon()
    for pokemon_id, name in [(29, "Nidoran♀"), (32, "Nidoran♂"), (83, "Farfetch’d"), (122, "Mr. Mime"),
                             (669, "Flabébé"), (772, "Type: Null")]:
        status, _, document = apimon.get_json(f"/pokemon/{pokemon_id}")
        assert status == 200
        assert document["name"] == name


def test_lang_picks_the_name_in_another_language(start_apimon, seed):
    apimon = start_apimon()
    conn = apimon.connection()
    for lang in ["ja", "ko", "zh-Hant", "zh-Hans", "fr", "de", "es", "it", "en", "ja-Hrkt", "es-419"]:
        for pokemon_id in (1, 25, 83, 150, 1025):
            status, _, document = apimon.get_json(f"/pokemon/{pokemon_id}?lang={lang}", conn)
            assert status == 200
            assert document == expected_document(seed, pokemon_id, lang), (lang, pokemon_id)
    assert apimon.get_json("/pokemon/25?lang=ZH-HANT")[2]["name"] == "皮卡丘"


def follow_pages(apimon, path):
    names, pages = [], 0
    while path:
        status, _, page = apimon.get_json(path)
        assert status == 200, page
        names += [item["name"] for item in page["results"]]
        path, pages = page["next"], pages + 1
        assert pages < 200
    return names, pages


def test_listing_by_type_follows_next_links_to_the_end(start_apimon, seed):
    apimon = start_apimon()
    expected = [name for (name,) in seed.execute(
        "SELECT n.name FROM pokemon p JOIN pokedex_entries n ON n.pokemon_id = p.id AND n.lang = 'en'"
        " JOIN types t ON t.id IN (p.primary_type_id, p.secondary_type_id) WHERE t.slug = 'fire' ORDER BY p.id")]
    names, pages = follow_pages(apimon, "/types/fire/pokemon?limit=7")
    assert names == expected
    assert pages == -(-len(expected) // 7)


def test_listing_by_generation(start_apimon, seed):
    apimon = start_apimon()
    for generation in range(1, 10):
        expected = seed.execute("SELECT COUNT(*) FROM pokemon WHERE generation_id = ?", (generation,)).fetchone()[0]
        names, _ = follow_pages(apimon, f"/generations/{generation}/pokemon?limit=100")
        assert len(names) == expected
    status, _, page = apimon.get_json("/generations/1/pokemon?limit=3&offset=24&lang=ja")
    assert [item["name"] for item in page["results"]] == ["ピカチュウ", "ライチュウ", "サンド"]


def test_search_is_a_case_insensitive_prefix_match(start_apimon, seed):
    apimon = start_apimon()
    names, _ = follow_pages(apimon, "/pokemon/search?name=PI&limit=5")
    expected = [name for (name,) in seed.execute(
        "SELECT name FROM pokedex_entries WHERE lang = 'en' AND name_key LIKE 'pi%' ORDER BY name_key, pokemon_id")]
    assert names == expected and len(names) > 5
    assert apimon.get_json("/pokemon/search?name=flab%C3%89")[2]["results"][0]["name"] == "Flabébé"
    assert apimon.get_json("/pokemon/search?name=mr.%20m")[2]["results"][0]["name"] == "Mr. Mime"
    assert apimon.get_json("/pokemon/search?name=%25")[2]["results"] == []
    assert apimon.get_json("/pokemon/search?name=%E3%83%94%E3%82%AB&lang=ja")[2]["results"][0]["id"] == 25


def test_random_returns_real_pokemon(start_apimon):
    apimon = start_apimon()
    conn = apimon.connection()
    seen = set()
    for _ in range(50):
        status, _, document = apimon.get_json("/pokemon/random", conn)
        assert status == 200 and 1 <= document["id"] <= 1025
        seen.add(document["id"])
    assert len(seen) > 10


def test_health_and_readiness(start_apimon):
    apimon = start_apimon()
    assert apimon.get_json("/healthz")[:1] == (200,)
    assert apimon.get_json("/readyz")[2] == {"status": "ready"}


def connections(apimon):
    """apimon's database connections by state, from its /metrics."""
    samples = exposition.parse(apimon.get("/metrics")[2].decode())
    return {state: exposition.total(samples, "db_client_connections", state=state) for state in ("used", "idle")}


def test_the_in_memory_database_is_queried_on_the_event_loop_or_on_workers(start_apimon):
    """By default each event loop queries the in-memory database itself, on a
    connection it opens for its first query; with --sqlite-execution workers
    the queries go to --db-pool-size worker threads, each with a connection
    from the start. Either way every lookup and readiness check answers."""
    on_loop = start_apimon("--threads", "1", "--db-pool-size", "3")
    assert connections(on_loop) == {"used": 0, "idle": 0}
    assert on_loop.get_json("/readyz")[0] == 200
    assert on_loop.get_json("/pokemon/25")[2]["name"] == "Pikachu"
    assert connections(on_loop) == {"used": 0, "idle": 1}

    on_workers = start_apimon("--threads", "1", "--db-pool-size", "3", env={"APIMON_SQLITE_EXECUTION": "workers"})
    assert connections(on_workers) == {"used": 0, "idle": 3}
    assert on_workers.get_json("/readyz")[0] == 200
    assert on_workers.get_json("/pokemon/25")[2]["name"] == "Pikachu"
    assert connections(on_workers) == {"used": 0, "idle": 3}


def test_file_database_persists_and_the_cache_serves_until_its_ttl(start_apimon, tmp_path):
    """With a file database another process can change a row; the cached
    response keeps the old answer until its TTL, the uncached one does not."""
    path = tmp_path / "pokedex.db"
    # A TTL of a minute: the second look below comes well within it on any
    # machine; the TTL's expiry is then shown by a second apimon whose TTL
    # is short, waited out from when its entry was stored (a lower bound).
    cached = start_apimon("--database-url", f"sqlite://{path}", "--cache-entries", "64", "--cache-ttl-ms", "60000")
    expiring = start_apimon("--database-url", f"sqlite://{path}", "--cache-entries", "64", "--cache-ttl-ms", "1500")
    uncached = start_apimon("--database-url", f"sqlite://{path}")
    assert cached.get_json("/pokemon/25")[2]["name"] == "Pikachu"
    assert expiring.get_json("/pokemon/25")[2]["name"] == "Pikachu"
    stored_by = time.monotonic()  # the entry was stored before its answer came back

    with sqlite3.connect(path) as db:
        db.execute("UPDATE pokedex_entries SET name = 'Pikachu (changed)' WHERE pokemon_id = 25 AND lang = 'en'")

    assert uncached.get_json("/pokemon/25")[2]["name"] == "Pikachu (changed)"
    assert cached.get_json("/pokemon/25")[2]["name"] == "Pikachu"
    time.sleep(max(0.0, stored_by + 1.6 - time.monotonic()))
    assert expiring.get_json("/pokemon/25")[2]["name"] == "Pikachu (changed)"
