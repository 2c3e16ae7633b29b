// Retry-After from an OTLP collector, as delta-seconds or an HTTP date: a
// wait from zero to a day or nothing. A date that parses prints as an
// IMF-fixdate that parses to the same time.
#include "fuzz_input.hpp"

#include "retry_policy.hpp"

#include <http/http_date.hpp>

#include <array>
#include <ctime>
#include <string>

namespace {

constexpr std::time_t now = 1'700'000'000;  // a fixed "now": the same input gives the same answer

std::string imf_fixdate(std::time_t when) {
  std::tm utc{};
  gmtime_r(&when, &utc);
  std::array<char, 64> text{};
  const auto length = std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return {text.data(), length};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = fuzz::as_text(data, size);
  if (const auto wait = otlp::parse_retry_after(input, now)) {
    FUZZ_CHECK(wait->count() >= 0 && wait->count() <= std::int64_t{24} * 3600);
  }
  if (const auto when = http::parse_http_date(input)) {
    FUZZ_CHECK(*when >= 0);
    const auto printed = imf_fixdate(*when);
    FUZZ_CHECK(http::parse_http_date(printed) == when);
    const auto wait = otlp::parse_retry_after(input, now);
    FUZZ_CHECK(wait.has_value());
  }
  return 0;
}
