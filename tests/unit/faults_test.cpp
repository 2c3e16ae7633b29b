#include <faults/fault_injector.hpp>
#include <faults/http_faults.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <tuple>

namespace {

using faults::Fault;
using faults::FaultInjector;
using faults::Settings;
using namespace std::chrono_literals;

double gauge(const metrics::MetricsRegistry& metrics, std::string_view fault) {
  for (const auto& family : metrics.collect()) {
    if (family.name != "fault_injection_active") continue;
    for (const auto& metric : family.metric)
      if (metric.label.size() == 1 && metric.label[0].value == fault) return metric.gauge.value;
  }
  return -1;
}

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
