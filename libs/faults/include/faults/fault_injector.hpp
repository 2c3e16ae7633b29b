#pragma once
// Trouble on purpose: added latency, error responses, slow database queries
// and an unreachable upstream, switched on and off while a service runs so
// a learner can watch dashboards, traces and alerts react. Every active
// fault shows as fault_injection_active{fault=...} = 1, and every request it
// touches carries it as a span attribute, so nobody mistakes it for a real
// outage.
#include <metrics/registry.hpp>

#include <prometheus/counter.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace faults {

enum class Fault : std::size_t { latency, errors, slow_queries, upstream_unreachable };
inline constexpr std::size_t fault_count = 4;
inline constexpr std::array<std::string_view, fault_count> fault_names = {"latency", "errors", "slow_queries",
                                                                          "upstream_unreachable"};
constexpr std::string_view name(Fault fault) { return fault_names[static_cast<std::size_t>(fault)]; }

// What to inject. A fault is on when its size is non-zero (a delay, a share
// or the flag); the defaults switch everything off.
struct Settings {
  std::chrono::milliseconds latency{0};         // added before the handler runs
  std::chrono::milliseconds latency_jitter{0};  // plus a uniform 0..jitter on top
  double latency_share = 1.0;                   // of requests delayed, 0 to 1
  double error_share = 0.0;                     // of requests answered with error_status, 0 to 1
  unsigned error_status = 500;                  // 500 to 599
  std::chrono::milliseconds slow_query{0};      // added to each database query
  double slow_query_share = 1.0;                // of queries slowed, 0 to 1
  bool upstream_unreachable = false;            // calls to the upstream service are refused
  // The route template (as registered, e.g. "/pokemon/{id}") whose requests
  // the latency and error faults reach; empty: every API route. Slow queries
  // and upstream_unreachable ignore it.
  std::string route;

  bool active(Fault fault) const;
  bool operator==(const Settings&) const = default;
};

struct Limits {
  std::chrono::milliseconds max_delay{60'000};  // for latency, jitter and slow queries
};

// A route registered with FaultInjector::register_route.
using RouteId = std::uint32_t;

class FaultInjector {
 public:
  // `supported`: the faults this service can inject; settings asking for
  // another one are refused. `metrics` may be null.
  FaultInjector(std::initializer_list<Fault> supported, metrics::MetricsRegistry* metrics, Limits limits = {});

  // An empty string when `settings` can be applied here, otherwise what is
  // wrong with it, in the user's terms (names as in the admin API).
  std::string validate(const Settings& settings) const;
  // Throws std::invalid_argument with validate()'s message.
  void apply(const Settings& settings);
  Settings settings() const;
  bool supports(Fault fault) const { return supported_[static_cast<std::size_t>(fault)]; }

  // Makes `route` (a route template) one that Settings::route may name; the
  // same template always gets the same id. Done when a route is wrapped
  // (with_faults), before the service serves.
  RouteId register_route(std::string_view route);
  // Whether the latency and error faults reach requests of `route`: every
  // route when no route is set. One relaxed load, no lock.
  bool targets(RouteId route) const {
    const RouteId scope = state_->route.load(std::memory_order_relaxed);
    return scope == all_routes || scope == route;
  }
  // Whether a fault that reaches every route whatever Settings::route says
  // (slow queries, upstream_unreachable) is on.
  bool unscoped_active() const { return state_->unscoped_active.load(std::memory_order_relaxed); }

  // One relaxed load: the whole cost of fault injection while nothing is on.
  bool any_active() const { return state_->any_active.load(std::memory_order_relaxed); }
  // The active faults' names, comma separated: the span attribute.
  std::string active_names() const;
  // Those that reach a request of `route`: without latency and errors when
  // the route is not targeted.
  std::string active_names(RouteId route) const;

  // Decisions for one request or query; each counts what it injects.
  std::chrono::milliseconds draw_latency();     // zero: not delayed
  unsigned draw_error();                        // zero: not failed, otherwise the status to answer
  std::chrono::milliseconds draw_slow_query();  // zero: not slowed
  bool upstream_unreachable();

 private:
  void count(Fault fault);
  std::string names_of_active(bool with_scoped_faults) const;

  static constexpr RouteId all_routes = std::numeric_limits<RouteId>::max();

  // Each setting is its own atomic: a request reads a few of them without a
  // lock; during a change it may see the old value of one and the new value
  // of another, which for a fault is harmless.
  struct State {
    std::atomic<bool> any_active{false};
    std::atomic<std::int64_t> latency_ms{0};
    std::atomic<std::int64_t> latency_jitter_ms{0};
    std::atomic<double> latency_share{1.0};
    std::atomic<double> error_share{0.0};
    std::atomic<unsigned> error_status{500};
    std::atomic<std::int64_t> slow_query_ms{0};
    std::atomic<double> slow_query_share{1.0};
    std::atomic<bool> upstream_unreachable{false};
    std::atomic<RouteId> route{all_routes};  // the scope of latency and errors
    std::atomic<bool> unscoped_active{false};
    std::array<bool, fault_count> supported{};

    Settings load() const;  // without the route
  };
  class ActiveGauge;

  std::array<bool, fault_count> supported_{};
  Limits limits_;
  // Shared with the fault_injection_active collectable, which the metrics
  // registry may keep longer than this object.
  std::shared_ptr<State> state_;
  // How many requests or queries each fault touched: how much of what the
  // dashboards show was made on purpose.
  std::array<prometheus::Counter*, fault_count> injected_{};
  // The registered route templates, by RouteId. Read and changed by the
  // admin API and at start, never by a request.
  mutable std::mutex routes_mutex_;
  std::vector<std::string> routes_;
};

}  // namespace faults
