#pragma once
// What every fuzz target shares: the input as text, and the checks a target
// makes of a parser's answer. A failed check prints the condition and aborts,
// which libFuzzer reports as a crash and saves the input for. Not assert():
// the targets build with NDEBUG, as the services do.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(condition) ::fuzz::check(static_cast<bool>(condition), #condition, __FILE__, __LINE__)

namespace fuzz {

inline void check(bool holds, const char* condition, const char* file, int line) {
  if (holds) return;
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, condition);
  std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits off the text before the first `separator` (all of it when there is
// none), consuming it and the separator: several fields from one input.
inline std::string_view take_field(std::string_view& input, char separator = '\n') {
  const auto end = input.find(separator);
  const auto field = input.substr(0, end);
  input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
  return field;
}

}  // namespace fuzz
