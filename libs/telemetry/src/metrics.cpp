#include "telemetry/metrics.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace telemetry {
namespace {

// W3C identifiers: lower-case hex of the exact length, not all zero.
template <std::size_t N>
bool copy_identifier(std::string_view hex, std::array<char, N>& to) {
  if (hex.size() != N) return false;
  bool all_zero = true;
  for (const char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    all_zero = all_zero && c == '0';
  }
  if (all_zero) return false;
  std::copy(hex.begin(), hex.end(), to.begin());
  return true;
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

ExemplarHistogram::ExemplarHistogram(prometheus::Histogram& histogram, const std::vector<double>& bucket_boundaries)
    : histogram_(histogram), bucket_boundaries_(bucket_boundaries), exemplars_(bucket_boundaries.size() + 1) {}

void ExemplarHistogram::observe(double value, std::string_view trace_id_hex, std::string_view span_id_hex) {
  histogram_.Observe(value);
  Exemplar exemplar;
  if (!copy_identifier(trace_id_hex, exemplar.trace_id) || !copy_identifier(span_id_hex, exemplar.span_id)) return;
  exemplar.value = value;
  exemplar.timestamp_ms = unix_now_ms();
  const auto bucket = bucket_index(value);
  const std::lock_guard lock(exemplar_mutex_);
  exemplars_[bucket] = exemplar;
}

std::size_t ExemplarHistogram::bucket_index(double value) const {
  // As prometheus-cpp counts: NaN compares false with every bound, so it lands in +Inf.
  if (std::isnan(value)) return bucket_boundaries_.size();
  const auto bound = std::partition_point(bucket_boundaries_.begin(), bucket_boundaries_.end(),
                                          [value](double boundary) { return boundary < value; });
  return static_cast<std::size_t>(bound - bucket_boundaries_.begin());
}

std::optional<Exemplar> ExemplarHistogram::exemplar(std::size_t bucket) const {
  const std::lock_guard lock(exemplar_mutex_);
  if (bucket >= exemplars_.size()) return std::nullopt;
  return exemplars_[bucket];
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

ExemplarHistogramFamily::ExemplarHistogramFamily(prometheus::Family<prometheus::Histogram>& family,
                                                 std::vector<double> bucket_boundaries)
    : family_(family), bucket_boundaries_(std::move(bucket_boundaries)) {
  check_bucket_boundaries(bucket_boundaries_);
}

ExemplarHistogram& ExemplarHistogramFamily::add(const prometheus::Labels& labels) {
  const std::lock_guard lock(mutex_);
  if (const auto found = series_.find(labels); found != series_.end()) return *found->second;
  auto& histogram = family_.Add(labels, bucket_boundaries_);
  auto series = std::make_unique<ExemplarHistogram>(histogram, bucket_boundaries_);
  return *series_.emplace(labels, std::move(series)).first->second;
}

const ExemplarHistogram* ExemplarHistogramFamily::find(
    std::span<const prometheus::ClientMetric::Label> labels) const {
  const std::lock_guard lock(mutex_);
  const auto found = series_.find(labels);
  return found == series_.end() ? nullptr : found->second.get();
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
  check_bucket_boundaries(bucket_boundaries);
  auto& family = prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
  auto wrapper = std::make_unique<ExemplarHistogramFamily>(family, std::move(bucket_boundaries));
  return *histogram_families_.emplace(name, std::move(wrapper)).first->second;
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
