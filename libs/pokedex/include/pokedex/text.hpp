#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace pokedex {

// Lower-cases ASCII, Latin-1 and Latin Extended-A letters, the alphabets of every
// language whose Pokémon names have case; other code points pass unchanged.
// Returns nullopt for invalid UTF-8.
std::optional<std::string> fold_case(std::string_view utf8);

// Parses a National Pokédex number: plain decimal digits as text::is_plain_digits
// takes them, without leading zeros, at most `max_pokedex_id`. Other integers
// (query parameters, sizes) go through text::parse_bounded_int.
// Zero parses (no Pokémon has it: the caller answers 404).
inline constexpr int max_pokedex_id = 1'000'000;
enum class IdError { not_a_number, out_of_range };
struct ParsedId {
  int value = 0;
  std::optional<IdError> error;
};
ParsedId parse_pokedex_id(std::string_view digits);

}  // namespace pokedex
