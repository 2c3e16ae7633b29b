#pragma once
// A high-dynamic-range latency histogram after HdrHistogram: counters in
// log-linear buckets, so one fixed array covers 1 ns to 60 s and any recorded
// value is known to within 1/128 (0.8 %) of itself. Recording is an index
// computation and an increment: no allocation, no search.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace pokeload {

class LatencyHistogram {
 public:
  // Each power of two is split into 128 equal sub-buckets; values below 256 ns
  // get a bucket each.
  static constexpr unsigned sub_bucket_bits = 7;
  static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;
  // Larger values count as this much (the exact maximum is still kept).
  static constexpr std::uint64_t highest_ns = 60'000'000'000;

  LatencyHistogram() : counts_(index_of(highest_ns) + 1, 0) {}

  void record(std::chrono::nanoseconds value) {
    const std::uint64_t ns = value.count() < 0 ? 0 : static_cast<std::uint64_t>(value.count());
    ++counts_[index_of(std::min(ns, highest_ns))];
    ++count_;
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
    sum_ns_ += static_cast<double>(ns);
  }

  void add(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    sum_ns_ += other.sum_ns_;
  }

  void reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = 0;
    min_ = std::numeric_limits<std::uint64_t>::max();
    max_ = 0;
    sum_ns_ = 0;
  }

  std::uint64_t count() const { return count_; }
  std::chrono::nanoseconds min() const { return std::chrono::nanoseconds(count_ != 0 ? min_ : 0); }
  std::chrono::nanoseconds max() const { return std::chrono::nanoseconds(max_); }
  std::chrono::nanoseconds mean() const {
    return std::chrono::nanoseconds(count_ != 0 ? std::llround(sum_ns_ / static_cast<double>(count_)) : 0);
  }

  // The value below or at which `percent` of the recorded values lie (the
  // nearest-rank definition), as the middle of its bucket and never outside
  // the recorded minimum and maximum; 0 when nothing was recorded.
  std::chrono::nanoseconds percentile(double percent) const {
    if (count_ == 0) return std::chrono::nanoseconds(0);
    const double wanted = std::ceil(std::clamp(percent, 0.0, 100.0) / 100.0 * static_cast<double>(count_));
    const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const std::uint64_t middle = lowest_equivalent(i) + bucket_width(i) / 2;
        return std::chrono::nanoseconds(std::clamp(middle, min_, max_));
      }
    }
    return max();
  }

  // The bucket layout, public for tests.
  static std::size_t index_of(std::uint64_t ns) {
    if (ns < 2 * sub_buckets) return static_cast<std::size_t>(ns);
    const unsigned shift = static_cast<unsigned>(std::bit_width(ns)) - 1 - sub_bucket_bits;
    return static_cast<std::size_t>(shift * sub_buckets + (ns >> shift));
  }
  static std::uint64_t lowest_equivalent(std::size_t index) {
    if (index < 2 * sub_buckets) return index;
    const std::uint64_t shift = index / sub_buckets - 1;
    return (index % sub_buckets + sub_buckets) << shift;
  }
  static std::uint64_t bucket_width(std::size_t index) {
    return index < 2 * sub_buckets ? 1 : std::uint64_t{1} << (index / sub_buckets - 1);
  }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ = 0;
  double sum_ns_ = 0;
};

}  // namespace pokeload
