#include "pokedex/render.hpp"

#include <json_writer/json_writer.hpp>

#include <array>
#include <charconv>

namespace pokedex {
namespace {

void write_types(json_writer::Writer& json, const std::vector<std::string>& types) {
  json.key("types").begin_array();
  for (const auto& type : types) json.value(type);
  json.end_array();
}

}  // namespace

// The hot path of every uncached lookup: keys and punctuation are fixed, so
// they are appended as they stand and only the values are formatted.
std::string render_pokemon(const Pokemon& pokemon) {
  std::string body;
  body.reserve(320);
  const auto number = [&body](int value) {
    std::array<char, 12> digits;
    body.append(digits.data(), std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr);
  };
  const auto text = [&body](std::string_view value) { json_writer::append_escaped(body, value); };
  body.append(R"({"id":)");
  number(pokemon.id);
  body.append(R"(,"name":)");
  text(pokemon.name);
  body.append(R"(,"lang":)");
  text(tag(pokemon.name_language));
  body.append(R"(,"slug":)");
  text(pokemon.slug);
  body.append(R"(,"generation":)");
  number(pokemon.generation);
  body.append(R"(,"types":[)");
  for (std::size_t i = 0; i < pokemon.types.size(); ++i) {
    if (i > 0) body.push_back(',');
    text(pokemon.types[i]);
  }
  body.append(R"(],"height":)");
  number(pokemon.height);
  body.append(R"(,"weight":)");
  number(pokemon.weight);
  const BaseStats& stats = pokemon.base_stats;
  body.append(R"(,"base_stats":{"hp":)");
  number(stats.hp);
  body.append(R"(,"attack":)");
  number(stats.attack);
  body.append(R"(,"defense":)");
  number(stats.defense);
  body.append(R"(,"special_attack":)");
  number(stats.special_attack);
  body.append(R"(,"special_defense":)");
  number(stats.special_defense);
  body.append(R"(,"speed":)");
  number(stats.speed);
  body.append("}}");
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
