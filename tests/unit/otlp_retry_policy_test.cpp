#include "retry_policy.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

using namespace std::chrono_literals;

TEST(OtlpRetryPolicy, OnlyOverloadAndGatewayStatusesAreRetried) {
  for (const unsigned status : {429u, 502u, 503u, 504u}) EXPECT_TRUE(otlp::is_retryable_status(status)) << status;
  for (const unsigned status : {200u, 204u, 400u, 401u, 403u, 404u, 408u, 413u, 500u, 501u, 505u})
    EXPECT_FALSE(otlp::is_retryable_status(status)) << status;
}

TEST(OtlpRetryPolicy, BackoffDoublesWithJitterUpToItsCap) {
  std::mt19937_64 random(42);
  struct Expected {
    int retry;
    std::chrono::milliseconds low, high;
  };
  for (const auto& [retry, low, high] :
       {Expected{1, 50ms, 100ms}, Expected{2, 100ms, 200ms}, Expected{3, 200ms, 400ms}, Expected{4, 400ms, 800ms},
        Expected{5, 500ms, 1000ms}, Expected{64, 500ms, 1000ms}, Expected{1000, 500ms, 1000ms}}) {
    for (int draw = 0; draw < 50; ++draw) {
      const auto delay = otlp::backoff_delay(retry, 100ms, 1000ms, random);
      EXPECT_GE(delay, low) << "retry " << retry;
      EXPECT_LE(delay, high) << "retry " << retry;
    }
  }
}

TEST(OtlpRetryPolicy, BackoffIsJittered) {
  std::mt19937_64 random(7);
  std::set<std::chrono::milliseconds::rep> seen;
  for (int draw = 0; draw < 100; ++draw) seen.insert(otlp::backoff_delay(1, 1000ms, 5000ms, random).count());
  EXPECT_GT(seen.size(), 10u);
}

TEST(OtlpRetryPolicy, NoBackoffWhenEitherBoundIsZero) {
  std::mt19937_64 random(1);
  EXPECT_EQ(otlp::backoff_delay(1, 0ms, 1000ms, random), 0ms);
  EXPECT_EQ(otlp::backoff_delay(3, 100ms, 0ms, random), 0ms);
}

// Sun, 06 Nov 1994 08:49:37 GMT.
constexpr std::time_t now = 784111777;

TEST(OtlpRetryPolicy, RetryAfterInSeconds) {
  EXPECT_EQ(otlp::parse_retry_after("0", now), 0s);
  EXPECT_EQ(otlp::parse_retry_after("120", now), 120s);
  EXPECT_EQ(otlp::parse_retry_after("86400", now), 86400s);
  EXPECT_EQ(otlp::parse_retry_after("86401", now), 86400s) << "at most a day";
  EXPECT_EQ(otlp::parse_retry_after("99999999999999999999999", now), 86400s) << "too large for any integer";
}

TEST(OtlpRetryPolicy, RetryAfterAsAnHttpDate) {
  EXPECT_EQ(otlp::parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now), 60s);
  EXPECT_EQ(otlp::parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now), 10s);
  EXPECT_EQ(otlp::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 0s);
  EXPECT_EQ(otlp::parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), 0s) << "a past date: at once";
  EXPECT_EQ(otlp::parse_retry_after("Tue, 08 Nov 1994 08:49:37 GMT", now), 86400s) << "at most a day";
}

TEST(OtlpRetryPolicy, UnreadableRetryAfter) {
  for (const char* value : {"", "soon", "-5", "1.5", "5 ", "+5", "Sun, 06 Nov 1994"})
    EXPECT_FALSE(otlp::parse_retry_after(value, now)) << '"' << value << '"';
}

}  // namespace
