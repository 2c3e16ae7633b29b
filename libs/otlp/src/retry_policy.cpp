#include "retry_policy.hpp"

#include "http/http_date.hpp"

#include <algorithm>
#include <charconv>

namespace otlp {

using namespace std::chrono_literals;

bool is_retryable_status(unsigned status) { return status == 429 || status == 502 || status == 503 || status == 504; }

std::chrono::milliseconds backoff_delay(int retry, std::chrono::milliseconds initial_backoff,
                                        std::chrono::milliseconds max_backoff, std::mt19937_64& random) {
  auto delay = initial_backoff;
  for (int i = 1; i < retry && delay < max_backoff; ++i) delay *= 2;
  delay = std::min(delay, max_backoff);
  if (delay <= 0ms) return 0ms;
  std::uniform_int_distribution<std::chrono::milliseconds::rep> jitter(delay.count() / 2, delay.count());
  return std::chrono::milliseconds(jitter(random));
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::time_t now) {
  constexpr long long max_seconds = 24LL * 3600;
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long seconds = 0;
    const auto [ptr, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (error == std::errc::result_out_of_range) return std::chrono::seconds(max_seconds);
    if (error != std::errc{}) return std::nullopt;
    return std::chrono::seconds(std::min(seconds, max_seconds));
  }
  const auto when = http::parse_http_date(value);
  if (!when) return std::nullopt;
  const long long seconds = static_cast<long long>(*when) - static_cast<long long>(now);
  return std::chrono::seconds(std::clamp(seconds, 0LL, max_seconds));
}

}  // namespace otlp
