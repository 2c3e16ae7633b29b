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
#include <memory>
#include <string>
#include <string_view>

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

  bool active(Fault fault) const;
  bool operator==(const Settings&) const = default;
};

struct Limits {
  std::chrono::milliseconds max_delay{60'000};  // for latency, jitter and slow queries
};

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

  // One relaxed load: the whole cost of fault injection while nothing is on.
  bool any_active() const { return state_->any_active.load(std::memory_order_relaxed); }
  // The active faults' names, comma separated: the span attribute.
  std::string active_names() const;

  // Decisions for one request or query; each counts what it injects.
  std::chrono::milliseconds draw_latency();     // zero: not delayed
  unsigned draw_error();                        // zero: not failed, otherwise the status to answer
  std::chrono::milliseconds draw_slow_query();  // zero: not slowed
  bool upstream_unreachable();

 private:
  void count(Fault fault);

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
    std::array<bool, fault_count> supported{};

    Settings load() const;
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
};

}  // namespace faults
