#include "faults/http_faults.hpp"

#include <http/json_response.hpp>
#include <http/problem.hpp>
#include <text/text.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace faults {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

asio::awaitable<http::Response> injected(FaultInjector& injector, RouteId route, const http::Handler& handler,
                                         http::RequestContext& context) {
  context.span.set_attribute("fault_injection.active", injector.active_names(route));
  if (!injector.targets(route)) co_return co_await handler(context);  // latency and errors are elsewhere
  std::string applied;
  if (const auto delay = injector.draw_latency(); delay.count() > 0) {
    applied = "latency";
    auto span = context.start_span("injected latency");
    span.set_attribute("fault_injection.injected", "latency")
        .set_attribute("fault_injection.delay_ms", static_cast<std::int64_t>(delay.count()));
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
  }
  const unsigned error_status = injector.draw_error();
  if (error_status != 0) applied.append(applied.empty() ? "errors" : ",errors");
  if (!applied.empty()) context.span.set_attribute("fault_injection.injected", applied);
  if (error_status != 0)
    co_return http::problem(static_cast<http::status>(error_status),
                            "Injected fault: this error was produced on purpose by fault injection.",
                            context.request.version());
  co_return co_await handler(context);
}

std::int64_t whole_number_field(const json::value& value, std::string_view name) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64() && value.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return static_cast<std::int64_t>(value.get_uint64());
  if (value.is_double() && std::floor(value.get_double()) == value.get_double() && std::abs(value.get_double()) < 1e15)
    return static_cast<std::int64_t>(value.get_double());
  throw std::invalid_argument(std::string(name) + " must be a whole number");
}

double share_field(const json::value& value, std::string_view name) {
  if (value.is_number()) return value.to_number<double>();
  throw std::invalid_argument(std::string(name) + " must be a number from 0 to 1");
}

// The fault a setting belongs to ("route" belongs to none).
Fault fault_of(std::string_view key) {
  if (key.starts_with("latency_")) return Fault::latency;
  if (key.starts_with("error_")) return Fault::errors;
  if (key.starts_with("slow_query_")) return Fault::slow_queries;
  return Fault::upstream_unreachable;
}

// Sets the field `key` of the admin API's JSON in `settings`.
void read_field(Settings& settings, std::string_view key, const json::value& value) {
  if (key == "latency_ms") {
    settings.latency = std::chrono::milliseconds(whole_number_field(value, key));
  } else if (key == "latency_jitter_ms") {
    settings.latency_jitter = std::chrono::milliseconds(whole_number_field(value, key));
  } else if (key == "latency_share") {
    settings.latency_share = share_field(value, key);
  } else if (key == "error_share") {
    settings.error_share = share_field(value, key);
  } else if (key == "error_status") {
    const auto status = whole_number_field(value, key);
    if (status < 0 || status > 999) throw std::invalid_argument("error_status must be from 500 to 599");
    settings.error_status = static_cast<unsigned>(status);
  } else if (key == "slow_query_ms") {
    settings.slow_query = std::chrono::milliseconds(whole_number_field(value, key));
  } else if (key == "slow_query_share") {
    settings.slow_query_share = share_field(value, key);
  } else if (key == "upstream_unreachable") {
    if (!value.is_bool()) throw std::invalid_argument("upstream_unreachable must be true or false");
    settings.upstream_unreachable = value.get_bool();
  } else if (key == "route") {
    if (!value.is_string()) throw std::invalid_argument("route must be a string");
    settings.route = std::string(value.get_string());
  } else {
    throw std::invalid_argument("unknown setting '" + std::string(key) + "'");
  }
}

// `injector` (may be null): when given, a setting of a fault it cannot
// inject is refused, whatever its value.
Settings read_settings(std::string_view body, const FaultInjector* injector) {
  json::value document;
  try {
    document = json::parse(body);
  } catch (const std::exception&) {
    throw std::invalid_argument("the body is not valid JSON");
  }
  if (!document.is_object()) throw std::invalid_argument("the body must be a JSON object");
  Settings settings;
  for (const auto& [key, value] : document.as_object()) {
    read_field(settings, key, value);
    // The route scopes the latency and error faults and is no fault of its own.
    if (injector && key != "route" && !injector->supports(fault_of(key)))
      throw std::invalid_argument("'" + std::string(key) + "' sets " + std::string(name(fault_of(key))) +
                                  ", which this service cannot inject");
  }
  return settings;
}

bool bearer_token_matches(std::string_view header, std::string_view token) {
  constexpr std::string_view scheme = "Bearer ";
  if (header.size() < scheme.size() || !text::iequals(header.substr(0, scheme.size()), scheme))
    return false;  // the scheme is case-insensitive
  header.remove_prefix(scheme.size());
  if (token.empty()) return false;  // no token configured: nothing can match
  // Compares every byte whatever the first mismatch, so the answer's timing
  // does not tell how much of a guess was right.
  unsigned char difference = header.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < header.size(); ++i)
    difference |= static_cast<unsigned char>(header[i] ^ token[i % token.size()]);
  return difference == 0;
}

http::Response uncached_json_response(const http::Request& request, std::string body) {
  auto response = http::json_response(request, std::move(body));
  response.set(boost::beast::http::field::cache_control, "no-store");
  return response;
}

}  // namespace

http::Handler with_faults(FaultInjector& injector, std::string_view route, http::Handler handler) {
  const RouteId id = injector.register_route(route);
  return
      [&injector, id, handler = std::move(handler)](http::RequestContext& context) -> asio::awaitable<http::Response> {
        if (!injector.any_active()) return handler(context);
        // Neither latency nor errors for this route, and nothing else on: untouched.
        if (!injector.targets(id) && !injector.unscoped_active()) return handler(context);
        return injected(injector, id, handler, context);
      };
}

Settings settings_from_json(std::string_view body) { return read_settings(body, nullptr); }

Settings settings_from_json(std::string_view body, const FaultInjector& injector) {
  return read_settings(body, &injector);
}

std::string settings_to_json(const FaultInjector& injector) {
  const Settings settings = injector.settings();
  json::object out;
  json::array active;
  json::array supported;
  for (std::size_t i = 0; i < fault_count; ++i) {
    const auto fault = static_cast<Fault>(i);
    if (!injector.supports(fault)) continue;
    supported.emplace_back(fault_names[i]);
    if (settings.active(fault)) active.emplace_back(fault_names[i]);
  }
  out["active"] = std::move(active);
  out["supported"] = std::move(supported);
  if (injector.supports(Fault::latency)) {
    out["latency_ms"] = settings.latency.count();
    out["latency_jitter_ms"] = settings.latency_jitter.count();
    out["latency_share"] = settings.latency_share;
  }
  if (injector.supports(Fault::errors)) {
    out["error_share"] = settings.error_share;
    out["error_status"] = settings.error_status;
  }
  if (injector.supports(Fault::latency) || injector.supports(Fault::errors)) out["route"] = settings.route;
  if (injector.supports(Fault::slow_queries)) {
    out["slow_query_ms"] = settings.slow_query.count();
    out["slow_query_share"] = settings.slow_query_share;
  }
  if (injector.supports(Fault::upstream_unreachable)) out["upstream_unreachable"] = settings.upstream_unreachable;
  return json::serialize(out);
}

void add_admin_routes(http::Router& router, FaultInjector& injector, std::string token) {
  if (token.empty()) return;
  // Every admin route checks the token before doing anything else.
  const auto authorized = [token = std::move(token)](const http::RequestContext& context) {
    const auto header = context.request[boost::beast::http::field::authorization];
    return bearer_token_matches(header, token);
  };
  const auto refused = [](const http::RequestContext& context) {
    auto response = http::problem(http::status::unauthorized,
                                  "The admin API needs the header 'Authorization: Bearer <token>' with the "
                                  "configured admin token.",
                                  context.request.version());
    response.set(boost::beast::http::field::www_authenticate, R"(Bearer realm="fault-injection")");
    return response;
  };

  router.add(http::verb::get, admin_route,
             [&injector, authorized, refused](http::RequestContext& context) -> asio::awaitable<http::Response> {
               if (!authorized(context)) co_return refused(context);
               co_return uncached_json_response(context.request, settings_to_json(injector));
             });
  router.add(http::verb::put, admin_route,
             [&injector, authorized, refused](http::RequestContext& context) -> asio::awaitable<http::Response> {
               if (!authorized(context)) co_return refused(context);
               std::string problem;
               try {
                 injector.apply(settings_from_json(context.request.body(), injector));
               } catch (const std::invalid_argument& error) {
                 problem = error.what();
               }
               if (!problem.empty())
                 co_return http::problem(http::status::bad_request, "Invalid fault settings: " + problem + ".",
                                         context.request.version());
               context.span.add_event("fault injection changed", {{"fault_injection.active", injector.active_names()}});
               co_return uncached_json_response(context.request, settings_to_json(injector));
             });
  router.add(http::verb::delete_, admin_route,
             [&injector, authorized, refused](http::RequestContext& context) -> asio::awaitable<http::Response> {
               if (!authorized(context)) co_return refused(context);
               injector.apply(Settings{});
               co_return uncached_json_response(context.request, settings_to_json(injector));
             });
}

std::string start(http::Router& router, FaultInjector& injector, const Settings& startup, std::string admin_token) {
  if (auto problem = injector.validate(startup); !problem.empty()) return problem;
  injector.apply(startup);
  add_admin_routes(router, injector, std::move(admin_token));
  return {};
}

}  // namespace faults
