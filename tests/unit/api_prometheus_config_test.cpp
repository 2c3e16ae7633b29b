#include "config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace {

// Sets an environment variable for the scope of one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

void expect_refused(const api_prometheus::ConfigResult& result, const std::string& setting) {
  EXPECT_FALSE(result.config);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.message.find(setting), std::string::npos) << result.message;
}

}  // namespace

TEST(ApiPrometheusConfig, HttpLimitsDefaultToTheServersDefaults) {
  const auto result = api_prometheus::parse_config({});
  ASSERT_TRUE(result.config) << result.message;
  const http::ServerLimits defaults;
  const auto& limits = result.config->server.limits;
  EXPECT_EQ(limits.max_header_bytes, defaults.max_header_bytes);
  EXPECT_EQ(limits.max_body_bytes, defaults.max_body_bytes);
  EXPECT_EQ(limits.io_timeout, defaults.io_timeout);
  EXPECT_EQ(limits.max_unsent_bytes, defaults.max_unsent_bytes);
}

TEST(ApiPrometheusConfig, AcceptsTheHttpLimitsAsFlags) {
  const auto result = api_prometheus::parse_config(
      {"--max-header-bytes", "2048", "--max-body-bytes", "0", "--io-timeout-ms", "250", "--max-unsent-bytes", "4096"});
  ASSERT_TRUE(result.config) << result.message;
  const auto& limits = result.config->server.limits;
  EXPECT_EQ(limits.max_header_bytes, 2048U);
  EXPECT_EQ(limits.max_body_bytes, 0U);
  EXPECT_EQ(limits.io_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(limits.max_unsent_bytes, 4096U);
}

TEST(ApiPrometheusConfig, AcceptsTheHttpLimitsFromTheEnvironment) {
  const ScopedEnv header("APIPROM_MAX_HEADER_BYTES", "4096");
  const ScopedEnv body("APIPROM_MAX_BODY_BYTES", "100");
  const ScopedEnv io("APIPROM_IO_TIMEOUT_MS", "1500");
  const ScopedEnv unsent("APIPROM_MAX_UNSENT_BYTES", "2048");
  const auto result = api_prometheus::parse_config({});
  ASSERT_TRUE(result.config) << result.message;
  const auto& limits = result.config->server.limits;
  EXPECT_EQ(limits.max_header_bytes, 4096U);
  EXPECT_EQ(limits.max_body_bytes, 100U);
  EXPECT_EQ(limits.io_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(limits.max_unsent_bytes, 2048U);
  // A flag wins over its variable.
  EXPECT_EQ(api_prometheus::parse_config({"--io-timeout-ms", "700"}).config->server.limits.io_timeout,
            std::chrono::milliseconds(700));
}

TEST(ApiPrometheusConfig, RefusesHttpLimitsOutOfRangeNamingThem) {
  expect_refused(api_prometheus::parse_config({"--max-header-bytes", "511"}), "--max-header-bytes");
  expect_refused(api_prometheus::parse_config({"--max-body-bytes", "67108865"}), "--max-body-bytes");
  expect_refused(api_prometheus::parse_config({"--io-timeout-ms", "99"}), "--io-timeout-ms");
  expect_refused(api_prometheus::parse_config({"--max-unsent-bytes", "1023"}), "--max-unsent-bytes");
  const ScopedEnv io("APIPROM_IO_TIMEOUT_MS", "soon");
  expect_refused(api_prometheus::parse_config({}), "--io-timeout-ms");
}

TEST(ApiPrometheusConfig, HelpListsTheHttpLimitsWithTheirVariables) {
  const auto help = api_prometheus::parse_config({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const auto* text :
       {"--max-header-bytes", "APIPROM_MAX_HEADER_BYTES", "--max-body-bytes", "APIPROM_MAX_BODY_BYTES",
        "--io-timeout-ms", "APIPROM_IO_TIMEOUT_MS", "--max-unsent-bytes", "APIPROM_MAX_UNSENT_BYTES"}) {
    EXPECT_NE(help.message.find(text), std::string::npos) << text;
  }
}
