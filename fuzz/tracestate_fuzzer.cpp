// The W3C tracestate header, kept only when valid: what is kept is the header
// itself (trimmed), is kept again unchanged, and has at most 32 members with
// distinct keys.
#include "fuzz_input.hpp"

#include <text/text.hpp>
#include <trace/trace_context.hpp>

#include <algorithm>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = fuzz::as_text(data, size);
  const auto kept = trace::validate_tracestate(input);
  if (kept.empty()) return 0;
  FUZZ_CHECK(kept == text::trim(input));
  FUZZ_CHECK(trace::validate_tracestate(kept) == kept);

  std::vector<std::string_view> keys;
  std::string_view rest = kept;
  while (!rest.empty()) {
    const auto member = text::trim(fuzz::take_field(rest, ','));
    if (member.empty()) continue;
    const auto equals = member.find('=');
    FUZZ_CHECK(equals != std::string_view::npos && equals > 0);
    const auto key = member.substr(0, equals);
    FUZZ_CHECK(std::find(keys.begin(), keys.end(), key) == keys.end());
    keys.push_back(key);
  }
  FUZZ_CHECK(!keys.empty() && keys.size() <= 32);
  return 0;
}
