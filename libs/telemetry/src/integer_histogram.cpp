#include "telemetry/integer_histogram.hpp"

#include <prometheus/check_names.h>

#include <limits>
#include <stdexcept>

namespace telemetry {

IntegerHistogram::IntegerHistogram(const std::vector<std::uint64_t>& bounds)
    : bounds_(bounds), counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

prometheus::ClientMetric::Histogram IntegerHistogram::collect() const {
  prometheus::ClientMetric::Histogram histogram;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    histogram.bucket.push_back({cumulative, static_cast<double>(bounds_[i])});
  }
  cumulative += counts_[bounds_.size()].load(std::memory_order_relaxed);
  histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  histogram.sample_count = cumulative;
  histogram.sample_sum = static_cast<double>(sum_.load(std::memory_order_relaxed));
  return histogram;
}

IntegerHistogramFamily::IntegerHistogramFamily(std::string name, std::string help, std::vector<std::uint64_t> bounds)
    : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)) {
  if (!prometheus::CheckMetricName(name_)) throw std::invalid_argument("invalid metric name: " + name_);
  for (std::size_t i = 1; i < bounds_.size(); ++i)
    if (bounds_[i] <= bounds_[i - 1]) throw std::invalid_argument(name_ + ": bucket bounds must increase");
}

IntegerHistogram& IntegerHistogramFamily::add(const prometheus::Labels& labels) {
  for (const auto& [label, value] : labels)
    if (!prometheus::CheckLabelName(label) || label == "le")
      throw std::invalid_argument(name_ + ": invalid label name: " + label);
  std::lock_guard lock(mutex_);
  auto& series = series_[labels];
  if (!series) series = std::make_unique<IntegerHistogram>(bounds_);
  return *series;
}

std::vector<prometheus::MetricFamily> IntegerHistogramFamily::Collect() const {
  prometheus::MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type = prometheus::MetricType::Histogram;
  std::lock_guard lock(mutex_);
  for (const auto& [labels, series] : series_) {
    prometheus::ClientMetric metric;
    for (const auto& [label, value] : labels) metric.label.push_back({label, value});
    metric.histogram = series->collect();
    family.metric.push_back(std::move(metric));
  }
  return {std::move(family)};
}

}  // namespace telemetry
