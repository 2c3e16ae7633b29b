#include "telemetry/metrics.hpp"

#include "histogram_family_support.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace telemetry {
namespace {

template <std::size_t N>
void write_hex(const std::array<std::uint8_t, N>& bytes, std::array<char, 2 * N>& to) {
  constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < N; ++i) {
    to[2 * i] = digits[bytes[i] >> 4];
    to[2 * i + 1] = digits[bytes[i] & 0xF];
  }
}

std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](const auto& x, const auto& y) {
                                        const auto& [x_name, x_value] = x;
                                        const auto& [y_name, y_value] = y;
                                        if (x_name != y_name) return x_name < y_name;
                                        return x_value < y_value;
                                      });
}

}  // namespace

ExemplarHistogram::ExemplarHistogram(const std::vector<double>& bucket_boundaries)
    : bucket_boundaries_(bucket_boundaries), cells_(bucket_boundaries.size() + 2), exemplars_(bucket_boundaries.size() + 1) {}

void ExemplarHistogram::keep_exemplar(double value, const SpanContext& trace) {
  Exemplar exemplar;
  write_hex(trace.trace_id.bytes, exemplar.trace_id);
  write_hex(trace.span_id.bytes, exemplar.span_id);
  exemplar.value = value;
  exemplar.timestamp_ms = unix_now_ms();
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

bool LabelSetLess::operator()(const prometheus::Labels& a,
                              std::span<const prometheus::ClientMetric::Label> b) const {
  return label_set_less(a, b);
}

bool LabelSetLess::operator()(std::span<const prometheus::ClientMetric::Label> a,
                              const prometheus::Labels& b) const {
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

const ExemplarHistogram* ExemplarHistogramFamily::find(
    std::span<const prometheus::ClientMetric::Label> labels) const {
  const std::lock_guard lock(mutex_);
  const auto found = series_.find(labels);
  return found == series_.end() ? nullptr : found->second.get();
}

std::vector<prometheus::MetricFamily> ExemplarHistogramFamily::Collect() const {
  const std::lock_guard lock(mutex_);
  return {detail::collect_histograms(name_, help_, series_)};
}

MetricsRegistry::MetricsRegistry() : registry_(std::make_shared<prometheus::Registry>()) {}

ExemplarHistogramFamily& MetricsRegistry::histogram_family(const std::string& name, const std::string& help,
                                                           std::vector<double> bucket_boundaries) {
  const std::lock_guard lock(mutex_);
  if (const auto found = histogram_families_.find(name); found != histogram_families_.end()) {
    if (found->second->bucket_boundaries() != bucket_boundaries)
      throw std::invalid_argument("histogram family '" + name + "' already exists with other bucket boundaries");
    return *found->second;
  }
  auto family = std::make_shared<ExemplarHistogramFamily>(name, help, std::move(bucket_boundaries));
  collectables_.push_back(family);
  return *histogram_families_.emplace(name, std::move(family)).first->second;
}

const ExemplarHistogramFamily* MetricsRegistry::find_histogram_family(std::string_view name) const {
  const std::lock_guard lock(mutex_);
  const auto found = histogram_families_.find(name);
  return found == histogram_families_.end() ? nullptr : found->second.get();
}

void MetricsRegistry::add_collectable(std::shared_ptr<prometheus::Collectable> collectable) {
  if (!collectable) throw std::invalid_argument("add_collectable needs a collectable");
  const std::lock_guard lock(mutex_);
  collectables_.push_back(std::move(collectable));
}

std::vector<prometheus::MetricFamily> MetricsRegistry::collect() const {
  auto families = registry_->Collect();
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables;
  {
    // Collected outside the lock: a collectable may be slow (it reads /proc).
    const std::lock_guard lock(mutex_);
    collectables = collectables_;
  }
  for (const auto& collectable : collectables) {
    auto more = collectable->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  // prometheus-cpp keeps series in hash maps: sorting makes every scrape read alike.
  std::stable_sort(families.begin(), families.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& family : families) {
    std::stable_sort(family.metric.begin(), family.metric.end(),
                     [](const auto& a, const auto& b) { return a.label < b.label; });
  }
  return families;
}

}  // namespace telemetry
