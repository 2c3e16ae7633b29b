"""Checks that the committed db/schema.sql + db/seed.sql match the PokéAPI CSVs and load into SQLite."""

import csv
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DB = REPO / "db"
DATA = DB / "pokeapi"

LANGS = {"ja-Hrkt", "ja-Latn", "ko", "zh-Hant", "fr", "de", "es", "it", "en", "ja", "zh-Hans", "es-419"}


def test_committed_sql_matches_generator():
    result = subprocess.run(
        [sys.executable, str(DB / "generate.py"), "--data", str(DATA), "--out", str(DB), "--check"],
        capture_output=True, text=True, encoding="utf-8",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sqlite_schema_is_the_portable_one_with_pokedex_entries_stored_in_its_key():
    portable = (DB / "schema.sql").read_text(encoding="utf-8")
    sqlite_only = (DB / "schema.sqlite.sql").read_text(encoding="utf-8")
    assert "WITHOUT ROWID" not in portable  # MariaDB and MySQL reject it
    assert sqlite_only.count("WITHOUT ROWID") == 1
    assert sqlite_only.replace(") WITHOUT ROWID;", ");") == portable
    conn = sqlite3.connect(":memory:")
    conn.executescript(sqlite_only)
    conn.executescript((DB / "seed.sql").read_text(encoding="utf-8"))
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("SELECT rowid FROM pokedex_entries")
    plan = " ".join(row[3] for row in conn.execute(
        "EXPLAIN QUERY PLAN SELECT name FROM pokedex_entries WHERE pokemon_id = 25 AND lang = 'en'"))
    assert "PRIMARY KEY" in plan, plan
    assert conn.execute("SELECT COUNT(*) FROM pokedex_entries").fetchone() == (12 * 1025,)
    conn.close()


@pytest.fixture(scope="module")
def db():
    conn = sqlite3.connect(":memory:")
    conn.executescript((DB / "schema.sql").read_text(encoding="utf-8"))
    conn.executescript((DB / "seed.sql").read_text(encoding="utf-8"))
    yield conn
    conn.close()


def test_pokemon_ids_contiguous(db):
    ids = [r[0] for r in db.execute("SELECT id FROM pokemon ORDER BY id")]
    assert ids == list(range(1, 1026))


def test_every_pokemon_has_english_name(db):
    missing = db.execute(
        "SELECT id FROM pokemon WHERE id NOT IN"
        " (SELECT pokemon_id FROM pokedex_entries WHERE lang = 'en' AND name_lang = 'en')"
    ).fetchall()
    assert missing == []


@pytest.mark.parametrize("pokemon_id, name", [
    (29, "Nidoran\u2640"),
    (83, "Farfetch\u2019d"),
    (122, "Mr. Mime"),
    (669, "Flab\u00e9b\u00e9"),
    (772, "Type: Null"),
])
def test_tricky_english_names(db, pokemon_id, name):
    row = db.execute("SELECT name FROM pokedex_entries WHERE pokemon_id = ? AND lang = 'en'", (pokemon_id,)).fetchone()
    assert row == (name,)


def test_bulbasaur(db):
    row = db.execute("""
        SELECT p.slug, t1.slug, t2.slug, g.id, g.slug, p.height, p.weight,
               p.hp, p.attack, p.defense, p.special_attack, p.special_defense, p.speed
        FROM pokemon p
        JOIN types t1 ON t1.id = p.primary_type_id
        LEFT JOIN types t2 ON t2.id = p.secondary_type_id
        JOIN generations g ON g.id = p.generation_id
        WHERE p.id = 1""").fetchone()
    assert row == ("bulbasaur", "grass", "poison", 1, "generation-i", 7, 69, 45, 49, 49, 65, 65, 45)


def test_pecharunt(db):
    row = db.execute(
        "SELECT p.slug, g.id, g.slug FROM pokemon p JOIN generations g ON g.id = p.generation_id WHERE p.id = 1025"
    ).fetchone()
    assert row == ("pecharunt", 9, "generation-ix")


def test_name_key_is_python_lower(db):
    rows = db.execute("SELECT name, name_key FROM pokedex_entries").fetchall()
    assert rows
    assert [r for r in rows if r[1] != r[0].lower()] == []


def test_only_known_languages(db):
    langs = {r[0] for r in db.execute("SELECT DISTINCT lang FROM pokedex_entries")}
    assert langs == LANGS
    assert {r[0] for r in db.execute("SELECT tag FROM languages")} == LANGS


def test_no_pseudo_types(db):
    assert db.execute("SELECT slug FROM types WHERE id >= 10000").fetchall() == []


def test_entries_hold_every_pokemon_in_every_language_with_its_species_facts(db):
    entries = db.execute("SELECT COUNT(*), COUNT(DISTINCT pokemon_id), COUNT(DISTINCT lang) FROM pokedex_entries")
    assert entries.fetchone() == (1025 * 12, 1025, 12)
    mismatched = db.execute(
        "SELECT COUNT(*) FROM pokedex_entries e JOIN pokemon p ON p.id = e.pokemon_id"
        " JOIN types t1 ON t1.id = p.primary_type_id LEFT JOIN types t2 ON t2.id = p.secondary_type_id"
        " WHERE e.slug <> p.slug OR e.generation_id <> p.generation_id OR e.primary_type <> t1.slug"
        " OR COALESCE(e.secondary_type, '') <> COALESCE(t2.slug, '') OR e.height <> p.height"
        " OR e.weight <> p.weight OR e.hp <> p.hp OR e.attack <> p.attack OR e.defense <> p.defense"
        " OR e.special_attack <> p.special_attack OR e.special_defense <> p.special_defense OR e.speed <> p.speed")
    assert mismatched.fetchone()[0] == 0


def test_entry_names_are_the_csv_names(db):
    """Read straight from PokéAPI's CSV, independently of the generator."""
    tags = {1: "ja-Hrkt", 2: "ja-Latn", 3: "ko", 4: "zh-Hant", 5: "fr", 6: "de", 7: "es", 8: "it", 9: "en",
            11: "ja", 12: "zh-Hans", 14: "es-419"}
    with open(DATA / "pokemon_species_names.csv", encoding="utf-8", newline="") as f:
        expected = {(int(r["pokemon_species_id"]), tags[int(r["local_language_id"])]): r["name"]
                    for r in csv.DictReader(f) if int(r["local_language_id"]) in tags and r["name"]}
    stored = {(pid, lang): (name, name_lang) for pid, lang, name, name_lang in
              db.execute("SELECT pokemon_id, lang, name, name_lang FROM pokedex_entries")}
    for (pid, lang), (name, name_lang) in stored.items():
        if (pid, lang) in expected:
            assert (name, name_lang) == (expected[pid, lang], lang), (pid, lang)
        else:
            assert (name, name_lang) == (expected[pid, "en"], "en"), (pid, lang)
    assert stored[83, "en"] == ("Farfetch\u2019d", "en")
