#pragma once
#include "upstream.hpp"

#include <faults/fault_injector.hpp>
#include <http/router.hpp>
#include <metrics/registry.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/summary.h>

#include <string_view>

namespace api_prometheus {

// This API's contract: services/api-prometheus/openapi.json, compiled in (http_embed_openapi).
std::string_view openapi_document();

// The routes: each calls apimon and does a little work of its own, so traces
// show different shapes (one call, two in parallel, a fan-out of N).
class ApiPrometheus {
 public:
  ApiPrometheus(Upstream& upstream, metrics::MetricsRegistry& metrics, faults::FaultInjector& faults,
                int max_team_size);
  void register_routes(http::Router& router);

 private:
  using Response = http::Response;
  using Context = http::RequestContext;

  boost::asio::awaitable<Response> pokemon(Context& context);
  boost::asio::awaitable<Response> battle(Context& context);
  boost::asio::awaitable<Response> team(Context& context);
  boost::asio::awaitable<Response> ready(Context& context);
  http::Handler guarded(boost::asio::awaitable<Response> (ApiPrometheus::*handler)(Context&));

  Upstream& upstream_;
  metrics::MetricsRegistry& metrics_;
  faults::FaultInjector& faults_;
  int max_team_size_;

  // The metrics showcase: one of each Prometheus type, each answering a question.
  // Counter (only goes up; rate() gives per-second): how do battles end?
  prometheus::Family<prometheus::Counter>& battles_;
  // Gauge (goes up and down; read as is): how many team builds run right now?
  prometheus::Gauge& teams_in_progress_;
  // Histogram (buckets counted here, quantiles computed in PromQL, aggregatable
  // across instances): how strong are the teams people build?
  prometheus::Histogram& team_strength_;
  // Summary (quantiles computed in this process over a sliding window; cannot
  // be aggregated across instances, unlike a histogram): how large are apimon's answers?
  prometheus::Summary& upstream_body_size_;
  // Info-style gauge (value 1, facts in labels): which apimon is this instance talking to?
  prometheus::Gauge& upstream_info_;
};

}  // namespace api_prometheus
