#pragma once
// What ExemplarHistogram and IntegerHistogram, and their families, share:
// checking the names a scrape will show, and collecting their series.
#include "sharded_cells/thread_sharded_cells.hpp"

#include <prometheus/check_names.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace metrics::detail {

inline void check_histogram_name(const std::string& name) {
  if (!prometheus::CheckMetricName(name)) throw std::invalid_argument("invalid metric name: " + name);
}

// "le" is the bucket label a scrape adds to every histogram sample.
inline void check_histogram_labels(const std::string& family, const prometheus::Labels& labels) {
  for (const auto& [label, value] : labels) {
    if (!prometheus::CheckLabelName(label) || label == "le") {
      std::string message = family;
      message.append(": invalid label name: ").append(label);
      throw std::invalid_argument(message);
    }
  }
}

// A histogram as prometheus-cpp collects one (cumulative buckets, then +Inf,
// which is the count, and the sum) from cells holding one count per bound and
// one for +Inf, not cumulative.
template <typename Bound>
prometheus::ClientMetric::Histogram cumulative_histogram(const std::vector<Bound>& bounds,
                                                         const sharded_cells::ThreadShardedCells& cells, double sum) {
  prometheus::ClientMetric::Histogram histogram;
  histogram.bucket.reserve(bounds.size() + 1);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += cells.total(i);
    histogram.bucket.push_back({cumulative, static_cast<double>(bounds[i])});
  }
  cumulative += cells.total(bounds.size());
  histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  histogram.sample_count = cumulative;
  histogram.sample_sum = sum;
  return histogram;
}

// `series`: a map from label set to a pointer to something with collect().
template <typename SeriesMap>
prometheus::MetricFamily collect_histograms(const std::string& name, const std::string& help, const SeriesMap& series) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = prometheus::MetricType::Histogram;
  family.metric.reserve(series.size());
  for (const auto& [labels, histogram] : series) {
    prometheus::ClientMetric& metric = family.metric.emplace_back();
    for (const auto& [label, value] : labels) metric.label.push_back({label, value});
    metric.histogram = histogram->collect();
  }
  return family;
}

}  // namespace metrics::detail
