#pragma once
// Exports spans over OTLP/HTTP with binary protobuf
// (https://opentelemetry.io/docs/specs/otlp/#otlphttp), over a small blocking
// HTTP/1.1 client on Boost.Beast. Plain http only: there is no TLS in the build,
// so an https endpoint is refused (use a collector sidecar, or plain http inside
// the stack's network).
#include "otlp/exporter_options.hpp"
#include "trace/span_data.hpp"
#include "trace/span_exporter.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

namespace otlp {

// Counters for self-monitoring; read them from any thread.
struct ExporterStats {
  std::atomic<std::uint64_t> exported_spans{0};  // spans in batches the endpoint accepted
  std::atomic<std::uint64_t> failed_exports{0};  // export_spans calls that returned failure
  std::atomic<std::uint64_t> retries{0};         // attempts after the first, over all calls
};

// POSTs application/x-protobuf ExportTraceServiceRequests over HTTP/1.1 on one
// kept-alive connection (a new one when the server closed it), blocking the
// calling thread, which runs the exporter's own io_context. A 2xx is success. 429,
// 502, 503, 504, connection failures and timeouts are retried with exponential
// backoff and jitter (a uniform pick in [d/2, d] for d = initial_backoff *
// 2^(n-1), capped at max_backoff) or after the response's Retry-After
// (delta-seconds or an HTTP date, at most a day), as long as max_attempts
// allows and the wait ends before the timeout (otherwise it fails at once
// rather than wait in vain); any other status fails at once.
// Failures are logged (warn, at most one line per 10 s, counting those left
// out) and never thrown out of export_spans.
class OtlpHttpExporter final : public trace::SpanExporter {
 public:
  // Throws std::invalid_argument for an endpoint that is not an
  // http://host[:port][/path] URL (https:// is not supported; the host a name,
  // an IPv4 address or an IPv6 address in brackets, the port 80 by default), a
  // non-positive timeout, max_attempts < 1 or a gzip_level outside 1 to 9, std::runtime_error when zlib
  // cannot be set up. Content-Type, Content-Encoding, Content-Length,
  // Transfer-Encoding and Expect among `options.headers` are left out (warning);
  // a Host or User-Agent among them replaces the exporter's own.
  OtlpHttpExporter(OtlpHttpExporterOptions options, trace::Resource resource, trace::InstrumentationScope scope);
  ~OtlpHttpExporter() override;
  OtlpHttpExporter(const OtlpHttpExporter&) = delete;
  OtlpHttpExporter& operator=(const OtlpHttpExporter&) = delete;

  // Blocks up to options().timeout. An empty batch succeeds without a request.
  trace::ExportResult export_spans(trace::SpanBatch spans) override;
  // Safe from any thread: wakes a backoff wait at once (that export fails) and
  // makes every later export fail without a request. A request already in
  // flight runs to its end or its timeout.
  void shutdown() override;

  const ExporterStats& stats() const;
  const OtlpHttpExporterOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlp
