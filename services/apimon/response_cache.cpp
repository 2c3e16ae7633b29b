#include "response_cache.hpp"

namespace apimon {

ResponseCache::ResponseCache(ResponseCacheOptions options)
    : options_(options),
      capacity_per_shard_((options.max_entries + shard_count - 1) / shard_count),
      shards_(shard_count) {}

ResponseCache::Shard& ResponseCache::shard_for(std::string_view key) {
  return shards_[StringHash{}(key) % shard_count];
}

ResponseCache::Body ResponseCache::find(std::string_view key, Clock::time_point now) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  const auto found = shard.index.find(key);
  if (found == shard.index.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  if (found->second->expires <= now) {
    shard.recency.erase(found->second);
    shard.index.erase(found);
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  shard.recency.splice(shard.recency.begin(), shard.recency, found->second);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return found->second->body;
}

void ResponseCache::insert(std::string_view key, Body body, Clock::time_point now) {
  if (!enabled() || key.size() > options_.max_key_bytes) return;
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  const auto expires = now + options_.ttl;
  if (const auto found = shard.index.find(key); found != shard.index.end()) {
    found->second->body = std::move(body);
    found->second->expires = expires;
    shard.recency.splice(shard.recency.begin(), shard.recency, found->second);
    return;
  }
  if (shard.index.size() >= capacity_per_shard_) {
    shard.index.erase(shard.recency.back().key);
    shard.recency.pop_back();
  }
  shard.recency.push_front(Entry{std::string(key), std::move(body), expires});
  shard.index.emplace(shard.recency.front().key, shard.recency.begin());
}

std::size_t ResponseCache::size() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.index.size();
  }
  return total;
}

}  // namespace apimon
