#pragma once
// Histograms whose buckets carry exemplars (the trace behind a point on a
// latency graph), which prometheus-cpp lacks.
#include "sharded_cells/thread_sharded_cells.hpp"
#include "trace/trace_context.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metrics {

// The latest traced observation that fell in one histogram bucket. The ids
// are kept as bytes: a scrape writes them in hex, not every observation.
struct Exemplar {
  trace::TraceId trace_id;
  trace::SpanId span_id;
  double value = 0;
  // Unix time from the coarse wall clock, which costs a fraction of the
  // precise one (3 ns against 20 ns on the bench's VM): it lags by at most
  // one kernel tick (1 to 10 ms), nothing on a graph of scrapes seconds apart.
  std::int64_t timestamp_ms = 0;
};

// One labelled histogram series. Made by ExemplarHistogramFamily::add; look it
// up once and keep the reference, since the lookup costs far more than observe.
//
// Its cells are its own rather than prometheus-cpp's: an observation adds to
// the calling thread's cells (ThreadShardedCells) with no lock and no locked
// instruction, where prometheus-cpp's histogram takes a mutex and then runs a
// compare-and-swap loop for the bucket and another for the sum. The price: a
// scrape that lands during an observation may see its bucket counted and its
// sum not yet (the count is always the buckets' total), which rate() over
// scrapes cannot tell.
class ExemplarHistogram {
 public:
  // `bucket_boundaries` (finite, strictly increasing) must outlive the series.
  explicit ExemplarHistogram(const std::vector<double>& bucket_boundaries);

  // The hot path: no lock, no allocation.
  void observe(double value) {
    const auto cells = cells_.writer();
    cells.add(bucket_index(value), 1);
    cells.add_double(sum_cell(), value);
  }

  // Also keeps {trace_id, span_id, value, now} as the exemplar of the bucket
  // `value` falls in, replacing the previous one, if `trace` is sampled (an
  // unsampled trace is in no backend to jump to) and valid.
  void observe(double value, const trace::SpanContext& trace) {
    observe(value);
    if (trace.sampled() && trace.valid()) keep_exemplar(value, trace);
  }

  // Buckets are numbered as a scrape lists them: one per boundary, then +Inf.
  // A value falls in the first bucket whose bound is >= value; NaN compares
  // false with every bound and lands in +Inf, as in prometheus-cpp. The
  // search is linear: latencies mostly fall in the first few buckets.
  std::size_t bucket_count() const { return exemplars_.size(); }
  std::size_t bucket_index(double value) const {
    std::size_t bucket = 0;
    const std::size_t bounded = bucket_boundaries_.size();
    while (bucket < bounded && !(value <= bucket_boundaries_[bucket])) ++bucket;
    return bucket;
  }
  std::optional<Exemplar> exemplar(std::size_t bucket) const;

  // Cumulative buckets, count and sum, as prometheus-cpp collects a histogram.
  prometheus::ClientMetric::Histogram collect() const;

 private:
  std::size_t sum_cell() const { return bucket_boundaries_.size() + 1; }
  void keep_exemplar(double value, const trace::SpanContext& trace);

  const std::vector<double>& bucket_boundaries_;  // the family's
  sharded_cells::ThreadShardedCells cells_;       // a count per bucket, then +Inf (not cumulative), then the sum's bits
  mutable std::mutex exemplar_mutex_;             // taken only by traced observations and scrapes
  std::vector<std::optional<Exemplar>> exemplars_;
};

// Orders label sets as prometheus-cpp's Labels (a sorted map) and as a
// collected ClientMetric lists them, so a scrape finds a series without
// building a map.
struct LabelSetLess {
  using is_transparent = void;
  bool operator()(const prometheus::Labels& a, const prometheus::Labels& b) const;
  bool operator()(const prometheus::Labels& a, std::span<const prometheus::ClientMetric::Label> b) const;
  bool operator()(std::span<const prometheus::ClientMetric::Label> a, const prometheus::Labels& b) const;
};

// A histogram family whose series keep exemplars. Made by
// MetricsRegistry::histogram_family, which also registers it for scrapes.
class ExemplarHistogramFamily final : public prometheus::Collectable {
 public:
  // Throws std::invalid_argument for an invalid metric name or boundaries
  // that are not finite and strictly increasing (+Inf is implicit).
  ExemplarHistogramFamily(std::string name, std::string help, std::vector<double> bucket_boundaries);

  // The series with these labels, created on first use. Throws
  // std::invalid_argument for an invalid label name (or "le").
  ExemplarHistogram& add(const prometheus::Labels& labels);

  const std::string& name() const { return name_; }
  const std::vector<double>& bucket_boundaries() const { return bucket_boundaries_; }

  // The series whose labels are exactly these (as collected), if any.
  const ExemplarHistogram* find(std::span<const prometheus::ClientMetric::Label> labels) const;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<double> bucket_boundaries_;
  mutable std::mutex mutex_;
  std::map<prometheus::Labels, std::unique_ptr<ExemplarHistogram>, LabelSetLess> series_;
};

}  // namespace metrics
