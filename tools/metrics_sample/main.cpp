// Prints the exposition of a registry holding one of everything the metrics
// library exposes, so Prometheus' own tools can check it:
//   metrics_sample text | promtool check metrics
#include "metrics/exposition.hpp"
#include "metrics/process_collector.hpp"
#include "metrics/registry.hpp"
#include "trace/trace_context.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/summary.h>

#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

namespace {

std::optional<metrics::ExpositionFormat> parse_format(std::string_view name) {
  if (name == "text") return metrics::ExpositionFormat::prometheus_text_0_0_4;
  if (name == "openmetrics") return metrics::ExpositionFormat::openmetrics_1_0_0;
  return std::nullopt;
}

void populate(metrics::MetricsRegistry& metrics) {
  auto& requests = prometheus::BuildCounter()
                       .Name("http_server_requests_total")
                       .Help("HTTP requests answered, by method, route and status code.")
                       .Register(metrics.registry());
  requests.Add({{"method", "GET"}, {"route", "/pokemon/{id}"}, {"status_code", "200"}}).Increment(41);
  requests.Add({{"method", "GET"}, {"route", "/pokemon/{id}"}, {"status_code", "404"}}).Increment(2);

  // A label value with every character the format escapes.
  auto& rejected = prometheus::BuildCounter()
                       .Name("http_server_rejected_queries_total")
                       .Help("Queries rejected as malformed, by the \"q\" parameter received.")
                       .Register(metrics.registry());
  rejected.Add({{"q", "pika\"chu\\\nline two"}}).Increment();

  auto& active = prometheus::BuildGauge()
                     .Name("http_server_active_requests")
                     .Help("HTTP requests being answered.")
                     .Register(metrics.registry());
  active.Add({{"method", "GET"}}).Set(3);

  auto& ttl = prometheus::BuildGauge()
                  .Name("pokedex_cache_entry_ttl_seconds")
                  .Help("Time to live of cache entries; +Inf when they never expire.")
                  .Register(metrics.registry());
  ttl.Add({{"cache", "species"}}).Set(std::numeric_limits<double>::infinity());

  auto& build = prometheus::BuildGauge()
                    .Name("pokedex_build_info")
                    .Help("Always 1; the labels describe the running build.")
                    .Register(metrics.registry());
  build.Add({{"version", "0.1.0"}, {"revision", "abc1234"}}).Set(1);

  auto& durations = metrics.histogram_family("http_server_request_duration_seconds", "Time to answer HTTP requests.",
                                             {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  auto& pokemon = durations.add({{"method", "GET"}, {"route", "/pokemon/{id}"}, {"status_code", "200"}});
  for (const double seconds : {0.003, 0.004, 0.012, 0.02, 0.7}) pokemon.observe(seconds);
  // A sampled request: its trace becomes the exemplar of the 0.05 bucket.
  pokemon.observe(0.042, *trace::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));

  auto& sizes = prometheus::BuildSummary()
                    .Name("http_server_response_body_size_bytes")
                    .Help("Sizes of HTTP response bodies.")
                    .Register(metrics.registry());
  auto& size = sizes.Add({{"route", "/pokemon/{id}"}}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.99, 0.001}});
  for (int i = 1; i <= 200; ++i) size.Observe(16.0 * i);

  metrics.add_collectable(std::make_shared<metrics::ProcessCollector>());
}

}  // namespace

int main(int argc, char** argv) {
  const auto format = argc == 2 ? parse_format(argv[1]) : std::nullopt;
  if (!format) {
    std::fputs("usage: metrics_sample text|openmetrics\n", stderr);
    return 2;
  }
  metrics::MetricsRegistry metrics;
  populate(metrics);
  const auto exposition = metrics::serialize(metrics, *format);
  return std::fwrite(exposition.data(), 1, exposition.size(), stdout) == exposition.size() ? 0 : 1;
}
