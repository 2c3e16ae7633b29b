#include "faults/fault_injector.hpp"

#include <prometheus/collectable.h>

#include <algorithm>
#include <random>
#include <stdexcept>

namespace faults {

Settings FaultInjector::State::load() const {
  Settings settings;
  settings.latency = std::chrono::milliseconds(latency_ms.load(std::memory_order_relaxed));
  settings.latency_jitter = std::chrono::milliseconds(latency_jitter_ms.load(std::memory_order_relaxed));
  settings.latency_share = latency_share.load(std::memory_order_relaxed);
  settings.error_share = error_share.load(std::memory_order_relaxed);
  settings.error_status = error_status.load(std::memory_order_relaxed);
  settings.slow_query = std::chrono::milliseconds(slow_query_ms.load(std::memory_order_relaxed));
  settings.slow_query_share = slow_query_share.load(std::memory_order_relaxed);
  settings.upstream_unreachable = upstream_unreachable.load(std::memory_order_relaxed);
  return settings;
}

// fault_injection_active{fault}: 1 while the fault is on, one series per
// fault the service supports, read from the settings at scrape time.
class FaultInjector::ActiveGauge final : public prometheus::Collectable {
 public:
  explicit ActiveGauge(std::shared_ptr<const State> state) : state_(std::move(state)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily family;
    family.name = "fault_injection_active";
    family.help = "1 while a fault is injected on purpose (fault injection), 0 otherwise.";
    family.type = prometheus::MetricType::Gauge;
    const Settings settings = state_->load();
    for (std::size_t i = 0; i < fault_count; ++i) {
      if (!state_->supported[i]) continue;
      prometheus::ClientMetric metric;
      metric.label.push_back({"fault", std::string(fault_names[i])});
      metric.gauge.value = settings.active(static_cast<Fault>(i)) ? 1.0 : 0.0;
      family.metric.push_back(std::move(metric));
    }
    return {std::move(family)};
  }

 private:
  std::shared_ptr<const State> state_;
};

namespace {

// A share of 0.3 hits 30 % of the calls.
bool hit(double share) {
  if (share >= 1.0) return true;
  if (share <= 0.0) return false;
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine) < share;
}

std::int64_t uniform_up_to(std::int64_t max) {
  if (max <= 0) return 0;
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_int_distribution<std::int64_t>(0, max)(engine);
}

}  // namespace

bool Settings::active(Fault fault) const {
  switch (fault) {
    case Fault::latency: return (latency.count() > 0 || latency_jitter.count() > 0) && latency_share > 0.0;
    case Fault::errors: return error_share > 0.0;
    case Fault::slow_queries: return slow_query.count() > 0 && slow_query_share > 0.0;
    case Fault::upstream_unreachable: return upstream_unreachable;
  }
  return false;
}

FaultInjector::FaultInjector(std::initializer_list<Fault> supported, metrics::MetricsRegistry* metrics, Limits limits)
    : limits_(limits), state_(std::make_shared<State>()) {
  for (const Fault fault : supported) supported_[static_cast<std::size_t>(fault)] = true;
  state_->supported = supported_;
  if (!metrics) return;
  metrics->add_collectable(std::make_shared<ActiveGauge>(state_));
  auto& family = prometheus::BuildCounter()
                     .Name("fault_injection_injected_total")
                     .Help("Requests or queries a fault injected on purpose touched.")
                     .Register(metrics->registry());
  for (std::size_t i = 0; i < fault_count; ++i)
    if (supported_[i]) injected_[i] = &family.Add({{"fault", std::string(fault_names[i])}});
}

std::string FaultInjector::validate(const Settings& settings) const {
  const auto delay_ok = [&](std::chrono::milliseconds delay) {
    return delay.count() >= 0 && delay <= limits_.max_delay;
  };
  const auto share_ok = [](double share) { return share >= 0.0 && share <= 1.0; };  // false for NaN
  const std::string max_delay = std::to_string(limits_.max_delay.count());
  if (!delay_ok(settings.latency)) return "latency_ms must be from 0 to " + max_delay;
  if (!delay_ok(settings.latency_jitter)) return "latency_jitter_ms must be from 0 to " + max_delay;
  if (!share_ok(settings.latency_share)) return "latency_share must be from 0 to 1";
  if (!share_ok(settings.error_share)) return "error_share must be from 0 to 1";
  if (settings.error_status < 500 || settings.error_status > 599) return "error_status must be from 500 to 599";
  if (!delay_ok(settings.slow_query)) return "slow_query_ms must be from 0 to " + max_delay;
  if (!share_ok(settings.slow_query_share)) return "slow_query_share must be from 0 to 1";
  if (!settings.route.empty()) {
    const std::scoped_lock lock(routes_mutex_);
    if (std::find(routes_.begin(), routes_.end(), settings.route) == routes_.end())
      return "route '" + settings.route + "' is not an API route of this service";
  }
  for (std::size_t i = 0; i < fault_count; ++i)
    if (!supported_[i] && settings.active(static_cast<Fault>(i)))
      return "this service cannot inject " + std::string(fault_names[i]);
  return {};
}

RouteId FaultInjector::register_route(std::string_view route) {
  const std::scoped_lock lock(routes_mutex_);
  const auto found = std::find(routes_.begin(), routes_.end(), route);
  if (found != routes_.end()) return static_cast<RouteId>(found - routes_.begin());
  if (routes_.size() >= all_routes) throw std::length_error("too many routes for fault injection");
  routes_.emplace_back(route);
  return static_cast<RouteId>(routes_.size() - 1);
}

void FaultInjector::apply(const Settings& settings) {
  if (auto problem = validate(settings); !problem.empty()) throw std::invalid_argument(problem);
  RouteId route = all_routes;
  if (!settings.route.empty()) {
    const std::scoped_lock lock(routes_mutex_);  // validate() found it; routes are never removed
    route = static_cast<RouteId>(std::find(routes_.begin(), routes_.end(), settings.route) - routes_.begin());
  }
  State& state = *state_;
  state.latency_ms.store(settings.latency.count(), std::memory_order_relaxed);
  state.latency_jitter_ms.store(settings.latency_jitter.count(), std::memory_order_relaxed);
  state.latency_share.store(settings.latency_share, std::memory_order_relaxed);
  state.error_share.store(settings.error_share, std::memory_order_relaxed);
  state.error_status.store(settings.error_status, std::memory_order_relaxed);
  state.slow_query_ms.store(settings.slow_query.count(), std::memory_order_relaxed);
  state.slow_query_share.store(settings.slow_query_share, std::memory_order_relaxed);
  state.upstream_unreachable.store(settings.upstream_unreachable, std::memory_order_relaxed);
  state.route.store(route, std::memory_order_relaxed);
  state.unscoped_active.store(settings.active(Fault::slow_queries) || settings.active(Fault::upstream_unreachable),
                              std::memory_order_relaxed);
  bool any = false;
  for (std::size_t i = 0; i < fault_count; ++i) any = any || settings.active(static_cast<Fault>(i));
  state.any_active.store(any, std::memory_order_release);
}

Settings FaultInjector::settings() const {
  Settings settings = state_->load();
  const RouteId route = state_->route.load(std::memory_order_relaxed);
  if (route != all_routes) {
    const std::scoped_lock lock(routes_mutex_);
    settings.route = routes_.at(route);
  }
  return settings;
}

std::string FaultInjector::active_names() const { return names_of_active(true); }

std::string FaultInjector::active_names(RouteId route) const { return names_of_active(targets(route)); }

std::string FaultInjector::names_of_active(bool with_scoped_faults) const {
  std::string names;
  if (!any_active()) return names;
  const Settings settings = state_->load();
  for (std::size_t i = 0; i < fault_count; ++i) {
    const auto fault = static_cast<Fault>(i);
    if (!with_scoped_faults && (fault == Fault::latency || fault == Fault::errors)) continue;
    if (!settings.active(fault)) continue;
    if (!names.empty()) names.push_back(',');
    names.append(fault_names[i]);
  }
  return names;
}

void FaultInjector::count(Fault fault) {
  if (auto* counter = injected_[static_cast<std::size_t>(fault)]) counter->Increment();
}

std::chrono::milliseconds FaultInjector::draw_latency() {
  const State& state = *state_;
  const auto fixed = state.latency_ms.load(std::memory_order_relaxed);
  const auto jitter = state.latency_jitter_ms.load(std::memory_order_relaxed);
  if ((fixed <= 0 && jitter <= 0) || !hit(state.latency_share.load(std::memory_order_relaxed))) return {};
  count(Fault::latency);
  return std::chrono::milliseconds(fixed + uniform_up_to(jitter));
}

unsigned FaultInjector::draw_error() {
  if (!hit(state_->error_share.load(std::memory_order_relaxed))) return 0;
  count(Fault::errors);
  return state_->error_status.load(std::memory_order_relaxed);
}

std::chrono::milliseconds FaultInjector::draw_slow_query() {
  const auto delay = state_->slow_query_ms.load(std::memory_order_relaxed);
  if (delay <= 0 || !hit(state_->slow_query_share.load(std::memory_order_relaxed))) return {};
  count(Fault::slow_queries);
  return std::chrono::milliseconds(delay);
}

bool FaultInjector::upstream_unreachable() {
  if (!state_->upstream_unreachable.load(std::memory_order_relaxed)) return false;
  count(Fault::upstream_unreachable);
  return true;
}

}  // namespace faults
