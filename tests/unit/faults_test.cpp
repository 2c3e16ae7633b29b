#include <faults/fault_injector.hpp>
#include <faults/http_faults.hpp>
#include <trace/sampler.hpp>
#include <trace/tracer.hpp>

#include "capturing_span_processor.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <exception>
#include <stdexcept>
#include <tuple>
#include <vector>

namespace {

using faults::Fault;
using faults::FaultInjector;
using faults::Settings;
using namespace std::chrono_literals;

// The value of `family`'s series for `fault`, or -1 when there is none.
double fault_series(const metrics::MetricsRegistry& metrics, std::string_view family_name, std::string_view fault) {
  for (const auto& family : metrics.collect()) {
    if (family.name != family_name) continue;
    for (const auto& metric : family.metric)
      if (metric.label.size() == 1 && metric.label[0].value == fault)
        return family.type == prometheus::MetricType::Counter ? metric.counter.value : metric.gauge.value;
  }
  return -1;
}

double gauge(const metrics::MetricsRegistry& metrics, std::string_view fault) {
  return fault_series(metrics, "fault_injection_active", fault);
}

double injected(const metrics::MetricsRegistry& metrics, std::string_view fault) {
  return fault_series(metrics, "fault_injection_injected_total", fault);
}

// What one request through `handler` got: its status, whether the route's
// own handler ran, and its span's fault_injection attributes ("-": none).
struct Outcome {
  unsigned status = 0;
  bool handled = false;
  std::string active = "-";
  std::string injected = "-";
};

Outcome serve(const http::Handler& handler, const bool& handled) {
  const http::Request request{http::verb::get, "/", 11};
  std::vector<trace::SpanData> finished;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::make_unique<CapturingProcessor>(finished));
  Outcome outcome;
  {
    auto span = tracer.start_span("request", trace::SpanKind::server);
    http::RequestContext context{request, "/", "", "", {}, span, &tracer};
    boost::asio::io_context io;
    boost::asio::co_spawn(io, handler(context), [&](std::exception_ptr error, http::Response response) {
      if (error) std::rethrow_exception(error);
      outcome.status = response.result_int();
    });
    io.run();
  }
  outcome.handled = handled;
  for (const auto& span : finished) {
    if (span.name != "request") continue;
    for (const auto attribute : span.attributes) {
      const auto* text = std::get_if<std::string_view>(&attribute.value);
      if (!text) continue;
      if (attribute.key == "fault_injection.active") outcome.active = *text;
      if (attribute.key == "fault_injection.injected") outcome.injected = *text;
    }
  }
  return outcome;
}

// Two routes of one service, each with its own handler, wrapped as a
// service wraps its API routes.
struct TwoRoutes {
  explicit TwoRoutes(FaultInjector& injector)
      : pokemon(faults::with_faults(injector, "/pokemon/{id}", handler(pokemon_handled))),
        random(faults::with_faults(injector, "/pokemon/random", handler(random_handled))) {}

  Outcome get_pokemon() { return reset_and_serve(pokemon, pokemon_handled); }
  Outcome get_random() { return reset_and_serve(random, random_handled); }

  bool pokemon_handled = false;
  bool random_handled = false;
  http::Handler pokemon;
  http::Handler random;

 private:
  static http::Handler handler(bool& handled) {
    return [&handled](http::RequestContext&) -> boost::asio::awaitable<http::Response> {
      handled = true;
      co_return http::Response{http::status::ok, 11};
    };
  }
  static Outcome reset_and_serve(const http::Handler& handler, bool& handled) {
    handled = false;
    return serve(handler, handled);
  }
};

TEST(FaultInjector, NothingIsActiveByDefault) {
  FaultInjector injector({Fault::latency, Fault::errors}, nullptr);
  EXPECT_FALSE(injector.any_active());
  EXPECT_EQ(injector.draw_latency(), 0ms);
  EXPECT_EQ(injector.draw_error(), 0u);
  EXPECT_EQ(injector.active_names(), "");
  EXPECT_EQ(injector.settings(), Settings{});
}

TEST(FaultInjector, AFaultIsActiveOnlyWithANonZeroSizeAndShare) {
  Settings settings;
  settings.latency = 100ms;
  settings.latency_share = 0;
  EXPECT_FALSE(settings.active(Fault::latency));
  settings.latency_share = 0.5;
  EXPECT_TRUE(settings.active(Fault::latency));
  settings.latency = 0ms;
  settings.latency_jitter = 10ms;
  EXPECT_TRUE(settings.active(Fault::latency));
  EXPECT_FALSE(settings.active(Fault::errors));
  settings.slow_query_share = 1;
  EXPECT_FALSE(settings.active(Fault::slow_queries));
}

TEST(FaultInjector, FullSharesAlwaysHitAndAreCounted) {
  metrics::MetricsRegistry metrics;
  FaultInjector injector({Fault::latency, Fault::errors, Fault::slow_queries}, &metrics);
  Settings settings;
  settings.latency = 30ms;
  settings.latency_jitter = 5ms;
  settings.error_share = 1;
  settings.error_status = 503;
  settings.slow_query = 7ms;
  injector.apply(settings);
  EXPECT_TRUE(injector.any_active());
  EXPECT_EQ(injector.active_names(), "latency,errors,slow_queries");
  for (int i = 0; i < 100; ++i) {
    const auto delay = injector.draw_latency();
    EXPECT_GE(delay, 30ms);
    EXPECT_LE(delay, 35ms);
    EXPECT_EQ(injector.draw_error(), 503u);
    EXPECT_EQ(injector.draw_slow_query(), 7ms);
  }
  EXPECT_EQ(gauge(metrics, "errors"), 1);
  EXPECT_EQ(gauge(metrics, "upstream_unreachable"), -1);  // not supported: no series
  double injected = 0;
  for (const auto& family : metrics.collect())
    if (family.name == "fault_injection_injected_total")
      for (const auto& metric : family.metric) injected += metric.counter.value;
  EXPECT_EQ(injected, 300);

  injector.apply(Settings{});
  EXPECT_FALSE(injector.any_active());
  EXPECT_EQ(gauge(metrics, "errors"), 0);
  EXPECT_EQ(injector.draw_error(), 0u);
}

TEST(FaultInjector, ASharePicksAboutThatShare) {
  FaultInjector injector({Fault::errors}, nullptr);
  Settings settings;
  settings.error_share = 0.25;
  injector.apply(settings);
  int failed = 0;
  for (int i = 0; i < 20'000; ++i) failed += injector.draw_error() != 0;
  EXPECT_NEAR(failed / 20'000.0, 0.25, 0.02);  // six standard deviations
}

TEST(FaultInjector, InvalidOrUnsupportedSettingsAreRefusedAndChangeNothing) {
  FaultInjector injector({Fault::latency, Fault::errors}, nullptr, faults::Limits{1'000ms});
  Settings good;
  good.latency = 10ms;
  injector.apply(good);
  const auto refused = [&](auto change, std::string_view named) {
    Settings settings;
    change(settings);
    const std::string problem = injector.validate(settings);
    EXPECT_NE(problem.find(named), std::string::npos) << problem;
    EXPECT_THROW(injector.apply(settings), std::invalid_argument);
    EXPECT_EQ(injector.settings(), good);
  };
  refused([](Settings& s) { s.latency = 1'001ms; }, "latency_ms");
  refused([](Settings& s) { s.latency_jitter = -1ms; }, "latency_jitter_ms");
  refused([](Settings& s) { s.error_share = 1.01; }, "error_share");
  refused([](Settings& s) { s.latency_share = std::nan(""); }, "latency_share");
  refused([](Settings& s) { s.error_status = 499; }, "error_status");
  refused([](Settings& s) { s.slow_query = 5ms; }, "slow_queries");
  refused([](Settings& s) { s.upstream_unreachable = true; }, "upstream_unreachable");
}

TEST(FaultSettingsJson, ReadsEverySettingAndLeavesTheRestOff) {
  const Settings settings = faults::settings_from_json(
      R"({"latency_ms": 200, "latency_jitter_ms": 50, "latency_share": 0.5, "error_share": 0.1,
          "error_status": 503, "slow_query_ms": 300, "slow_query_share": 1, "upstream_unreachable": true})");
  EXPECT_EQ(settings.latency, 200ms);
  EXPECT_EQ(settings.latency_jitter, 50ms);
  EXPECT_EQ(settings.latency_share, 0.5);
  EXPECT_EQ(settings.error_share, 0.1);
  EXPECT_EQ(settings.error_status, 503u);
  EXPECT_EQ(settings.slow_query, 300ms);
  EXPECT_EQ(settings.slow_query_share, 1.0);
  EXPECT_TRUE(settings.upstream_unreachable);
  EXPECT_EQ(faults::settings_from_json("{}"), Settings{});
  EXPECT_EQ(faults::settings_from_json(R"({"latency_ms": 2.0})").latency, 2ms);
}

TEST(FaultSettingsJson, RejectsWhatIsNotASetting) {
  for (const char* body : {"", "[]", "null", "{", R"({"latency": 1})", R"({"latency_ms": "1"})",
                           R"({"latency_ms": 1.5})", R"({"error_share": true})", R"({"upstream_unreachable": 1})",
                           R"({"error_status": 1e20})", R"({"latency_ms": 1e300})"}) {
    EXPECT_THROW(faults::settings_from_json(body), std::invalid_argument) << body;
  }
}

TEST(FaultSettingsJson, RefusesTheSettingsOfFaultsTheServiceCannotInject) {
  const FaultInjector apimon({Fault::latency, Fault::errors, Fault::slow_queries}, nullptr);
  const FaultInjector gateway({Fault::latency, Fault::errors, Fault::upstream_unreachable}, nullptr);
  // Refused even with values that would switch nothing on.
  for (const auto& [injector, body, named] :
       {std::tuple{&apimon, R"({"upstream_unreachable": false})", "upstream_unreachable"},
        std::tuple{&gateway, R"({"slow_query_ms": 100, "slow_query_share": 0})", "slow_queries"},
        std::tuple{&gateway, R"({"slow_query_share": 1})", "slow_query_share"}}) {
    try {
      faults::settings_from_json(body, *injector);
      ADD_FAILURE() << body << " was accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_THAT(error.what(), testing::HasSubstr(named));
      EXPECT_THAT(error.what(), testing::HasSubstr("cannot inject"));
    }
  }
  EXPECT_EQ(faults::settings_from_json(R"({"slow_query_ms": 5, "error_share": 0.5})", apimon).slow_query, 5ms);
  EXPECT_TRUE(faults::settings_from_json(R"({"upstream_unreachable": true})", gateway).upstream_unreachable);
  EXPECT_THROW(faults::settings_from_json(R"({"nope": 1})", gateway), std::invalid_argument);
}

TEST(FaultSettingsJson, RoundTripsThroughTheAdminRepresentation) {
  FaultInjector injector({Fault::latency, Fault::errors, Fault::upstream_unreachable}, nullptr);
  Settings settings;
  settings.latency = 25ms;
  settings.latency_share = 0.75;
  settings.upstream_unreachable = true;
  injector.apply(settings);
  const std::string json = faults::settings_to_json(injector);
  EXPECT_NE(json.find(R"("active":["latency","upstream_unreachable"])"), std::string::npos) << json;
  EXPECT_EQ(json.find("slow_query"), std::string::npos) << json;  // not supported here
  // The representation without its two read-only lists is a valid request.
  Settings again = faults::settings_from_json(
      R"({"latency_ms":25,"latency_jitter_ms":0,"latency_share":0.75,"error_share":0,"error_status":500,"upstream_unreachable":true})");
  EXPECT_EQ(again, settings);
}

}  // namespace

namespace {

TEST(FaultInjector, ARouteIsRegisteredOnceAndScopesLatencyAndErrorsOnly) {
  FaultInjector injector({Fault::latency, Fault::errors, Fault::slow_queries}, nullptr);
  const auto pokemon = injector.register_route("/pokemon/{id}");
  const auto random = injector.register_route("/pokemon/random");
  EXPECT_NE(pokemon, random);
  EXPECT_EQ(injector.register_route("/pokemon/{id}"), pokemon);
  EXPECT_TRUE(injector.targets(pokemon) && injector.targets(random));  // no route set: every route

  Settings settings;
  settings.latency = 10ms;
  settings.error_share = 0.5;
  settings.route = "/pokemon/random";
  injector.apply(settings);
  EXPECT_EQ(injector.settings(), settings);
  EXPECT_FALSE(injector.targets(pokemon));
  EXPECT_TRUE(injector.targets(random));
  EXPECT_FALSE(injector.unscoped_active());
  EXPECT_EQ(injector.active_names(pokemon), "");
  EXPECT_EQ(injector.active_names(random), "latency,errors");
  EXPECT_EQ(injector.active_names(), "latency,errors");

  settings.slow_query = 5ms;  // reaches every route whatever the route setting
  injector.apply(settings);
  EXPECT_TRUE(injector.unscoped_active());
  EXPECT_EQ(injector.active_names(pokemon), "slow_queries");
  EXPECT_EQ(injector.active_names(random), "latency,errors,slow_queries");

  settings.route.clear();
  injector.apply(settings);
  EXPECT_TRUE(injector.targets(pokemon));
  EXPECT_EQ(injector.settings().route, "");
}

TEST(FaultInjector, AnUnknownRouteIsRefusedAndChangesNothing) {
  FaultInjector injector({Fault::latency, Fault::errors}, nullptr);
  injector.register_route("/pokemon/{id}");
  Settings good;
  good.latency = 10ms;
  good.route = "/pokemon/{id}";
  injector.apply(good);
  for (const char* route : {"/nope", "/pokemon/25", "/pokemon/{id}/", "/pokemon/{ID}"}) {
    Settings settings;
    settings.error_share = 1;
    settings.route = route;
    EXPECT_EQ(injector.validate(settings), "route '" + std::string(route) + "' is not an API route of this service");
    EXPECT_THROW(injector.apply(settings), std::invalid_argument);
    EXPECT_EQ(injector.settings(), good);
  }
}

TEST(WithFaults, AScopedLatencyFaultDelaysTheTargetedRouteOnly) {
  metrics::MetricsRegistry metrics;
  FaultInjector injector({Fault::latency, Fault::errors}, &metrics);
  TwoRoutes routes(injector);
  Settings settings;
  settings.latency = 1ms;
  settings.route = "/pokemon/{id}";
  injector.apply(settings);

  const Outcome targeted = routes.get_pokemon();
  EXPECT_EQ(targeted.status, 200u);
  EXPECT_TRUE(targeted.handled);
  EXPECT_EQ(targeted.active, "latency");
  EXPECT_EQ(targeted.injected, "latency");
  EXPECT_EQ(injected(metrics, "latency"), 1);

  // Untouched: straight to its handler, no delay drawn, no fault attributes.
  const Outcome other = routes.get_random();
  EXPECT_EQ(other.status, 200u);
  EXPECT_TRUE(other.handled);
  EXPECT_EQ(other.active, "-");
  EXPECT_EQ(other.injected, "-");
  EXPECT_EQ(injected(metrics, "latency"), 1);

  // Without a route, every route again.
  settings.route.clear();
  injector.apply(settings);
  EXPECT_EQ(routes.get_random().injected, "latency");
  EXPECT_EQ(injected(metrics, "latency"), 2);
}

TEST(WithFaults, AScopedErrorFaultFailsTheTargetedRouteOnly) {
  metrics::MetricsRegistry metrics;
  FaultInjector injector({Fault::latency, Fault::errors}, &metrics);
  TwoRoutes routes(injector);
  Settings settings;
  settings.error_share = 1;
  settings.error_status = 503;
  settings.route = "/pokemon/random";
  injector.apply(settings);

  const Outcome targeted = routes.get_random();
  EXPECT_EQ(targeted.status, 503u);
  EXPECT_FALSE(targeted.handled);
  EXPECT_EQ(targeted.injected, "errors");
  const Outcome other = routes.get_pokemon();
  EXPECT_EQ(other.status, 200u);
  EXPECT_TRUE(other.handled);
  EXPECT_EQ(other.active, "-");
  EXPECT_EQ(injected(metrics, "errors"), 1);

  settings.route.clear();
  injector.apply(settings);
  EXPECT_EQ(routes.get_pokemon().status, 503u);
  EXPECT_EQ(injected(metrics, "errors"), 2);
}

TEST(WithFaults, AnUntargetedRouteStillShowsTheFaultsThatReachEveryRoute) {
  FaultInjector injector({Fault::latency, Fault::errors, Fault::slow_queries}, nullptr);
  TwoRoutes routes(injector);
  Settings settings;
  settings.error_share = 1;
  settings.slow_query = 5ms;
  settings.route = "/pokemon/random";
  injector.apply(settings);
  const Outcome other = routes.get_pokemon();
  EXPECT_EQ(other.status, 200u);
  EXPECT_EQ(other.active, "slow_queries");
  EXPECT_EQ(other.injected, "-");
  EXPECT_EQ(routes.get_random().active, "errors,slow_queries");
}

TEST(FaultSettingsJson, ReadsAndShowsTheRoute) {
  FaultInjector injector({Fault::latency, Fault::errors, Fault::upstream_unreachable}, nullptr);
  injector.register_route("/team/{size}");
  EXPECT_THAT(faults::settings_to_json(injector), testing::HasSubstr(R"("route":"")"));
  const Settings settings = faults::settings_from_json(R"({"latency_ms": 100, "route": "/team/{size}"})", injector);
  EXPECT_EQ(settings.route, "/team/{size}");
  injector.apply(settings);
  EXPECT_THAT(faults::settings_to_json(injector), testing::HasSubstr(R"("route":"/team/{size}")"));
  // Every setting at once: a body without the route means every route.
  injector.apply(faults::settings_from_json(R"({"latency_ms": 100})", injector));
  EXPECT_THAT(faults::settings_to_json(injector), testing::HasSubstr(R"("route":"")"));
  for (const char* body : {R"({"route": 1})", R"({"route": null})", R"({"route": ["/team/{size}"]})"}) {
    try {
      faults::settings_from_json(body, injector);
      ADD_FAILURE() << body << " was accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_THAT(error.what(), testing::HasSubstr("route must be a string"));
    }
  }
}

// What a service does at start-up, once its routes are registered.
TEST(FaultStart, AppliesTheStartupSettingsAndAddsTheAdminApiOrChangesNothing) {
  FaultInjector injector({Fault::latency, Fault::errors}, nullptr);
  TwoRoutes routes(injector);
  http::PathParams params;

  http::Router refused;
  Settings unknown_route;
  unknown_route.error_share = 1;
  unknown_route.route = "/no/such/route";
  EXPECT_THAT(faults::start(refused, injector, unknown_route, "token"), testing::HasSubstr("/no/such/route"));
  EXPECT_FALSE(injector.any_active());
  EXPECT_EQ(refused.find(http::verb::get, faults::admin_route, params).outcome, http::RouteLookup::Outcome::not_found);
  EXPECT_EQ(routes.get_pokemon().status, 200u);

  http::Router started;
  Settings errors_on_pokemon = unknown_route;
  errors_on_pokemon.route = "/pokemon/{id}";
  EXPECT_EQ(faults::start(started, injector, errors_on_pokemon, "token"), "");
  EXPECT_TRUE(injector.any_active());
  EXPECT_EQ(started.find(http::verb::get, faults::admin_route, params).outcome, http::RouteLookup::Outcome::found);
  EXPECT_EQ(routes.get_pokemon().status, 500u);
  EXPECT_EQ(routes.get_random().status, 200u);

  http::Router without_token;
  EXPECT_EQ(faults::start(without_token, injector, {}, ""), "");
  EXPECT_FALSE(injector.any_active());
  EXPECT_EQ(without_token.find(http::verb::get, faults::admin_route, params).outcome,
            http::RouteLookup::Outcome::not_found);
}

// The admin API as a service registers it: PUT, GET and a PUT without route.
TEST(FaultAdminApi, RefusesAnUnknownRouteAndClearsTheRouteWithAPutWithoutIt) {
  FaultInjector injector({Fault::latency, Fault::errors}, nullptr);
  TwoRoutes routes(injector);
  http::Router router;
  faults::add_admin_routes(router, injector, "token");
  const auto call = [&](http::verb method, std::string body) {
    http::PathParams params;
    const auto lookup = router.find(method, faults::admin_route, params);
    EXPECT_EQ(lookup.outcome, http::RouteLookup::Outcome::found);
    http::Request request{method, faults::admin_route, 11};
    request.set(boost::beast::http::field::authorization, "Bearer token");
    request.body() = std::move(body);
    trace::Span span;
    http::RequestContext context{request, faults::admin_route, "", faults::admin_route, {}, span, nullptr};
    std::pair<unsigned, std::string> answer;
    boost::asio::io_context io;
    boost::asio::co_spawn(io, (*lookup.handler)(context), [&](std::exception_ptr error, http::Response response) {
      if (error) std::rethrow_exception(error);
      answer = {response.result_int(), response.body()};
    });
    io.run();
    return answer;
  };

  auto [status, body] = call(http::verb::put, R"({"error_share": 1, "route": "/pokemon/{id}"})");
  EXPECT_EQ(status, 200u) << body;
  EXPECT_THAT(body, testing::HasSubstr(R"("route":"/pokemon/{id}")"));
  std::tie(status, body) = call(http::verb::get, "");
  EXPECT_EQ(status, 200u);
  EXPECT_THAT(body, testing::HasSubstr(R"("route":"/pokemon/{id}")"));
  EXPECT_EQ(routes.get_pokemon().status, 500u);
  EXPECT_EQ(routes.get_random().status, 200u);

  std::tie(status, body) = call(http::verb::put, R"({"error_share": 1, "route": "/nope"})");
  EXPECT_EQ(status, 400u);
  EXPECT_THAT(body, testing::HasSubstr("route '/nope' is not an API route of this service"));
  EXPECT_THAT(body, testing::Not(testing::HasSubstr("token")));
  EXPECT_EQ(injector.settings().route, "/pokemon/{id}");  // unchanged

  std::tie(status, body) = call(http::verb::put, R"({"error_share": 1})");
  EXPECT_EQ(status, 200u);
  EXPECT_THAT(body, testing::HasSubstr(R"("route":"")"));
  EXPECT_EQ(routes.get_random().status, 500u);
}

}  // namespace
