#include "otlp/http_exporter.hpp"

#include "endpoint_url.hpp"
#include "gzip_compressor.hpp"
#include "http_transport.hpp"
#include "otlp/encoding.hpp"
#include "retry_policy.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

namespace otlp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Warnings at most once per interval; the next one says how many were left out.
class RateLimitedWarnings {
 public:
  void warn(const std::string& message) {
    const auto now = Clock::now();
    if (last_ && now - *last_ < interval) {
      ++suppressed_;
      return;
    }
    if (suppressed_ > 0)
      spdlog::warn("{} ({} similar warnings suppressed)", message, suppressed_);
    else
      spdlog::warn("{}", message);
    last_ = now;
    suppressed_ = 0;
  }

 private:
  static constexpr auto interval = 10s;
  std::optional<Clock::time_point> last_;
  std::uint64_t suppressed_ = 0;
};

EndpointUrl checked_endpoint(const OtlpHttpExporterOptions& options) {
  auto parsed = parse_endpoint_url(options.endpoint);
  if (!parsed.url) throw std::invalid_argument("OTLP endpoint: " + parsed.problem + ", got '" + options.endpoint + "'");
  if (options.timeout <= 0ms) throw std::invalid_argument("OTLP exporter timeout must be positive");
  if (options.max_attempts < 1) throw std::invalid_argument("OTLP exporter max_attempts must be at least 1");
  if (options.gzip_level < GzipCompressor::fastest_level || options.gzip_level > GzipCompressor::smallest_level)
    throw std::invalid_argument("OTLP exporter gzip_level must be 1 to 9");
  if (options.initial_backoff < 0ms || options.max_backoff < 0ms)
    throw std::invalid_argument("OTLP exporter backoffs must not be negative");
  return std::move(*parsed.url);
}

}  // namespace

struct OtlpHttpExporter::Impl {
  OtlpHttpExporterOptions options;
  trace::Resource resource;
  trace::InstrumentationScope scope;
  ExporterStats stats;

  // Run only by export_spans, on the batch processor's thread.
  HttpTransport transport;
  std::optional<GzipCompressor> compressor;  // with options.gzip

  std::string body;        // the encoded request, reused across exports
  std::string compressed;  // its gzip form, likewise

  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<bool> shut_down{false};

  std::mt19937_64 random{std::random_device{}()};
  RateLimitedWarnings warnings;

  Impl(OtlpHttpExporterOptions options_, trace::Resource resource_, trace::InstrumentationScope scope_)
      : options(std::move(options_)),
        resource(std::move(resource_)),
        scope(std::move(scope_)),
        transport(checked_endpoint(options), options.headers, options.gzip) {
    if (options.gzip) compressor.emplace(options.gzip_level);
  }

  // False when shutdown() cut the wait short.
  bool wait(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex);
    return !wake.wait_for(lock, delay, [this] { return shut_down.load(); });
  }

  trace::ExportResult fail(std::size_t spans, const std::string& problem) {
    ++stats.failed_exports;
    warnings.warn("OTLP export of " + std::to_string(spans) + (spans == 1 ? " span" : " spans") + " to " +
                  options.endpoint + " failed: " + problem);
    return trace::ExportResult::failure;
  }

  trace::ExportResult export_spans(trace::SpanBatch spans) {
    if (spans.empty()) return trace::ExportResult::success;
    if (shut_down) {
      ++stats.failed_exports;
      spdlog::debug("OTLP exporter is shut down; dropping {} spans", spans.size());
      return trace::ExportResult::failure;
    }
    const auto deadline = Clock::now() + options.timeout;

    body.clear();
    append_export_trace_request(body, resource, scope, spans);
    const std::string* payload = &body;
    if (compressor) {
      if (!compressor->compress(body, compressed)) return fail(spans.size(), "gzip compression failed");
      payload = &compressed;
    }

    for (int attempt_number = 1;; ++attempt_number) {
      const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (budget <= 0ms) return fail(spans.size(), "timed out before attempt " + std::to_string(attempt_number));
      const AttemptOutcome outcome = transport.post(*payload, budget);
      if (outcome.success) {
        stats.exported_spans += spans.size();
        return trace::ExportResult::success;
      }
      const std::string attempts = " (attempt " + std::to_string(attempt_number) + " of " +
                                   std::to_string(options.max_attempts) + ")";
      if (!outcome.retryable) return fail(spans.size(), outcome.problem + attempts);
      if (attempt_number >= options.max_attempts) return fail(spans.size(), outcome.problem + attempts + "; giving up");
      const auto delay = outcome.retry_after
                             ? std::chrono::milliseconds(*outcome.retry_after)
                             : backoff_delay(attempt_number, options.initial_backoff, options.max_backoff, random);
      if (Clock::now() + delay >= deadline)
        return fail(spans.size(), outcome.problem + attempts + "; a retry in " + std::to_string(delay.count()) +
                                      " ms would pass the " + std::to_string(options.timeout.count()) + " ms timeout");
      spdlog::debug("OTLP export to {} failed: {}{}; retrying in {} ms", options.endpoint, outcome.problem, attempts,
                    delay.count());
      if (!wait(delay)) return fail(spans.size(), outcome.problem + attempts + "; shut down while waiting to retry");
      ++stats.retries;
    }
  }

  void shutdown() {
    {
      std::lock_guard lock(mutex);
      shut_down = true;
    }
    wake.notify_all();
  }
};

OtlpHttpExporter::OtlpHttpExporter(OtlpHttpExporterOptions options, trace::Resource resource,
                                   trace::InstrumentationScope scope)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(resource), std::move(scope))) {}

OtlpHttpExporter::~OtlpHttpExporter() = default;

trace::ExportResult OtlpHttpExporter::export_spans(trace::SpanBatch spans) {
  try {
    return impl_->export_spans(spans);
  } catch (...) {
    // Nothing escapes, not even a failure to log the failure.
    ++impl_->stats.failed_exports;
    try {
      throw;
    } catch (const std::exception& error) {
      try {
        impl_->warnings.warn("OTLP export to " + impl_->options.endpoint + " failed: " + error.what());
      } catch (...) {
      }
    } catch (...) {
    }
    return trace::ExportResult::failure;
  }
}

void OtlpHttpExporter::shutdown() { impl_->shutdown(); }

const ExporterStats& OtlpHttpExporter::stats() const { return impl_->stats; }

const OtlpHttpExporterOptions& OtlpHttpExporter::options() const { return impl_->options; }

}  // namespace otlp
