#include "pokedex/text.hpp"

#include "pokedex/model.hpp"
#include "text/number.hpp"
#include "text/text.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace pokedex {
namespace {

// Decodes one code point starting at text[i]; returns its length or 0 if invalid.
std::size_t decode(std::string_view text, std::size_t i, char32_t& code_point) {
  const auto lead = static_cast<unsigned char>(text[i]);
  std::size_t length;
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07;
  } else
    return 0;
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  static constexpr std::array<char32_t, 5> shortest = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < shortest[length] || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF))
    return 0;
  return length;
}

void encode(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char32_t lower(char32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 0x20;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 0x20;        // Latin-1: À..Þ except ×
  if (cp >= 0x100 && cp <= 0x137 && cp != 0x130) return cp | 1;        // Latin Extended-A pairs: Ā/ā ..
  if (cp >= 0x139 && cp <= 0x148) return (cp & 1) != 0 ? cp + 1 : cp;  // Ĺ/ĺ .. Ň/ň (odd is upper)
  if (cp >= 0x14A && cp <= 0x177) return cp | 1;                       // Ŋ/ŋ .. Ŷ/ŷ
  if (cp == 0x178) return 0xFF;                                        // Ÿ
  if (cp >= 0x179 && cp <= 0x17E) return (cp & 1) != 0 ? cp + 1 : cp;  // Ź/ź .. Ž/ž
  return cp;
}

}  // namespace

std::optional<std::string> fold_case(std::string_view utf8) {
  std::string folded;
  folded.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    char32_t cp;
    const std::size_t length = decode(utf8, i, cp);
    if (length == 0) return std::nullopt;
    encode(folded, lower(cp));
    i += length;
  }
  return folded;
}

ParsedId parse_pokedex_id(std::string_view digits) {
  ParsedId parsed;
  // One spelling per resource: "25", never "025" (but "0" is a number, just not a Pokémon's).
  if (!text::is_plain_digits(digits) || (digits.size() > 1 && digits.front() == '0')) {
    parsed.error = IdError::not_a_number;
    return parsed;
  }
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed.value);
  if (ec == std::errc::result_out_of_range || parsed.value > max_pokedex_id) {
    parsed.value = 0;
    parsed.error = IdError::out_of_range;
  }
  return parsed;
}

std::optional<Language> parse_language(std::string_view text) {
  for (std::size_t i = 0; i < language_tags.size(); ++i)
    if (text::iequals(language_tags[i], text)) return static_cast<Language>(i);
  return std::nullopt;
}

}  // namespace pokedex
