// The shared text helpers every parser of headers, URLs and settings rests on:
// percent-decoding (query strings, database URLs, OTLP header values),
// trimming and bounded decimal numbers.
#include "fuzz_input.hpp"

#include <text/number.hpp>
#include <text/text.hpp>

#include <algorithm>
#include <string>

namespace {

// Each byte of `decoded` comes from one byte or one %XX escape of `input`.
void check_decoded(std::string_view input, const std::string& decoded, text::Plus plus) {
  FUZZ_CHECK(decoded.size() <= input.size());
  const auto escapes = static_cast<std::size_t>(std::count(input.begin(), input.end(), '%'));
  FUZZ_CHECK(decoded.size() == input.size() - 2 * escapes);
  if (escapes == 0) {
    std::string expected(input);
    if (plus == text::Plus::space) std::replace(expected.begin(), expected.end(), '+', ' ');
    FUZZ_CHECK(decoded == expected);
  }
}

// %XX for every byte: what decodes back to `bytes` whatever they are.
std::string encode_all(std::string_view bytes) {
  constexpr std::string_view hex = "0123456789ABCDEF";
  std::string encoded;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    encoded.push_back('%');
    encoded.push_back(hex[byte >> 4U]);
    encoded.push_back(hex[byte & 0xFU]);
  }
  return encoded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = fuzz::as_text(data, size);

  for (const auto plus : {text::Plus::literal, text::Plus::space}) {
    if (const auto decoded = text::percent_decode(input, plus)) check_decoded(input, *decoded, plus);
  }
  const auto round_trip = text::percent_decode(encode_all(input));
  FUZZ_CHECK(round_trip.has_value() && *round_trip == input);

  const auto trimmed = text::trim(input, text::ascii_whitespace);
  FUZZ_CHECK(trimmed.size() <= input.size());
  FUZZ_CHECK(text::trim(trimmed, text::ascii_whitespace) == trimmed);
  if (!trimmed.empty()) {
    FUZZ_CHECK(text::ascii_whitespace.find(trimmed.front()) == std::string_view::npos);
    FUZZ_CHECK(text::ascii_whitespace.find(trimmed.back()) == std::string_view::npos);
  }

  if (const auto number = text::parse_bounded_int(input, 0, 999'999'999)) {
    FUZZ_CHECK(text::is_plain_digits(input) && input.size() <= 9);
    const auto digits = input.find_first_not_of('0');
    FUZZ_CHECK(std::to_string(*number) == (digits == std::string_view::npos ? "0" : input.substr(digits)));
  }
  return 0;
}
