#pragma once
// Turns result rows into the domain model. `Row` is any backend's cursor with
// integer(i), text(i) -> std::string_view and is_null(i).
#include "pokedex/model.hpp"

namespace pokedex::rows {

template <class Row>
void read_types(const Row& row, int primary, std::vector<std::string>& types) {
  types.reserve(2);  // one or two: one allocation, not a second to grow
  types.emplace_back(row.text(primary));
  if (!row.is_null(primary + 1)) types.emplace_back(row.text(primary + 1));
}

// Columns 0..5: id, slug, name, the name's language, type 1, type 2 or NULL.
template <class Row>
PokemonSummary read_summary(const Row& row) {
  PokemonSummary summary;
  summary.id = row.integer(0);
  summary.slug = row.text(1);
  summary.name = row.text(2);
  read_types(row, 4, summary.types);
  return summary;
}

// Summary columns, then generation, height, weight and the six base stats.
template <class Row>
Pokemon read_pokemon(const Row& row) {
  Pokemon pokemon;
  pokemon.id = row.integer(0);
  pokemon.slug = row.text(1);
  pokemon.name = row.text(2);
  pokemon.name_language = parse_language(row.text(3)).value_or(Language::en);
  read_types(row, 4, pokemon.types);
  pokemon.generation = row.integer(6);
  pokemon.height = row.integer(7);
  pokemon.weight = row.integer(8);
  pokemon.base_stats = {row.integer(9),  row.integer(10), row.integer(11),
                        row.integer(12), row.integer(13), row.integer(14)};
  return pokemon;
}

// Reads up to page.limit rows; one more row than the limit means a next page exists.
template <class Cursor>
Listing read_listing(Cursor& cursor, Page page) {
  Listing listing;
  listing.items.reserve(static_cast<std::size_t>(page.limit));
  while (cursor.next()) {
    if (static_cast<int>(listing.items.size()) == page.limit) {
      listing.has_more = true;
      break;
    }
    listing.items.push_back(read_summary(cursor));
  }
  return listing;
}

}  // namespace pokedex::rows
