#include "response_cache.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace {
apimon::ResponseCache::Body body(const char* text) { return std::make_shared<const std::string>(text); }
}  // namespace

TEST(ResponseCache, DisabledByDefault) {
  apimon::ResponseCache cache({});
  EXPECT_FALSE(cache.enabled());
  cache.insert("/pokemon/1", body("x"));
  EXPECT_EQ(cache.find("/pokemon/1"), nullptr);
}

TEST(ResponseCache, HitsUntilTheEntryExpires) {
  apimon::ResponseCache cache({.max_entries = 16, .ttl = 1000ms});
  const auto now = apimon::ResponseCache::Clock::now();
  cache.insert("/pokemon/1", body("bulbasaur"), now);
  ASSERT_NE(cache.find("/pokemon/1", now + 999ms), nullptr);
  EXPECT_EQ(*cache.find("/pokemon/1", now + 999ms), "bulbasaur");
  EXPECT_EQ(cache.find("/pokemon/1", now + 1000ms), nullptr);
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ResponseCache, StaysWithinItsBoundEvictingTheLeastRecentlyUsed) {
  apimon::ResponseCache cache({.max_entries = 8, .ttl = 60s});
  for (int i = 0; i < 1000; ++i) cache.insert("/pokemon/" + std::to_string(i), body("x"));
  EXPECT_LE(cache.size(), 8u);
  EXPECT_NE(cache.find("/pokemon/999"), nullptr);
  EXPECT_EQ(cache.find("/pokemon/0"), nullptr);
}

TEST(ResponseCache, NeverStoresOversizedKeys) {
  apimon::ResponseCache cache({.max_entries = 8, .ttl = 60s, .max_key_bytes = 16});
  cache.insert(std::string(17, 'k'), body("x"));
  EXPECT_EQ(cache.size(), 0u);
}
