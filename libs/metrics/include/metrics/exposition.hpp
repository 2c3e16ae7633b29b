#pragma once
// What a /metrics endpoint answers: the Prometheus text format 0.0.4, or
// OpenMetrics 1.0.0 (the only one that carries exemplars) when the scraper
// asks for it.
#include "metrics/registry.hpp"

#include <string>
#include <string_view>

namespace metrics {

enum class ExpositionFormat { prometheus_text_0_0_4, openmetrics_1_0_0 };

// OpenMetrics only when the Accept header prefers application/openmetrics-text
// (version 1.0.0, 0.0.1 or none) to the text format, by q-value and then by
// how specific the media range is; text otherwise, including no header.
ExpositionFormat negotiate_format(std::string_view accept_header);

std::string_view content_type(ExpositionFormat format);

// Every family of the registry and its extra collectables, sorted by name.
std::string serialize(const MetricsRegistry& metrics, ExpositionFormat format);
// The same into `out`, replacing its content but keeping its capacity, so a
// scrape handler can reuse one buffer.
void serialize(const MetricsRegistry& metrics, ExpositionFormat format, std::string& out);

}  // namespace metrics
