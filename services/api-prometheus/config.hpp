#pragma once
#include <cli_settings/result.hpp>
#include <faults/fault_injector.hpp>
#include <http/client.hpp>
#include <service_settings/service_settings.hpp>

#include <optional>
#include <string>
#include <vector>

namespace api_prometheus {

// Its server, logs and faults as every service has them, and its own settings.
struct Config : service_settings::Settings {
  std::string apimon_host = "127.0.0.1";
  std::uint16_t apimon_port = 5000;
  http::ClientOptions upstream;
  double retry_budget = 0.1;  // retries allowed, as a share of upstream calls
  int max_team_size = 6;
};

inline constexpr std::initializer_list<faults::Fault> supported_faults = {faults::Fault::latency, faults::Fault::errors,
                                                                          faults::Fault::upstream_unreachable};

using ConfigResult = cli_settings::Result<Config>;

// Flags first, then APIPROM_* variables, then defaults; an invalid setting
// gives exit code 2 and a message naming it.
ConfigResult parse_config(const std::vector<std::string>& arguments);

}  // namespace api_prometheus
