#pragma once
// The fault-injection settings on a service's command line: --fault-* flags
// (each also read from <PREFIX>_FAULT_*) for the faults the service
// supports, and the admin API's token (--admin-token or --admin-token-file).
#include "faults/fault_injector.hpp"

#include <CLI/App.hpp>

#include <initializer_list>
#include <string>

namespace faults {

class FaultOptions {
 public:
  // Adds the options to `app`; `env_prefix` is e.g. "APIMON".
  void add_to(CLI::App& app, const std::string& env_prefix, std::initializer_list<Fault> supported);

  // After parsing. admin_token() reads the token file when one was given
  // (an empty file means no token: the admin API stays off) and throws
  // CLI::ValidationError naming the option when it cannot read it.
  Settings settings() const;
  std::string admin_token() const;

 private:
  std::uint64_t latency_ms_ = 0;
  std::uint64_t latency_jitter_ms_ = 0;
  double latency_share_ = 1.0;
  double error_share_ = 0.0;
  unsigned error_status_ = 500;
  std::uint64_t slow_query_ms_ = 0;
  double slow_query_share_ = 1.0;
  bool upstream_unreachable_ = false;
  std::string route_;
  std::string admin_token_;
  std::string admin_token_file_;
};

}  // namespace faults
