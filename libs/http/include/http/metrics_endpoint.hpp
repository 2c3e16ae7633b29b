#pragma once
#include "http/message.hpp"

#include <metrics/registry.hpp>

namespace http {

// GET /metrics: the registry in the format the scraper's Accept header asks
// for (OpenMetrics, with exemplars, or the Prometheus text format).
Handler metrics_endpoint(const metrics::MetricsRegistry& metrics);

}  // namespace http
