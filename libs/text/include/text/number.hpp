#pragma once
// Non-negative integers as paths and query strings carry them: plain decimal
// digits, with no sign, spaces, point, exponent or anything after them.
#include <optional>
#include <string_view>

namespace text {

// One or more ASCII digits and nothing else.
bool is_plain_digits(std::string_view value);

// `value` as an integer from `min` to `max` (both non-negative), in plain
// digits; at most nine of them, so it never overflows. Leading zeros are
// accepted: "020" is 20.
std::optional<int> parse_bounded_int(std::string_view value, int min, int max);

}  // namespace text
