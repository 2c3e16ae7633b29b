#include "text/number.hpp"

#include <charconv>

namespace text {

bool is_plain_digits(std::string_view value) {
  return !value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos;
}

std::optional<int> parse_bounded_int(std::string_view value, int min, int max) {
  if (value.size() > 9 || !is_plain_digits(value)) return std::nullopt;
  int number = 0;
  std::from_chars(value.data(), value.data() + value.size(), number);
  if (number < min || number > max) return std::nullopt;
  return number;
}

}  // namespace text
