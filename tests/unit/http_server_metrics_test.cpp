#include "telemetry/exposition.hpp"
#include "telemetry/http_server_metrics.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/trace_context.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace {

using telemetry::ExpositionFormat;
using telemetry::HttpServerMetrics;
using telemetry::MetricsRegistry;
using telemetry::serialize;
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
  HttpServerMetrics http(metrics);
  const telemetry::SpanContext untraced;
  http.request_started("GET");
  http.request_started("GET");
  http.request_started("BREW");  // not a standard method: counted as _OTHER
  EXPECT_EQ(active(metrics, "GET"), "2");
  EXPECT_EQ(active(metrics, "_OTHER"), "1");
  EXPECT_EQ(active(metrics, "POST"), "0");

  http.request_finished("GET", route, 200, 0.002, 0, 512, untraced);
  http.request_finished("BREW", "", 405, 0.001, 0, 64, untraced);
  EXPECT_EQ(active(metrics, "GET"), "1");
  EXPECT_EQ(active(metrics, "_OTHER"), "0");
  http.request_finished("GET", route, 200, 0.002, 0, 512, untraced);
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
  HttpServerMetrics http(metrics);
  auto trace = *telemetry::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  http.request_started("GET");
  http.request_finished("GET", route, 200, 0.002, 0, 512, trace);  // unsampled
  EXPECT_THAT(serialize(metrics, ExpositionFormat::openmetrics_1_0_0), Not(HasSubstr(" # {")));

  trace.trace_flags = 0x01;
  http.request_started("GET");
  http.request_finished("GET", route, 200, 0.002, 0, 512, trace);
  EXPECT_THAT(serialize(metrics, ExpositionFormat::openmetrics_1_0_0),
              HasSubstr(" # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\"} 0.002 "));
}

}  // namespace
