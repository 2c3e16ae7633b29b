#pragma once
#include "response_cache.hpp"

#include <cli_settings/result.hpp>
#include <faults/fault_injector.hpp>
#include <service_settings/service_settings.hpp>
#include <storage/database_url.hpp>
#include <storage/open_repository.hpp>

#include <optional>
#include <string>
#include <vector>

namespace apimon {

// Its server, logs and faults as every service has them, and its own settings.
struct Config : service_settings::Settings {
  storage::DatabaseUrl database;
  storage::StorageOptions storage;
  ResponseCacheOptions cache;
  std::chrono::seconds retry_after{5};
  bool telemetry = true;  // automatic metrics and spans; off only to measure what they cost
};

inline constexpr std::initializer_list<faults::Fault> supported_faults = {faults::Fault::latency, faults::Fault::errors,
                                                                          faults::Fault::slow_queries};

using ConfigResult = cli_settings::Result<Config>;

// Reads flags, then the environment variable named beside each flag, then
// defaults. `environment` lookups go through getenv.
ConfigResult parse_config(const std::vector<std::string>& arguments);

}  // namespace apimon
