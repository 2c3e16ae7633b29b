#pragma once
// The RED metrics of an HTTP server, named after OpenTelemetry's HTTP semantic
// conventions in Prometheus form: http_server_request_duration_seconds,
// http_server_active_requests, http_server_request_body_size_bytes and
// http_server_response_body_size_bytes, labelled by method, route template and
// status code only, so their cardinality is bounded by construction. Beside
// them, the connections: http_server_open_connections,
// http_server_connections_refused_total (closed on accept at the connection
// limit) and http_server_connection_timeouts_total{phase} (closed by the
// server because the client was too slow, or silent too long).
#include <metrics/integer_histogram.hpp>
#include <metrics/registry.hpp>
#include <trace/trace_context.hpp>

#include <prometheus/gauge.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

namespace http {

class ServerMetrics {
 public:
  explicit ServerMetrics(metrics::MetricsRegistry& metrics);

  // A method outside the standard set is counted as "_OTHER", as the
  // semantic conventions ask, so clients cannot invent label values.
  static std::string_view normalized_method(std::string_view method);

  void request_started(std::string_view method);
  // `route` must outlive this object (route templates do); "" for requests
  // that matched no route. `trace`: the request's span context, the
  // latency's exemplar if it is sampled.
  void request_finished(std::string_view method, std::string_view route, unsigned status_code, double seconds,
                        std::size_t request_body_bytes, std::size_t response_body_bytes,
                        const trace::SpanContext& trace);

  static constexpr std::string_view unmatched_route = "unmatched";

  // What a connection was doing when the server gave up on it: waiting for
  // the next request (idle), receiving one (request), or sending one, or
  // holding one the client had not taken yet (response).
  enum class TimeoutPhase : std::uint8_t { idle, request, response };

  void connection_opened();
  void connection_closed();
  void connection_refused();
  void connection_timed_out(TimeoutPhase phase);

 private:
  struct Series {
    metrics::ExemplarHistogram* duration;
    metrics::IntegerHistogram* request_size;
    metrics::IntegerHistogram* response_size;
    std::size_t method_slot;  // the method's in-flight cell
  };
  Series& series(std::string_view method, std::string_view route, unsigned status_code);
  static std::size_t method_index(std::string_view method);  // _OTHER: one past the standard methods
  static std::string_view method_name(std::size_t index);

  class ActiveRequests;
  class Connections;

  static std::atomic<std::uint64_t> instances_;
  const std::uint64_t instance_;
  metrics::ExemplarHistogramFamily& duration_;
  std::shared_ptr<metrics::IntegerHistogramFamily> request_size_;
  std::shared_ptr<metrics::IntegerHistogramFamily> response_size_;
  // In-flight requests per method, in per-thread cells summed at scrape
  // time: cheaper on the request path than a prometheus-cpp gauge's
  // compare-and-swap on a double.
  std::shared_ptr<ActiveRequests> active_;
  // Connection events are rare next to requests: plain atomics.
  std::shared_ptr<Connections> connections_;
};

}  // namespace http
