#pragma once
// Fault injection over HTTP: a wrapper that injects latency and errors into
// a route's handler, and the admin API that changes the faults at runtime.
#include "faults/fault_injector.hpp"

#include <http/router.hpp>

#include <string>
#include <string_view>

namespace faults {

// `handler`, the handler of the route template `route` (exactly as the
// router has it, e.g. "/pokemon/{id}"), with the latency and error faults
// applied before it runs; registers `route` with `injector`, so the admin API
// and --fault-route accept it. While no fault is on the handler is called
// directly: no extra coroutine, one atomic load. While latency or errors are
// set for another route only, and no fault that reaches every route (slow
// queries, upstream_unreachable) is on, it is called directly too. Otherwise
// the request's span carries fault_injection.active (the faults on that reach
// this route) and fault_injection.injected (what this request got).
http::Handler with_faults(FaultInjector& injector, std::string_view route, http::Handler handler);

// The admin API, only when `token` is not empty (the routes do not exist
// otherwise): every call needs "Authorization: Bearer <token>" (401
// without it or with another token).
//   GET    /admin/faults   the current settings and the active faults
//   PUT    /admin/faults   replaces every setting (a field left out is off)
//   DELETE /admin/faults   switches every fault off
void add_admin_routes(http::Router& router, FaultInjector& injector, std::string token);

// A service's faults at start-up, once every route is registered (the
// settings' route must name one): applies `startup` and adds the admin API
// (with `admin_token`, as add_admin_routes). Returns what is wrong with the
// route, changing nothing then, or "" (the other settings were checked while
// the command line was parsed).
std::string start(http::Router& router, FaultInjector& injector, const Settings& startup, std::string admin_token);

// The admin API's JSON: {"latency_ms": 200, "latency_jitter_ms": 50,
// "latency_share": 0.5, "error_share": 0.1, "error_status": 503,
// "slow_query_ms": 300, "slow_query_share": 1, "upstream_unreachable": true,
// "route": "/pokemon/{id}"}.
// Throws std::invalid_argument naming the field for unknown fields, wrong
// types and malformed JSON; ranges are checked by FaultInjector::validate.
Settings settings_from_json(std::string_view body);
// The same, and a field of a fault `injector` cannot inject is refused too,
// whatever its value (apimon has no upstream_unreachable, api-prometheus no
// slow_query_ms): what the admin API accepts is exactly what it can do.
Settings settings_from_json(std::string_view body, const FaultInjector& injector);
std::string settings_to_json(const FaultInjector& injector);

inline constexpr std::string_view admin_route = "/admin/faults";

}  // namespace faults
