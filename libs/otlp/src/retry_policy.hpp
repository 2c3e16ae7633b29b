#pragma once
// When a failed export is tried again: which answers are worth another
// attempt, how long to wait before it (exponential backoff with jitter), and
// what a Retry-After asks for.
#include <chrono>
#include <ctime>
#include <optional>
#include <random>
#include <string_view>

namespace otlp {

// 429, 502, 503 and 504: the collector is overloaded or briefly away.
bool is_retryable_status(unsigned status);

// The wait before retry number `retry` (1 for the second attempt): a uniform
// pick in [d/2, d] for d = initial_backoff * 2^(retry-1), capped at max_backoff.
std::chrono::milliseconds backoff_delay(int retry, std::chrono::milliseconds initial_backoff,
                                        std::chrono::milliseconds max_backoff, std::mt19937_64& random);

// Retry-After as delta-seconds or an HTTP date (a past date is 0 s from
// `now`), at most a day; nullopt when unreadable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::time_t now);

}  // namespace otlp
