#pragma once
// Histograms of whole numbers, such as body sizes in bytes, for the request
// path: an observation is one bucket search over integers and two additions
// to the calling thread's own cells (ThreadShardedCells), with no lock and no
// locked instruction. prometheus-cpp's histogram takes a mutex and keeps its
// counts and sum as doubles, each changed by a compare-and-swap loop.
#include "sharded_cells/thread_sharded_cells.hpp"

#include <prometheus/collectable.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace metrics {

class IntegerHistogram {
 public:
  // `bounds`: the upper bounds of the buckets, strictly increasing (+Inf is implicit).
  explicit IntegerHistogram(const std::vector<std::uint64_t>& bounds);

  void observe(std::uint64_t value) {
    std::size_t bucket = 0;
    while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
    const auto cells = cells_.writer();
    cells.add(bucket, 1);
    cells.add(sum_cell(), value);
  }

  // As prometheus-cpp collects a histogram: cumulative buckets, the count
  // (the +Inf bucket) and the sum.
  prometheus::ClientMetric::Histogram collect() const;

 private:
  std::size_t sum_cell() const { return bounds_.size() + 1; }

  const std::vector<std::uint64_t>& bounds_;
  sharded_cells::ThreadShardedCells cells_;  // a count per bucket, then +Inf (not cumulative), then the sum
};

// A family of IntegerHistograms by labels; register it with
// MetricsRegistry::add_collectable.
class IntegerHistogramFamily final : public prometheus::Collectable {
 public:
  IntegerHistogramFamily(std::string name, std::string help, std::vector<std::uint64_t> bounds);

  // The series with these labels, created on first use; look it up once and
  // keep the reference. Throws std::invalid_argument for an invalid label name.
  IntegerHistogram& add(const prometheus::Labels& labels);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::uint64_t> bounds_;
  mutable std::mutex mutex_;
  std::map<prometheus::Labels, std::unique_ptr<IntegerHistogram>> series_;
};

}  // namespace metrics
