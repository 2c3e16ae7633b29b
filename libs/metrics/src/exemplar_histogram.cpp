#include "metrics/exemplar_histogram.hpp"

#include "histogram_family_support.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <stdexcept>
#include <utility>

namespace metrics {
namespace {

std::int64_t coarse_unix_now_ms() {
  std::timespec now{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

void check_bucket_boundaries(const std::vector<double>& boundaries) {
  for (std::size_t i = 0; i < boundaries.size(); ++i) {
    if (!std::isfinite(boundaries[i]))
      throw std::invalid_argument("histogram bucket boundaries must be finite (+Inf is implicit)");
    if (i > 0 && !(boundaries[i - 1] < boundaries[i]))
      throw std::invalid_argument("histogram bucket boundaries must be strictly increasing");
  }
}

template <typename Left, typename Right>
bool label_set_less(const Left& a, const Right& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    const auto& [x_name, x_value] = x;
    const auto& [y_name, y_value] = y;
    if (x_name != y_name) return x_name < y_name;
    return x_value < y_value;
  });
}

}  // namespace

ExemplarHistogram::ExemplarHistogram(const std::vector<double>& bucket_boundaries)
    : bucket_boundaries_(bucket_boundaries),
      cells_(bucket_boundaries.size() + 2),
      exemplars_(bucket_boundaries.size() + 1) {}

void ExemplarHistogram::keep_exemplar(double value, const trace::SpanContext& trace) {
  const Exemplar exemplar{trace.trace_id, trace.span_id, value, coarse_unix_now_ms()};
  const auto bucket = bucket_index(value);
  const std::lock_guard lock(exemplar_mutex_);
  exemplars_[bucket] = exemplar;
}

std::optional<Exemplar> ExemplarHistogram::exemplar(std::size_t bucket) const {
  const std::lock_guard lock(exemplar_mutex_);
  if (bucket >= exemplars_.size()) return std::nullopt;
  return exemplars_[bucket];
}

prometheus::ClientMetric::Histogram ExemplarHistogram::collect() const {
  return detail::cumulative_histogram(bucket_boundaries_, cells_, cells_.total_double(sum_cell()));
}

bool LabelSetLess::operator()(const prometheus::Labels& a, const prometheus::Labels& b) const {
  return label_set_less(a, b);
}

bool LabelSetLess::operator()(const prometheus::Labels& a, std::span<const prometheus::ClientMetric::Label> b) const {
  return label_set_less(a, b);
}

bool LabelSetLess::operator()(std::span<const prometheus::ClientMetric::Label> a, const prometheus::Labels& b) const {
  return label_set_less(a, b);
}

ExemplarHistogramFamily::ExemplarHistogramFamily(std::string name, std::string help,
                                                 std::vector<double> bucket_boundaries)
    : name_(std::move(name)), help_(std::move(help)), bucket_boundaries_(std::move(bucket_boundaries)) {
  detail::check_histogram_name(name_);
  check_bucket_boundaries(bucket_boundaries_);
}

ExemplarHistogram& ExemplarHistogramFamily::add(const prometheus::Labels& labels) {
  detail::check_histogram_labels(name_, labels);
  const std::lock_guard lock(mutex_);
  auto& series = series_[labels];
  if (!series) series = std::make_unique<ExemplarHistogram>(bucket_boundaries_);
  return *series;
}

const ExemplarHistogram* ExemplarHistogramFamily::find(std::span<const prometheus::ClientMetric::Label> labels) const {
  const std::lock_guard lock(mutex_);
  const auto found = series_.find(labels);
  return found == series_.end() ? nullptr : found->second.get();
}

std::vector<prometheus::MetricFamily> ExemplarHistogramFamily::Collect() const {
  const std::lock_guard lock(mutex_);
  return {detail::collect_histograms(name_, help_, series_)};
}

}  // namespace metrics
