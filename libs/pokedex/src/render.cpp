#include "pokedex/render.hpp"

#include <json_writer/json_writer.hpp>

namespace pokedex {
namespace {

void write_types(json_writer::Writer& json, const std::vector<std::string>& types) {
  json.key("types").begin_array();
  for (const auto& type : types) json.value(type);
  json.end_array();
}

}  // namespace

std::string render_pokemon(const Pokemon& pokemon) {
  std::string body;
  body.reserve(320);
  json_writer::Writer json(body);
  json.begin_object()
      .member("id", pokemon.id)
      .member("name", pokemon.name)
      .member("lang", tag(pokemon.name_language))
      .member("slug", pokemon.slug)
      .member("generation", pokemon.generation);
  write_types(json, pokemon.types);
  json.member("height", pokemon.height).member("weight", pokemon.weight);
  const BaseStats& stats = pokemon.base_stats;
  json.key("base_stats")
      .begin_object()
      .member("hp", stats.hp)
      .member("attack", stats.attack)
      .member("defense", stats.defense)
      .member("special_attack", stats.special_attack)
      .member("special_defense", stats.special_defense)
      .member("speed", stats.speed)
      .end_object();
  json.end_object();
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
