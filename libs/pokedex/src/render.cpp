#include "pokedex/render.hpp"

#include <json_writer/json_writer.hpp>

#include <charconv>
#include <limits>

namespace pokedex {
namespace {

void write_types(json_writer::Writer& json, const std::vector<std::string>& types) {
  json.key("types").begin_array();
  for (const auto& type : types) json.value(type);
  json.end_array();
}

constexpr std::size_t number_bound = std::numeric_limits<int>::digits10 + 2;  // "-2147483648"

char* put_number(char* out, int value) { return std::to_chars(out, out + number_bound, value).ptr; }

}  // namespace

// The hot path of every uncached lookup. The body is written through a
// cursor into room sized once for its worst case, then cut to length: one
// allocation, and no capacity check per piece.
std::string render_pokemon(const Pokemon& pokemon) {
  // Keys and punctuation take 164 bytes, and a comma per type after the
  // first; then eleven numbers.
  constexpr std::size_t fixed_text_bound = 256;
  std::size_t bound = fixed_text_bound + (11 * number_bound) + json_writer::escaped_size_bound(pokemon.name.size()) +
                      json_writer::escaped_size_bound(tag(pokemon.name_language).size()) +
                      json_writer::escaped_size_bound(pokemon.slug.size());
  for (const auto& type : pokemon.types) bound += 1 + json_writer::escaped_size_bound(type.size());

  std::string body(bound, '\0');
  char* out = body.data();
  out = json_writer::write_raw(out, R"({"id":)");
  out = put_number(out, pokemon.id);
  out = json_writer::write_raw(out, R"(,"name":)");
  out = json_writer::write_escaped(out, pokemon.name);
  out = json_writer::write_raw(out, R"(,"lang":)");
  out = json_writer::write_escaped(out, tag(pokemon.name_language));
  out = json_writer::write_raw(out, R"(,"slug":)");
  out = json_writer::write_escaped(out, pokemon.slug);
  out = json_writer::write_raw(out, R"(,"generation":)");
  out = put_number(out, pokemon.generation);
  out = json_writer::write_raw(out, R"(,"types":[)");
  for (std::size_t i = 0; i < pokemon.types.size(); ++i) {
    if (i > 0) *out++ = ',';
    out = json_writer::write_escaped(out, pokemon.types[i]);
  }
  out = json_writer::write_raw(out, R"(],"height":)");
  out = put_number(out, pokemon.height);
  out = json_writer::write_raw(out, R"(,"weight":)");
  out = put_number(out, pokemon.weight);
  const BaseStats& stats = pokemon.base_stats;
  out = json_writer::write_raw(out, R"(,"base_stats":{"hp":)");
  out = put_number(out, stats.hp);
  out = json_writer::write_raw(out, R"(,"attack":)");
  out = put_number(out, stats.attack);
  out = json_writer::write_raw(out, R"(,"defense":)");
  out = put_number(out, stats.defense);
  out = json_writer::write_raw(out, R"(,"special_attack":)");
  out = put_number(out, stats.special_attack);
  out = json_writer::write_raw(out, R"(,"special_defense":)");
  out = put_number(out, stats.special_defense);
  out = json_writer::write_raw(out, R"(,"speed":)");
  out = put_number(out, stats.speed);
  out = json_writer::write_raw(out, "}}");
  body.resize(static_cast<std::size_t>(out - body.data()));
  return body;
}

std::string render_listing(const Listing& listing, Page page, std::string_view next_link) {
  std::string body;
  body.reserve(64 + listing.items.size() * 80);
  json_writer::Writer json(body);
  json.begin_object().key("results").begin_array();
  for (const auto& item : listing.items) {
    json.begin_object().member("id", item.id).member("name", item.name).member("slug", item.slug);
    write_types(json, item.types);
    json.end_object();
  }
  json.end_array().member("limit", page.limit).member("offset", page.offset).key("next");
  if (listing.has_more)
    json.value(next_link);
  else
    json.null();
  json.end_object();
  return body;
}

}  // namespace pokedex
