#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pokedex {

// The languages the PokéAPI data names Pokémon in, as BCP 47 tags.
enum class Language : std::uint8_t { en, ja, ja_Hrkt, ja_Latn, ko, zh_Hant, zh_Hans, fr, de, es, es_419, it };

inline constexpr std::array<std::string_view, 12> language_tags = {"en", "ja",      "ja-Hrkt", "ja-Latn",
                                                                   "ko", "zh-Hant", "zh-Hans", "fr",
                                                                   "de", "es",      "es-419",  "it"};

inline std::string_view tag(Language language) { return language_tags[static_cast<std::size_t>(language)]; }

// Case-insensitive, as BCP 47 tags are ("zh-hant" is "zh-Hant").
std::optional<Language> parse_language(std::string_view text);

struct BaseStats {
  int hp = 0;
  int attack = 0;
  int defense = 0;
  int special_attack = 0;
  int special_defense = 0;
  int speed = 0;
};

struct Pokemon {
  int id = 0;        // National Pokédex number
  std::string slug;  // "mr-mime"
  std::string name;  // display name in `name_language`: "Mr. Mime"
  Language name_language = Language::en;
  int generation = 0;
  std::vector<std::string> types;  // slot order
  int height = 0;                  // decimetres
  int weight = 0;                  // hectograms
  BaseStats base_stats;
};

struct PokemonSummary {
  int id = 0;
  std::string slug;
  std::string name;
  std::vector<std::string> types;
};

struct Page {
  int limit = 20;
  int offset = 0;
};

// One page of a listing; `has_more` says whether a next page exists.
struct Listing {
  std::vector<PokemonSummary> items;
  bool has_more = false;
};

}  // namespace pokedex
