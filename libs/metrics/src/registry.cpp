#include "metrics/registry.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace metrics {

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
  std::stable_sort(families.begin(), families.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& family : families) {
    std::stable_sort(family.metric.begin(), family.metric.end(),
                     [](const auto& a, const auto& b) { return a.label < b.label; });
  }
  return families;
}

}  // namespace metrics
