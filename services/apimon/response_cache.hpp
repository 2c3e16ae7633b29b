#pragma once
// A bounded, expiring cache of rendered response bodies, keyed by request
// target. Off unless configured: the study stack wants every request to reach
// the database.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace apimon {

struct ResponseCacheOptions {
  std::size_t max_entries = 0;  // 0 disables the cache; split over 8 shards, so rounded up to a multiple of 8
  std::chrono::milliseconds ttl{60'000};
  std::size_t max_key_bytes = 256;  // longer keys are never cached
};

class ResponseCache {
 public:
  using Body = std::shared_ptr<const std::string>;
  using Clock = std::chrono::steady_clock;

  explicit ResponseCache(ResponseCacheOptions options);

  bool enabled() const { return options_.max_entries > 0; }
  // nullptr on a miss or an expired entry.
  Body find(std::string_view key, Clock::time_point now = Clock::now());
  void insert(std::string_view key, Body body, Clock::time_point now = Clock::now());

  std::uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  std::uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  std::size_t size() const;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  struct Entry {
    std::string key;
    Body body;
    Clock::time_point expires;
  };
  // Shards keep threads on different keys off each other's lock.
  struct Shard {
    mutable std::mutex mutex;
    std::list<Entry> recency;  // most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator, StringHash, std::equal_to<>> index;
  };
  static constexpr std::size_t shard_count = 8;

  Shard& shard_for(std::string_view key);

  ResponseCacheOptions options_;
  std::size_t capacity_per_shard_;
  std::vector<Shard> shards_;
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
};

}  // namespace apimon
