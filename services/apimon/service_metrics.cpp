#include "service_metrics.hpp"

#include <prometheus/gauge.h>

namespace apimon {
namespace {

prometheus::ClientMetric sample(double value, std::vector<prometheus::ClientMetric::Label> labels, bool counter) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (counter)
    metric.counter.value = value;
  else
    metric.gauge.value = value;
  return metric;
}

class PoolAndCacheCollector final : public prometheus::Collectable {
 public:
  PoolAndCacheCollector(const pokedex::Repository& repository, const ResponseCache& cache, std::string system)
      : repository_(repository), cache_(cache), system_(std::move(system)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    const auto state = repository_.state();
    std::vector<prometheus::MetricFamily> families(4);
    families[0].name = "db_client_connections";
    families[0].help = "Database connections by state: used (running a query) or idle.";
    families[0].type = prometheus::MetricType::Gauge;
    families[0].metric.push_back(
        sample(static_cast<double>(state.in_use), {{"db_system_name", system_}, {"state", "used"}}, false));
    families[0].metric.push_back(
        sample(static_cast<double>(state.idle), {{"db_system_name", system_}, {"state", "idle"}}, false));
    families[1].name = "db_client_connection_pending_requests";
    families[1].help = "Database calls waiting for a free connection: the pool's saturation.";
    families[1].type = prometheus::MetricType::Gauge;
    families[1].metric.push_back(sample(static_cast<double>(state.waiting), {{"db_system_name", system_}}, false));
    families[2].name = "apimon_response_cache_requests_total";
    families[2].help = "Response cache lookups by result (only when the cache is on).";
    families[2].type = prometheus::MetricType::Counter;
    families[2].metric.push_back(sample(static_cast<double>(cache_.hits()), {{"result", "hit"}}, true));
    families[2].metric.push_back(sample(static_cast<double>(cache_.misses()), {{"result", "miss"}}, true));
    families[3].name = "apimon_response_cache_entries";
    families[3].help = "Responses held in the cache.";
    families[3].type = prometheus::MetricType::Gauge;
    families[3].metric.push_back(sample(static_cast<double>(cache_.size()), {}, false));
    return families;
  }

 private:
  const pokedex::Repository& repository_;
  const ResponseCache& cache_;
  std::string system_;
};

}  // namespace

void register_service_metrics(metrics::MetricsRegistry& metrics, const pokedex::Repository& repository,
                              const ResponseCache& cache, const DatabaseDescription& database,
                              std::string_view version) {
  // An info-style gauge: the value is always 1, the labels carry the facts,
  // and joins (* on(instance) group_left(version)) bring them to any query.
  prometheus::BuildGauge()
      .Name("apimon_build_info")
      .Help("Build facts of the running apimon, as labels; the value is always 1.")
      .Register(metrics.registry())
      .Add({{"version", std::string(version)}, {"compiler", "gcc " __VERSION__}, {"db_system_name", database.system}})
      .Set(1);
  metrics.add_collectable(std::make_shared<PoolAndCacheCollector>(repository, cache, database.system));
}

}  // namespace apimon
