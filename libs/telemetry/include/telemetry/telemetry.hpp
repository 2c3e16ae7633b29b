#pragma once
// One process's telemetry, configured the OpenTelemetry way from OTEL_*
// variables: the metrics registry (with process metrics and the SDK's own
// metrics), the HTTP server metrics, and the tracer exporting over OTLP/HTTP
// through a batch span processor.
#include <http/server_metrics.hpp>
#include <metrics/registry.hpp>
#include <trace/batch_span_processor.hpp>
#include <trace/tracer.hpp>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

namespace telemetry {

class Telemetry {
 public:
  // OTEL_SDK_DISABLED=true: no tracer. OTEL_TRACES_EXPORTER: otlp (the
  // default) or none (spans are still made, so logs and exemplars carry
  // trace ids, but nothing is sent). Also OTEL_SERVICE_NAME,
  // OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_* and
  // OTEL_EXPORTER_OTLP_*. Throws std::invalid_argument naming the variable
  // whose value is invalid.
  static std::unique_ptr<Telemetry> from_environment(
      std::string_view service_name, std::string_view service_version,
      const std::function<const char*(const char*)>& getenv = [](const char* name) { return std::getenv(name); });

  ~Telemetry();

  metrics::MetricsRegistry& metrics() { return *metrics_; }
  http::ServerMetrics& http_server_metrics() { return *http_server_metrics_; }
  trace::Tracer* tracer() { return tracer_.get(); }  // null when tracing is disabled
  const std::string& exporter_description() const { return exporter_description_; }

  // Flushes finished spans within `timeout` and stops exporting.
  bool shutdown(std::chrono::milliseconds timeout);

 private:
  Telemetry() = default;

  std::unique_ptr<metrics::MetricsRegistry> metrics_;
  std::unique_ptr<http::ServerMetrics> http_server_metrics_;
  std::unique_ptr<trace::Tracer> tracer_;
  trace::BatchSpanProcessor* processor_ = nullptr;  // owned by the tracer
  std::string exporter_description_;
};

}  // namespace telemetry
