#include "telemetry/telemetry.hpp"

#include <logging/logging.hpp>
#include <metrics/process_collector.hpp>
#include <otlp/http_exporter.hpp>
#include <text/text.hpp>
#include <trace/resource.hpp>

#include <prometheus/histogram.h>

#include <cctype>
#include <stdexcept>

namespace telemetry {
namespace {

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily made;
  made.name = std::move(name);
  made.help = std::move(help);
  made.type = type;
  return made;
}

prometheus::ClientMetric counter(double value, prometheus::ClientMetric::Label label = {}) {
  prometheus::ClientMetric metric;
  if (!label.name.empty()) metric.label.push_back(std::move(label));
  metric.counter.value = value;
  return metric;
}

prometheus::ClientMetric gauge(double value) {
  prometheus::ClientMetric metric;
  metric.gauge.value = value;
  return metric;
}

// The tracing SDK watching itself: how many spans it made, kept, sent and
// lost, read from its counters at each scrape.
class TracingSelfMetrics final : public prometheus::Collectable {
 public:
  TracingSelfMetrics(const trace::Tracer& tracer, const trace::BatchSpanProcessor* processor,
                     std::size_t queue_capacity)
      : tracer_(tracer), processor_(processor), queue_capacity_(queue_capacity) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    const auto& stats = tracer_.stats();
    const auto started = static_cast<double>(stats.started());
    const auto sampled = static_cast<double>(stats.sampled());
    auto spans = family("otel_sdk_spans_started_total", "Spans started, by whether the sampler kept them.",
                        prometheus::MetricType::Counter);
    spans.metric.push_back(counter(sampled, {"sampled", "true"}));
    spans.metric.push_back(counter(started - sampled, {"sampled", "false"}));
    families.push_back(std::move(spans));
    if (!processor_) return families;

    const auto& batch = processor_->stats();
    auto exported = family("otel_sdk_spans_exported_total", "Spans the exporter delivered.",
                           prometheus::MetricType::Counter);
    exported.metric.push_back(counter(static_cast<double>(batch.exported.load(std::memory_order_relaxed))));
    families.push_back(std::move(exported));
    auto dropped = family("otel_sdk_spans_dropped_total",
                          "Finished spans that never reached the collector, by reason: the export queue was full, "
                          "or the export failed after its retries. Tracing lost them; the requests were served.",
                          prometheus::MetricType::Counter);
    dropped.metric.push_back(
        counter(static_cast<double>(batch.dropped.load(std::memory_order_relaxed)), {"reason", "queue_full"}));
    dropped.metric.push_back(
        counter(static_cast<double>(batch.failed_spans.load(std::memory_order_relaxed)), {"reason", "export_failed"}));
    families.push_back(std::move(dropped));
    auto failures = family("otel_sdk_span_export_failures_total",
                           "Batches of spans the exporter could not deliver after its retries.",
                           prometheus::MetricType::Counter);
    failures.metric.push_back(counter(static_cast<double>(batch.export_failures.load(std::memory_order_relaxed))));
    families.push_back(std::move(failures));
    auto queue = family("otel_sdk_span_queue_length", "Finished spans waiting to be exported.",
                        prometheus::MetricType::Gauge);
    queue.metric.push_back(gauge(static_cast<double>(batch.queue_length.load(std::memory_order_relaxed))));
    families.push_back(std::move(queue));
    auto capacity = family("otel_sdk_span_queue_capacity", "Size of the export queue (OTEL_BSP_MAX_QUEUE_SIZE).",
                           prometheus::MetricType::Gauge);
    capacity.metric.push_back(gauge(static_cast<double>(queue_capacity_)));
    families.push_back(std::move(capacity));
    return families;
  }

 private:
  const trace::Tracer& tracer_;
  const trace::BatchSpanProcessor* processor_;
  std::size_t queue_capacity_;
};

// The log watching itself: lines that never reached stdout, read at each scrape.
class LogSelfMetrics final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    auto dropped = family("log_records_dropped_total",
                          "Log lines (access log and other records) dropped because the buffer of the thread that "
                          "logged them was full (--log-buffer-bytes): stdout took them slower than they came, or was "
                          "blocked. The requests were served; only their lines are missing from the log. Any "
                          "increase means the log is incomplete: raise the buffer, or make the log's reader faster.",
                          prometheus::MetricType::Counter);
    dropped.metric.push_back(counter(static_cast<double>(logging::dropped_records())));
    return {std::move(dropped)};
  }
};

bool is_true(const char* value) { return value != nullptr && text::iequals(value, "true"); }

}  // namespace

std::unique_ptr<Telemetry> Telemetry::from_environment(std::string_view service_name, std::string_view service_version,
                                                       const std::function<const char*(const char*)>& getenv) {
  std::unique_ptr<Telemetry> telemetry(new Telemetry());
  telemetry->metrics_ = std::make_unique<metrics::MetricsRegistry>();
  telemetry->metrics_->add_collectable(std::make_shared<metrics::ProcessCollector>());
  telemetry->metrics_->add_collectable(std::make_shared<LogSelfMetrics>());
  telemetry->http_server_metrics_ = std::make_unique<http::ServerMetrics>(*telemetry->metrics_);

  if (is_true(getenv("OTEL_SDK_DISABLED"))) {
    telemetry->exporter_description_ = "disabled (OTEL_SDK_DISABLED)";
    return telemetry;
  }
  const char* exporter_name = getenv("OTEL_TRACES_EXPORTER");
  const std::string exporter = exporter_name != nullptr && *exporter_name != '\0' ? exporter_name : "otlp";
  if (exporter != "otlp" && exporter != "none")
    throw std::invalid_argument("OTEL_TRACES_EXPORTER '" + exporter + "' is not one of otlp, none");

  trace::Resource resource = trace::resource_from_environment(service_name, service_version, getenv);
  trace::InstrumentationScope scope{std::string(service_name), std::string(service_version)};
  auto sampler = trace::sampler_from_environment(getenv);
  std::unique_ptr<trace::BatchSpanProcessor> processor;
  std::size_t queue_capacity = 0;
  if (exporter == "otlp") {
    auto options = otlp::otlp_options_from_environment(getenv);
    telemetry->exporter_description_ = "otlp " + options.endpoint;
    auto otlp_exporter = std::make_unique<otlp::OtlpHttpExporter>(std::move(options), resource, scope);
    const auto batch_options = trace::batch_options_from_environment(getenv);
    queue_capacity = batch_options.max_queue_size;
    auto& export_duration = prometheus::BuildHistogram()
                                .Name("otel_sdk_span_export_duration_seconds")
                                .Help("Duration of span exports, retries included.")
                                .Register(telemetry->metrics_->registry());
    auto& succeeded = export_duration.Add({{"outcome", "success"}},
                                          prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                                  0.5, 1, 2.5, 5, 10, 30});
    auto& failed = export_duration.Add({{"outcome", "failure"}},
                                       prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                               1, 2.5, 5, 10, 30});
    processor = std::make_unique<trace::BatchSpanProcessor>(std::move(otlp_exporter), batch_options,
                                                            [&succeeded, &failed](std::chrono::duration<double> took,
                                                                                  bool ok, std::size_t) {
                                                              (ok ? succeeded : failed).Observe(took.count());
                                                            });
  } else {
    telemetry->exporter_description_ = "none (OTEL_TRACES_EXPORTER)";
  }
  telemetry->processor_ = processor.get();
  telemetry->tracer_ = std::make_unique<trace::Tracer>(std::move(resource), std::move(scope), std::move(sampler),
                                                       std::move(processor));
  telemetry->metrics_->add_collectable(
      std::make_shared<TracingSelfMetrics>(*telemetry->tracer_, telemetry->processor_, queue_capacity));
  return telemetry;
}

Telemetry::~Telemetry() { shutdown(std::chrono::seconds(5)); }

bool Telemetry::shutdown(std::chrono::milliseconds timeout) { return tracer_ ? tracer_->shutdown(timeout) : true; }

}  // namespace telemetry
