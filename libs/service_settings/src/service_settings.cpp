#include "service_settings/service_settings.hpp"

#include <CLI/CLI.hpp>

namespace service_settings {

void SettingsOptions::add_to(CLI::App& app, const std::string& env_prefix, Settings& settings,
                             std::initializer_list<faults::Fault> supported) {
  settings_ = &settings;
  const auto env = [&](const char* name) { return env_prefix + "_" + name; };
  auto& server = settings.server;
  idle_ms_ = static_cast<std::uint64_t>(server.limits.idle_timeout.count());
  io_ms_ = static_cast<std::uint64_t>(server.limits.io_timeout.count());
  grace_ms_ = static_cast<std::uint64_t>(server.limits.shutdown_grace.count());
  log_flush_ms_ = static_cast<std::uint64_t>(settings.log_output.flush_interval.count());

  app.add_option("--listen-address", server.address, "Address to listen on")->envname(env("LISTEN_ADDRESS"));
  app.add_option("--port", server.port, "TCP port to listen on")->envname(env("PORT"))->check(CLI::Range(0, 65535));
  app.add_option("--threads", server.threads, "Event-loop threads")
      ->envname(env("THREADS"))
      ->check(CLI::Range(1U, 256U));
  app.add_option("--max-connections", server.limits.max_connections, "Open connections beyond this are closed")
      ->envname(env("MAX_CONNECTIONS"))
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  app.add_option("--max-header-bytes", server.limits.max_header_bytes, "Largest request line plus headers (431 beyond)")
      ->envname(env("MAX_HEADER_BYTES"))
      ->check(CLI::Range(std::size_t{512}, std::size_t{1} << 20));
  app.add_option("--max-body-bytes", server.limits.max_body_bytes, "Largest request body (413 beyond)")
      ->envname(env("MAX_BODY_BYTES"))
      ->check(CLI::Range(std::size_t{0}, std::size_t{64} << 20));
  app.add_option("--idle-timeout-ms", idle_ms_, "Close a kept-alive connection idle this long")
      ->envname(env("IDLE_TIMEOUT_MS"))
      ->check(CLI::Range(std::uint64_t{100}, std::uint64_t{3'600'000}));
  app.add_option("--io-timeout-ms", io_ms_, "Time to receive a request once it has begun, or to send a response")
      ->envname(env("IO_TIMEOUT_MS"))
      ->check(CLI::Range(std::uint64_t{100}, std::uint64_t{600'000}));
  app.add_option("--max-unsent-bytes", server.limits.max_unsent_bytes,
                 "Response bytes left unsent in the kernel before a write waits for the client to read")
      ->envname(env("MAX_UNSENT_BYTES"))
      ->check(CLI::Range(std::size_t{1024}, std::size_t{64} << 20));
  app.add_option("--shutdown-grace-ms", grace_ms_, "On SIGTERM, time in-flight requests get to finish")
      ->envname(env("SHUTDOWN_GRACE_MS"))
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{600'000}));
  app.add_option("--access-log", settings.access_log, "One JSON line per request on stdout (true or false)")
      ->envname(env("ACCESS_LOG"));
  app.add_option("--log-level", settings.log_level, "trace, debug, info, warn, error, critical or off")
      ->envname(env("LOG_LEVEL"))
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--log-flush-interval-ms", log_flush_ms_,
                 "Log lines reach stdout at least this often (sooner when a buffer is half full or at warn and "
                 "above)")
      ->envname(env("LOG_FLUSH_INTERVAL_MS"))
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{60'000}));
  app.add_option("--log-buffer-bytes", settings.log_output.buffer_bytes,
                 "Log lines waiting for stdout, per thread that logs; lines beyond are dropped and counted in "
                 "log_records_dropped_total")
      ->envname(env("LOG_BUFFER_BYTES"))
      ->check(CLI::Range(std::size_t{64} * 1024, std::size_t{64} * 1024 * 1024));
  faults_.add_to(app, env_prefix, supported);
}

void SettingsOptions::finish() const {
  settings_->server.limits.idle_timeout = std::chrono::milliseconds(idle_ms_);
  settings_->server.limits.io_timeout = std::chrono::milliseconds(io_ms_);
  settings_->server.limits.shutdown_grace = std::chrono::milliseconds(grace_ms_);
  settings_->log_output.flush_interval = std::chrono::milliseconds(log_flush_ms_);
  settings_->faults = faults_.settings();
  settings_->admin_token = faults_.admin_token();
}

}  // namespace service_settings
