#pragma once
// ASCII text helpers for the parsers of headers, URLs, query strings and
// settings. Each works on bytes: nothing here knows about UTF-8.
#include <optional>
#include <string>
#include <string_view>

namespace text {

// HTTP's optional whitespace (RFC 9110 section 5.6.3), also the W3C trace
// context and baggage headers' and the Accept header's.
inline constexpr std::string_view optional_whitespace = " \t";
// What C's isspace accepts in the "C" locale: for environment variables and
// files, where a stray newline or carriage return is common.
inline constexpr std::string_view ascii_whitespace = " \t\r\n\f\v";

// `value` without the leading and trailing characters found in `characters`.
std::string_view trim(std::string_view value, std::string_view characters = optional_whitespace);

char ascii_lower(char c);
// Equal ignoring the case of ASCII letters (header names, media types, enum
// values in settings).
bool iequals(std::string_view a, std::string_view b);

// 0..15 for a hexadecimal digit of either case, -1 otherwise.
int hex_digit_value(char c);

// What a '+' means to the decoder: itself (URL paths and userinfo, W3C
// Baggage) or a space (application/x-www-form-urlencoded query strings).
enum class Plus { literal, space };
// Decodes %XX escapes; nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view value, Plus plus = Plus::literal);

}  // namespace text
