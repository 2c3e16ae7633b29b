#pragma once
#include "instrumented_repository.hpp"
#include "response_cache.hpp"

#include <metrics/registry.hpp>
#include <pokedex/repository.hpp>

namespace apimon {

// Metrics read at scrape time from state apimon keeps anyway: the build,
// the database connection pool (USE: utilisation and saturation of the
// pool), and the response cache's hits and misses.
void register_service_metrics(metrics::MetricsRegistry& metrics, const pokedex::Repository& repository,
                              const ResponseCache& cache, const DatabaseDescription& database,
                              std::string_view version);

}  // namespace apimon
