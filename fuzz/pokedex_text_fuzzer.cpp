// The Pokédex's text parsers on a path segment or query value: case folding
// of a search prefix (UTF-8), the National Pokédex number and the language tag.
#include "fuzz_input.hpp"

#include <pokedex/model.hpp>
#include <pokedex/text.hpp>
#include <text/text.hpp>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = fuzz::as_text(data, size);

  // Folding keeps the length (every letter it lowers has a lower-case form of
  // the same UTF-8 length), is idempotent, and refuses only invalid UTF-8.
  if (const auto folded = pokedex::fold_case(input)) {
    FUZZ_CHECK(folded->size() == input.size());
    const auto again = pokedex::fold_case(*folded);
    FUZZ_CHECK(again.has_value() && *again == *folded);
    for (std::size_t i = 0; i < input.size(); ++i) {
      if (static_cast<unsigned char>(input[i]) < 0x80) FUZZ_CHECK((*folded)[i] == text::ascii_lower(input[i]));
    }
  }

  // One spelling per number: what parses prints back as the same digits.
  const auto id = pokedex::parse_pokedex_id(input);
  if (!id.error) {
    FUZZ_CHECK(id.value >= 0 && id.value <= pokedex::max_pokedex_id);
    FUZZ_CHECK(std::to_string(id.value) == input);
  } else {
    FUZZ_CHECK(id.value == 0);
  }

  if (const auto language = pokedex::parse_language(input)) {
    FUZZ_CHECK(text::iequals(pokedex::tag(*language), input));
    FUZZ_CHECK(pokedex::parse_language(pokedex::tag(*language)) == language);
  }
  return 0;
}
