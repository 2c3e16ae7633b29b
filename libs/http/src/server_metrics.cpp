#include "http/server_metrics.hpp"

#include <prometheus/counter.h>

#include <array>
#include <functional>
#include <unordered_map>

namespace http {
namespace {

// Latency buckets from half a millisecond, where a cached lookup lands, to ten
// seconds, where a client has long given up; they include the thresholds the
// stack's SLOs use (25 ms, 100 ms, 250 ms).
const std::vector<double> duration_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const std::vector<std::uint64_t> size_buckets = {64, 256, 1024, 4096, 16384, 65536, 262144, 1048576};

constexpr std::array<std::string_view, 9> standard_methods = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                              "CONNECT", "OPTIONS", "TRACE", "PATCH"};

struct SeriesKey {
  std::uint64_t owner;      // the metrics object's instance number: never reused, unlike its address
  std::string_view method;  // one of standard_methods or "_OTHER": static storage
  std::string_view route;   // a route template: outlives the metrics
  unsigned status;
  bool operator==(const SeriesKey&) const = default;
};

struct SeriesKeyHash {
  std::size_t operator()(const SeriesKey& key) const {
    std::size_t hash = std::hash<std::uint64_t>{}(key.owner);
    hash = hash * 31 + std::hash<std::string_view>{}(key.method);
    hash = hash * 31 + std::hash<std::string_view>{}(key.route);
    return hash * 31 + key.status;
  }
};

}  // namespace

class ServerMetrics::ActiveRequests final : public prometheus::Collectable {
 public:
  // Per method, last _OTHER; +1 and -1 per request.
  sharded_cells::ThreadShardedCells in_flight{standard_methods.size() + 1};

  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily family;
    family.name = "http_server_active_requests";
    family.help = "Number of HTTP server requests in flight.";
    family.type = prometheus::MetricType::Gauge;
    for (std::size_t i = 0; i < in_flight.cell_count(); ++i) {
      prometheus::ClientMetric metric;
      metric.label.push_back(
          {"http_request_method", std::string(i < standard_methods.size() ? standard_methods[i] : "_OTHER")});
      metric.gauge.value = static_cast<double>(in_flight.total_signed(i));
      family.metric.push_back(std::move(metric));
    }
    return {std::move(family)};
  }
};

class ServerMetrics::Connections final : public prometheus::Collectable {
 public:
  std::atomic<std::int64_t> open{0};
  std::atomic<std::uint64_t> refused{0};
  std::array<std::atomic<std::uint64_t>, 3> timeouts{};  // by TimeoutPhase

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families(3);
    families[0].name = "http_server_open_connections";
    families[0].help = "Client connections the server holds open.";
    families[0].type = prometheus::MetricType::Gauge;
    families[0].metric.emplace_back().gauge.value = static_cast<double>(open.load(std::memory_order_relaxed));

    families[1].name = "http_server_connections_refused_total";
    families[1].help = "Connections closed as soon as they were accepted, because the server held as many as its "
                       "connection limit allows.";
    families[1].type = prometheus::MetricType::Counter;
    families[1].metric.emplace_back().counter.value = static_cast<double>(refused.load(std::memory_order_relaxed));

    families[2].name = "http_server_connection_timeouts_total";
    families[2].help = "Connections the server closed because the client stayed silent past the idle timeout "
                       "(phase idle), or did not send a request or take a response within the I/O timeout "
                       "(phase request or response).";
    families[2].type = prometheus::MetricType::Counter;
    constexpr std::array<std::string_view, 3> phases = {"idle", "request", "response"};
    for (std::size_t i = 0; i < phases.size(); ++i) {
      prometheus::ClientMetric metric;
      metric.label.push_back({"phase", std::string(phases[i])});
      metric.counter.value = static_cast<double>(timeouts[i].load(std::memory_order_relaxed));
      families[2].metric.push_back(std::move(metric));
    }
    return families;
  }
};

std::atomic<std::uint64_t> ServerMetrics::instances_{0};

ServerMetrics::ServerMetrics(metrics::MetricsRegistry& metrics)
    : instance_(++instances_),
      duration_(metrics.histogram_family("http_server_request_duration_seconds",
                                         "Duration of HTTP server requests, from the request's first byte read to "
                                         "its response written.",
                                         duration_buckets)),
      request_size_(std::make_shared<metrics::IntegerHistogramFamily>("http_server_request_body_size_bytes",
                                                                      "Size of HTTP server request bodies.",
                                                                      size_buckets)),
      response_size_(std::make_shared<metrics::IntegerHistogramFamily>("http_server_response_body_size_bytes",
                                                                       "Size of HTTP server response bodies.",
                                                                       size_buckets)),
      active_(std::make_shared<ActiveRequests>()),
      connections_(std::make_shared<Connections>()) {
  metrics.add_collectable(active_);
  metrics.add_collectable(connections_);
  metrics.add_collectable(request_size_);
  metrics.add_collectable(response_size_);
}

std::size_t ServerMetrics::method_index(std::string_view method) {
  for (std::size_t i = 0; i < standard_methods.size(); ++i)
    if (standard_methods[i] == method) return i;
  return standard_methods.size();
}

std::string_view ServerMetrics::method_name(std::size_t index) {
  return index < standard_methods.size() ? standard_methods[index] : std::string_view("_OTHER");
}

std::string_view ServerMetrics::normalized_method(std::string_view method) { return method_name(method_index(method)); }

ServerMetrics::Series& ServerMetrics::series(std::string_view method, std::string_view route, unsigned status_code) {
  // Each event-loop thread keeps its own index of the series it has used, so
  // the hot path neither locks nor allocates; prometheus-cpp's own lookup
  // (about 160 ns) happens once per combination and thread.
  thread_local std::unordered_map<SeriesKey, Series, SeriesKeyHash> cache;
  // In front of the index, the series of this thread's previous request:
  // consecutive requests mostly share method, route and status, and then the
  // answer costs a few comparisons instead of hashing the route. The route is
  // compared by address (templates live in the router, so a route is always
  // the same string_view), the method by value (it points into the request).
  struct LastSeries {
    std::uint64_t owner = 0;
    std::string_view method;
    const char* route = nullptr;
    std::size_t route_size = 0;
    unsigned status = 0;
    Series* series = nullptr;
  };
  thread_local LastSeries last;
  if (last.series && last.owner == instance_ && last.route == route.data() && last.route_size == route.size() &&
      last.status == status_code && last.method == method)
    return *last.series;
  const std::size_t method_slot = method_index(method);
  const SeriesKey key{instance_, method_name(method_slot), route.empty() ? unmatched_route : route, status_code};
  auto found = cache.find(key);
  if (found == cache.end()) {
    const prometheus::Labels labels = {{"http_request_method", std::string(key.method)},
                                       {"http_route", std::string(key.route)},
                                       {"http_response_status_code", std::to_string(status_code)}};
    Series made{&duration_.add(labels), &request_size_->add(labels), &response_size_->add(labels), method_slot};
    found = cache.emplace(key, made).first;
  }
  // The method is kept as its normalized name (static storage), which equals
  // the request's own for the standard methods; "_OTHER" never matches a
  // request's method, so other methods always take the index.
  last = {instance_, key.method, route.data(), route.size(), status_code, &found->second};
  return found->second;
}

void ServerMetrics::request_started(std::string_view method) {
  active_->in_flight.writer().add(method_index(method), 1);
}

void ServerMetrics::request_finished(std::string_view method, std::string_view route, unsigned status_code,
                                     double seconds, std::size_t request_body_bytes, std::size_t response_body_bytes,
                                     const trace::SpanContext& trace) {
  Series& found = series(method, route, status_code);
  active_->in_flight.writer().add(found.method_slot, static_cast<std::uint64_t>(-1));
  found.duration->observe(seconds, trace);
  found.request_size->observe(request_body_bytes);
  found.response_size->observe(response_body_bytes);
}

void ServerMetrics::connection_opened() { connections_->open.fetch_add(1, std::memory_order_relaxed); }

void ServerMetrics::connection_closed() { connections_->open.fetch_sub(1, std::memory_order_relaxed); }

void ServerMetrics::connection_refused() { connections_->refused.fetch_add(1, std::memory_order_relaxed); }

void ServerMetrics::connection_timed_out(TimeoutPhase phase) {
  connections_->timeouts.at(static_cast<std::size_t>(phase)).fetch_add(1, std::memory_order_relaxed);
}

}  // namespace http
