// PUT /admin/faults: the first line of the input is the Authorization header,
// the rest the JSON body. The body is read into fault settings, which are
// refused (a 400) or applied; what is applied is what GET /admin/faults shows,
// and that reads back as the same settings. The request then goes through the
// admin route itself: 401 unless the header carries the token, else 200 or
// 400 as the direct reading said.
#include "fuzz_input.hpp"

#include <faults/fault_injector.hpp>
#include <faults/http_faults.hpp>
#include <text/text.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <stdexcept>
#include <string>

namespace {

constexpr std::string_view admin_token = "s3cret-token";

// apimon's faults; no metrics registry, so nothing outlives one input.
faults::FaultInjector& injector() {
  static faults::FaultInjector instance({faults::Fault::latency, faults::Fault::errors, faults::Fault::slow_queries,
                                         faults::Fault::upstream_unreachable},
                                        nullptr);
  return instance;
}

const http::Router& admin_router() {
  static const http::Router router = [] {
    http::Router routes;
    faults::add_admin_routes(routes, injector(), std::string(admin_token));
    return routes;
  }();
  return router;
}

// The settings the body asks for, or nothing when the admin API must refuse them.
std::optional<faults::Settings> direct_reading(std::string_view body) {
  faults::Settings settings;
  try {
    settings = faults::settings_from_json(body);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
  if (!injector().validate(settings).empty()) {
    bool refused = false;
    try {
      injector().apply(settings);
    } catch (const std::invalid_argument&) {
      refused = true;
    }
    FUZZ_CHECK(refused);
    return std::nullopt;
  }
  injector().apply(settings);
  FUZZ_CHECK(injector().settings() == settings);
  bool any = false;
  for (std::size_t i = 0; i < faults::fault_count; ++i) any = any || settings.active(static_cast<faults::Fault>(i));
  FUZZ_CHECK(injector().any_active() == any);
  FUZZ_CHECK(injector().active_names().empty() == !any);

  // The GET answer carries "active" and "supported" besides the settings; a
  // PUT body takes only the settings.
  auto shown = boost::json::parse(faults::settings_to_json(injector())).as_object();
  shown.erase("active");
  shown.erase("supported");
  FUZZ_CHECK(faults::settings_from_json(boost::json::serialize(shown)) == settings);
  injector().apply(faults::Settings{});
  return settings;
}

http::Response put_through_admin_route(std::string_view authorization, std::string_view body) {
  http::Request request{http::verb::put, faults::admin_route, 11};
  request.set(boost::beast::http::field::authorization, authorization);
  request.body() = std::string(body);
  http::PathParams params;
  const auto lookup = admin_router().find(http::verb::put, faults::admin_route, params);
  FUZZ_CHECK(lookup.outcome == http::RouteLookup::Outcome::found);
  trace::Span span;
  http::RequestContext context{request, faults::admin_route, {}, *lookup.route, params, span};
  boost::asio::io_context io;
  auto answer = boost::asio::co_spawn(io, (*lookup.handler)(context), boost::asio::use_future);
  io.run();
  return answer.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = fuzz::as_text(data, size);
  const auto authorization = fuzz::take_field(input);
  const auto body = input;
  const auto expected = direct_reading(body);

  // No request carries a line break or NUL in a header value: the parser refuses them.
  if (authorization.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) return 0;
  const auto response = put_through_admin_route(authorization, body);
  // As a request carries it: Beast trims the spaces and tabs around a value.
  const auto header = text::trim(authorization);
  constexpr std::string_view scheme = "Bearer ";
  const bool authorized = header.size() == scheme.size() + admin_token.size() &&
                          text::iequals(header.substr(0, scheme.size()), scheme) &&
                          header.substr(scheme.size()) == admin_token;
  if (!authorized) {
    FUZZ_CHECK(response.result() == http::status::unauthorized);
  } else if (expected) {
    FUZZ_CHECK(response.result() == http::status::ok);
    FUZZ_CHECK(injector().settings() == *expected);
  } else {
    FUZZ_CHECK(response.result() == http::status::bad_request);
  }
  injector().apply(faults::Settings{});
  return 0;
}
