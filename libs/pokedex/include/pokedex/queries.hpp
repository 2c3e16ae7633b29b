#pragma once
// The SQL both backends prepare. Plain SQL with `?` placeholders that MariaDB,
// MySQL and SQLite all accept; schema in db/schema.sql.

#include <cstddef>
#include <string>
#include <string_view>

namespace pokedex::queries {

// Every query reads the pokedex_entries read model: one row per Pokémon and
// language, so each is a single-table read on an index.
//
// Result columns shared by every query that returns Pokémon: id, slug, name,
// the language the name is in, primary type, secondary type (or NULL).
#define POKEDEX_SUMMARY_COLUMNS "pokemon_id, slug, name, name_lang, primary_type, secondary_type"

// Parameters: id, language. Extra columns after the summary ones:
// generation, height, weight, hp, attack, defense, special attack, special defense, speed.
inline constexpr const char* find_pokemon =
    "SELECT " POKEDEX_SUMMARY_COLUMNS
    ", generation_id, height, weight, hp, attack, defense, special_attack, special_defense, speed"
    " FROM pokedex_entries WHERE pokemon_id = ? AND lang = ?";

// find_pokemon for `count` ids at once, in no particular order. Parameters:
// language, then the ids. MysqlRepository answers concurrent lookups with it.
inline std::string find_pokemon_batch(std::size_t count) {
  std::string sql = "SELECT " POKEDEX_SUMMARY_COLUMNS
                    ", generation_id, height, weight, hp, attack, defense, special_attack, special_defense, speed"
                    " FROM pokedex_entries WHERE lang = ? AND pokemon_id IN (";
  for (std::size_t i = 0; i < count; ++i) sql += i == 0 ? "?" : ",?";
  sql += ')';
  return sql;
}

// Parameters: language, LIKE pattern, limit, offset.
inline constexpr const char* search_by_name =
    "SELECT " POKEDEX_SUMMARY_COLUMNS " FROM pokedex_entries"
    " WHERE lang = ? AND name_key LIKE ? ESCAPE '!' ORDER BY name_key, pokemon_id LIMIT ? OFFSET ?";

// Parameters: language, type slug, type slug, limit, offset.
inline constexpr const char* list_by_type =
    "SELECT " POKEDEX_SUMMARY_COLUMNS " FROM pokedex_entries"
    " WHERE lang = ? AND (primary_type = ? OR secondary_type = ?) ORDER BY pokemon_id LIMIT ? OFFSET ?";

// Parameters: language, generation, limit, offset.
inline constexpr const char* list_by_generation =
    "SELECT " POKEDEX_SUMMARY_COLUMNS " FROM pokedex_entries"
    " WHERE lang = ? AND generation_id = ? ORDER BY pokemon_id LIMIT ? OFFSET ?";

#undef POKEDEX_SUMMARY_COLUMNS

inline constexpr const char* type_exists = "SELECT id FROM types WHERE slug = ?";
inline constexpr const char* generation_exists = "SELECT id FROM generations WHERE id = ?";
inline constexpr const char* max_pokemon_id = "SELECT MAX(id) FROM pokemon";
inline constexpr const char* ping = "SELECT 1";

// Escapes LIKE's wildcards so that user input only ever matches as a literal prefix.
inline std::string like_prefix_pattern(std::string_view prefix) {
  std::string pattern;
  pattern.reserve(prefix.size() + 4);
  for (char c : prefix) {
    if (c == '%' || c == '_' || c == '!') pattern.push_back('!');
    pattern.push_back(c);
  }
  pattern.push_back('%');
  return pattern;
}

}  // namespace pokedex::queries
