#include "metrics/integer_histogram.hpp"

#include "histogram_family_support.hpp"

#include <stdexcept>

namespace metrics {

IntegerHistogram::IntegerHistogram(const std::vector<std::uint64_t>& bounds)
    : bounds_(bounds), cells_(bounds.size() + 2) {}

prometheus::ClientMetric::Histogram IntegerHistogram::collect() const {
  return detail::cumulative_histogram(bounds_, cells_, static_cast<double>(cells_.total(sum_cell())));
}

IntegerHistogramFamily::IntegerHistogramFamily(std::string name, std::string help, std::vector<std::uint64_t> bounds)
    : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)) {
  detail::check_histogram_name(name_);
  for (std::size_t i = 1; i < bounds_.size(); ++i)
    if (bounds_[i] <= bounds_[i - 1]) throw std::invalid_argument(name_ + ": bucket bounds must increase");
}

IntegerHistogram& IntegerHistogramFamily::add(const prometheus::Labels& labels) {
  detail::check_histogram_labels(name_, labels);
  std::lock_guard lock(mutex_);
  auto& series = series_[labels];
  if (!series) series = std::make_unique<IntegerHistogram>(bounds_);
  return *series;
}

std::vector<prometheus::MetricFamily> IntegerHistogramFamily::Collect() const {
  std::lock_guard lock(mutex_);
  return {detail::collect_histograms(name_, help_, series_)};
}

}  // namespace metrics
