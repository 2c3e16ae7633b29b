#pragma once
#include <faults/fault_injector.hpp>
#include <http/server.hpp>
#include <pokedex/database_url.hpp>
#include <pokedex/response_cache.hpp>
#include <pokedex/store_pool.hpp>

#include <optional>
#include <string>
#include <vector>

namespace apimon {

struct Config {
  http::ServerOptions server;
  pokedex::DatabaseUrl database;
  pokedex::StorePoolOptions pool;
  pokedex::ResponseCacheOptions cache;
  std::chrono::milliseconds query_timeout{2'000};
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::seconds retry_after{5};
  std::string log_level = "info";
  bool access_log = true;
  bool telemetry = true;  // automatic metrics and spans; off only to measure what they cost
  faults::Settings faults;  // injected from the start
  std::string admin_token;  // empty: no admin API
};

inline constexpr std::initializer_list<faults::Fault> supported_faults = {
    faults::Fault::latency, faults::Fault::errors, faults::Fault::slow_queries};

struct ConfigResult {
  std::optional<Config> config;  // set when the service should run
  int exit_code = 0;             // otherwise: 0 after --help/--version, 2 for an invalid setting
  std::string message;           // what to print (help text, version, or the error naming the setting)
};

// Reads flags, then the environment variable named beside each flag, then
// defaults. `environment` lookups go through getenv.
ConfigResult parse_config(const std::vector<std::string>& arguments);

}  // namespace apimon
