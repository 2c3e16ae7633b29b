#pragma once
// The settings every HTTP service of the stack shares, besides its own: where
// and how its server listens, its logs, and the faults it may inject.
#include <faults/fault_injector.hpp>
#include <faults/fault_options.hpp>
#include <http/server.hpp>
#include <logging/line_writer.hpp>

#include <CLI/App.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>

namespace service_settings {

struct Settings {
  http::ServerOptions server;
  std::string log_level = "info";
  bool access_log = true;
  // Where log lines go: stdout, through a buffer per thread that logs.
  logging::LineWriterOptions log_output;
  faults::Settings faults;  // injected from the start
  std::string admin_token;  // empty: no admin API
};

class SettingsOptions {
 public:
  // Adds --listen-address, --port, --threads, --max-connections,
  // --max-header-bytes, --max-body-bytes, --idle-timeout-ms, --io-timeout-ms,
  // --max-unsent-bytes, --shutdown-grace-ms, --access-log, --log-level,
  // --log-flush-interval-ms, --log-buffer-bytes and the fault-injection
  // settings of the `supported` faults to `app`, each also
  // read from <env_prefix>_<NAME> (APIMON_PORT), defaulting to the values
  // `settings` holds now. `settings` must outlive the parsing.
  void add_to(CLI::App& app, const std::string& env_prefix, Settings& settings,
              std::initializer_list<faults::Fault> supported);

  // After parsing: completes `settings` (durations, faults, the admin token);
  // throws CLI::ValidationError naming a setting that cannot be read.
  void finish() const;

 private:
  Settings* settings_ = nullptr;
  std::uint64_t idle_ms_ = 0;
  std::uint64_t io_ms_ = 0;
  std::uint64_t grace_ms_ = 0;
  std::uint64_t log_flush_ms_ = 0;
  faults::FaultOptions faults_;
};

}  // namespace service_settings
