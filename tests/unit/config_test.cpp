#include "config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

// Sets an environment variable for the scope of one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

}  // namespace

TEST(Config, DefaultsServeTheEmbeddedDatabaseOnPort5000) {
  const auto result = apimon::parse_config({});
  ASSERT_TRUE(result.config);
  EXPECT_EQ(result.config->server.port, 5000);
  EXPECT_EQ(result.config->database.backend, storage::DatabaseUrl::Backend::sqlite);
  EXPECT_EQ(result.config->database.sqlite_path, ":memory:");
  EXPECT_FALSE(result.config->cache.max_entries);
}

TEST(Config, FlagsOverrideTheEnvironment) {
  ScopedEnv port("APIMON_PORT", "6000");
  EXPECT_EQ(apimon::parse_config({}).config->server.port, 6000);
  EXPECT_EQ(apimon::parse_config({"--port", "7000"}).config->server.port, 7000);
}

TEST(Config, InvalidFlagExitsTwoNamingTheSetting) {
  const auto result = apimon::parse_config({"--port", "70000"});
  EXPECT_FALSE(result.config);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.message.find("--port"), std::string::npos) << result.message;
}

TEST(Config, InvalidEnvironmentValueExitsTwoNamingTheSetting) {
  ScopedEnv threads("APIMON_THREADS", "many");
  const auto result = apimon::parse_config({});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.message.find("--threads"), std::string::npos) << result.message;
}

TEST(Config, UnknownFlagExitsTwo) {
  const auto result = apimon::parse_config({"--no-such-flag"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.message.find("--no-such-flag"), std::string::npos) << result.message;
}

TEST(Config, BadDatabaseUrlExitsTwoNamingTheSetting) {
  const auto result = apimon::parse_config({"--database-url", "postgres://x@y/z"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.message.find("--database-url"), std::string::npos) << result.message;
}

TEST(Config, HelpAndVersionExitZero) {
  const auto help = apimon::parse_config({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_FALSE(help.config);
  EXPECT_NE(help.message.find("APIMON_DATABASE_URL"), std::string::npos);
  const auto version = apimon::parse_config({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.message.find("apimon"), std::string::npos);
}

TEST(Config, ReadsThePasswordFromAFileWithoutItsNewline) {
  const auto path = std::filesystem::temp_directory_path() / "apimon-config-test-password";
  std::ofstream(path) << "s3cret\n";
  const auto result = apimon::parse_config(
      {"--database-url", "mysql://app@db:3306/pokedex", "--database-password-file", path.string()});
  std::filesystem::remove(path);
  ASSERT_TRUE(result.config) << result.message;
  EXPECT_EQ(result.config->database.password, "s3cret");
  EXPECT_EQ(result.config->database.host, "db");
}

TEST(Config, UnreadablePasswordFileExitsTwo) {
  const auto result = apimon::parse_config({"--database-password-file", "/nonexistent/password"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.message.find("--database-password-file"), std::string::npos) << result.message;
}

TEST(Config, HttpLimitsAreFlagsAndVariables) {
  const ScopedEnv io("APIMON_IO_TIMEOUT_MS", "1500");
  const ScopedEnv unsent("APIMON_MAX_UNSENT_BYTES", "2048");
  const auto result = apimon::parse_config({"--max-header-bytes", "2048", "--max-body-bytes", "100"});
  ASSERT_TRUE(result.config) << result.message;
  const auto& limits = result.config->server.limits;
  EXPECT_EQ(limits.max_header_bytes, 2048U);
  EXPECT_EQ(limits.max_body_bytes, 100U);
  EXPECT_EQ(limits.io_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(limits.max_unsent_bytes, 2048U);
  const auto refused = apimon::parse_config({"--io-timeout-ms", "99"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.message.find("--io-timeout-ms"), std::string::npos) << refused.message;
}

TEST(Config, TheFaultRouteIsAFlagAndAVariable) {
  EXPECT_EQ(apimon::parse_config({}).config->faults.route, "");
  ScopedEnv route("APIMON_FAULT_ROUTE", "/pokemon/{id}");
  EXPECT_EQ(apimon::parse_config({}).config->faults.route, "/pokemon/{id}");
  EXPECT_EQ(apimon::parse_config({"--fault-route", "/pokemon/random"}).config->faults.route, "/pokemon/random");
  // Checked against the routes once they are registered: faults_test, test_faults.py.
  EXPECT_NE(apimon::parse_config({"--help"}).message.find("APIMON_FAULT_ROUTE"), std::string::npos);
}
