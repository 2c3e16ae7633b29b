#pragma once
#include "instrumented_repository.hpp"

#include <pokedex/repository.hpp>
#include <pokedex/response_cache.hpp>
#include <telemetry/metrics.hpp>

namespace apimon {

// Metrics read at scrape time from state apimon keeps anyway: the build,
// the database connection pool (USE: utilisation and saturation of the
// pool), and the response cache's hits and misses.
void register_service_metrics(telemetry::MetricsRegistry& metrics, const pokedex::Repository& repository,
                              const pokedex::ResponseCache& cache, const DatabaseDescription& database,
                              std::string_view version);

}  // namespace apimon
