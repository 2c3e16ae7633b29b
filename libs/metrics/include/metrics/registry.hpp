#pragma once
// Metrics on top of prometheus-cpp's core: its Registry for ordinary counters,
// gauges, histograms and summaries, plus what it lacks: histograms whose
// buckets carry exemplars and extra collectables such as the process collector.
#include "metrics/exemplar_histogram.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace metrics {

class MetricsRegistry {
 public:
  MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // For ordinary metrics: prometheus::BuildCounter().Name(...).Register(registry()).
  prometheus::Registry& registry() { return *registry_; }
  const prometheus::Registry& registry() const { return *registry_; }

  // The family of that name, created on first use. Boundaries must be finite
  // and strictly increasing (+Inf is implicit); asking again for the same
  // name with other boundaries throws std::invalid_argument, as does a name
  // prometheus-cpp rejects.
  ExemplarHistogramFamily& histogram_family(const std::string& name, const std::string& help,
                                            std::vector<double> bucket_boundaries);
  const ExemplarHistogramFamily* find_histogram_family(std::string_view name) const;

  // Something else to expose alongside the registry, e.g. a ProcessCollector.
  void add_collectable(std::shared_ptr<prometheus::Collectable> collectable);

  // Every family of the registry and the extra collectables, sorted by name,
  // each family's series sorted by labels: what a scrape exposes.
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<ExemplarHistogramFamily>, std::less<>> histogram_families_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
};

}  // namespace metrics
