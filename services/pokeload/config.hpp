#pragma once
#include "load_generator.hpp"
#include "workload.hpp"

#include <cli_settings/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pokeload {

struct Config {
  std::string target_url = "http://127.0.0.1:5000";
  Api api = Api::apimon;
  LoadOptions load;
  std::string arrivals = "constant";  // or poisson
  Mix mix;
  IdDistribution ids = IdDistribution::zipf;
  double zipf_exponent = 1.1;
  int max_id = 1025;
  double bad_share = 0.02;
  std::string metrics_address = "0.0.0.0";
  std::uint16_t metrics_port = 9464;  // 0: no /metrics
  std::string summary_file;           // empty: stdout only
  std::string log_level = "info";
};

using ConfigResult = cli_settings::Result<Config>;

// Flags first, then POKELOAD_* variables, then defaults; an invalid setting
// gives exit code 2 and a message naming it.
ConfigResult parse_config(const std::vector<std::string>& arguments);

}  // namespace pokeload
