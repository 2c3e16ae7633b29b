#include "http/server_metrics.hpp"
#include "metrics/exposition.hpp"
#include "metrics/registry.hpp"
#include "trace/trace_context.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace {

using http::ServerMetrics;
using metrics::ExpositionFormat;
using metrics::MetricsRegistry;
using metrics::serialize;
using testing::HasSubstr;
using testing::Not;

constexpr std::string_view route = "/pokemon/{id}";

std::string active(const MetricsRegistry& metrics, std::string_view method) {
  const auto text = serialize(metrics, ExpositionFormat::prometheus_text_0_0_4);
  const std::string prefix = "http_server_active_requests{http_request_method=\"" + std::string(method) + "\"} ";
  const auto at = text.find(prefix);
  if (at == std::string::npos) return "missing";
  return text.substr(at + prefix.size(), text.find('\n', at) - at - prefix.size());
}

TEST(HttpServerMetrics, InFlightRequestsAreCountedPerMethodUntilTheyFinish) {
  MetricsRegistry metrics;
  ServerMetrics server_metrics(metrics);
  const trace::SpanContext untraced;
  server_metrics.request_started("GET");
  server_metrics.request_started("GET");
  server_metrics.request_started("BREW");  // not a standard method: counted as _OTHER
  EXPECT_EQ(active(metrics, "GET"), "2");
  EXPECT_EQ(active(metrics, "_OTHER"), "1");
  EXPECT_EQ(active(metrics, "POST"), "0");

  server_metrics.request_finished("GET", route, 200, 0.002, 0, 512, untraced);
  server_metrics.request_finished("BREW", "", 405, 0.001, 0, 64, untraced);
  EXPECT_EQ(active(metrics, "GET"), "1");
  EXPECT_EQ(active(metrics, "_OTHER"), "0");
  server_metrics.request_finished("GET", route, 200, 0.002, 0, 512, untraced);
  EXPECT_EQ(active(metrics, "GET"), "0");

  const auto text = serialize(metrics, ExpositionFormat::prometheus_text_0_0_4);
  EXPECT_THAT(text, HasSubstr("http_server_request_duration_seconds_count{http_request_method=\"GET\","
                              "http_response_status_code=\"200\",http_route=\"/pokemon/{id}\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("http_server_request_duration_seconds_count{http_request_method=\"_OTHER\","
                              "http_response_status_code=\"405\",http_route=\"unmatched\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("http_server_response_body_size_bytes_sum{http_request_method=\"GET\","
                              "http_response_status_code=\"200\",http_route=\"/pokemon/{id}\"} 1024\n"));
}

TEST(HttpServerMetrics, OnlyASampledRequestLeavesAnExemplar) {
  MetricsRegistry metrics;
  ServerMetrics server_metrics(metrics);
  auto context = *trace::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  server_metrics.request_started("GET");
  server_metrics.request_finished("GET", route, 200, 0.002, 0, 512, context);  // unsampled
  EXPECT_THAT(serialize(metrics, ExpositionFormat::openmetrics_1_0_0), Not(HasSubstr(" # {")));

  context.trace_flags = 0x01;
  server_metrics.request_started("GET");
  server_metrics.request_finished("GET", route, 200, 0.002, 0, 512, context);
  EXPECT_THAT(serialize(metrics, ExpositionFormat::openmetrics_1_0_0),
              HasSubstr(" # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\"} 0.002 "));
}

TEST(HttpServerMetrics, ConnectionsAreCountedOpenRefusedAndTimedOutByPhase) {
  MetricsRegistry metrics;
  ServerMetrics server_metrics(metrics);
  server_metrics.connection_opened();
  server_metrics.connection_opened();
  server_metrics.connection_opened();
  server_metrics.connection_closed();
  server_metrics.connection_refused();
  server_metrics.connection_refused();
  server_metrics.connection_timed_out(ServerMetrics::TimeoutPhase::request);
  server_metrics.connection_timed_out(ServerMetrics::TimeoutPhase::response);
  server_metrics.connection_timed_out(ServerMetrics::TimeoutPhase::response);

  const auto text = serialize(metrics, ExpositionFormat::prometheus_text_0_0_4);
  EXPECT_THAT(text, HasSubstr("# TYPE http_server_open_connections gauge\nhttp_server_open_connections 2\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE http_server_connections_refused_total counter\n"
                              "http_server_connections_refused_total 2\n"));
  EXPECT_THAT(text, HasSubstr("http_server_connection_timeouts_total{phase=\"idle\"} 0\n"
                              "http_server_connection_timeouts_total{phase=\"request\"} 1\n"
                              "http_server_connection_timeouts_total{phase=\"response\"} 2\n"));
}

}  // namespace
