#pragma once
// The SQL both backends prepare. Plain SQL with `?` placeholders that MariaDB,
// MySQL and SQLite all accept; schema in db/schema.sql.

#include <string>
#include <string_view>

namespace pokedex::queries {

// Result columns shared by every query that returns Pokémon:
// id, slug, English name, name in the requested language (or NULL),
// primary type slug, secondary type slug (or NULL).
#define POKEDEX_SUMMARY_COLUMNS "p.id, p.slug, en.name, local.name, t1.slug, t2.slug"
#define POKEDEX_NAME_AND_TYPE_JOINS                                               \
  " JOIN pokemon_names en ON en.pokemon_id = p.id AND en.lang = 'en'"             \
  " LEFT JOIN pokemon_names local ON local.pokemon_id = p.id AND local.lang = ?" \
  " JOIN types t1 ON t1.id = p.primary_type_id"                                   \
  " LEFT JOIN types t2 ON t2.id = p.secondary_type_id"

// Parameters: language, id. Extra columns after the summary ones:
// generation, height, weight, hp, attack, defense, special attack, special defense, speed.
inline constexpr const char* find_pokemon =
    "SELECT " POKEDEX_SUMMARY_COLUMNS
    ", p.generation_id, p.height, p.weight, p.hp, p.attack, p.defense, p.special_attack,"
    " p.special_defense, p.speed FROM pokemon p" POKEDEX_NAME_AND_TYPE_JOINS " WHERE p.id = ?";

// Parameters: language, search language, LIKE pattern, limit, offset.
inline constexpr const char* search_by_name =
    "SELECT " POKEDEX_SUMMARY_COLUMNS " FROM pokemon p" POKEDEX_NAME_AND_TYPE_JOINS
    " JOIN pokemon_names s ON s.pokemon_id = p.id AND s.lang = ? AND s.name_key LIKE ? ESCAPE '!'"
    " ORDER BY s.name_key, p.id LIMIT ? OFFSET ?";

// Parameters: language, type id, type id, limit, offset.
inline constexpr const char* list_by_type =
    "SELECT " POKEDEX_SUMMARY_COLUMNS " FROM pokemon p" POKEDEX_NAME_AND_TYPE_JOINS
    " WHERE p.primary_type_id = ? OR p.secondary_type_id = ? ORDER BY p.id LIMIT ? OFFSET ?";

// Parameters: language, generation, limit, offset.
inline constexpr const char* list_by_generation =
    "SELECT " POKEDEX_SUMMARY_COLUMNS " FROM pokemon p" POKEDEX_NAME_AND_TYPE_JOINS
    " WHERE p.generation_id = ? ORDER BY p.id LIMIT ? OFFSET ?";

#undef POKEDEX_SUMMARY_COLUMNS
#undef POKEDEX_NAME_AND_TYPE_JOINS

inline constexpr const char* type_id_by_slug = "SELECT id FROM types WHERE slug = ?";
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
