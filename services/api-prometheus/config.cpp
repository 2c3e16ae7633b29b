#include "config.hpp"

#include <cli_settings/cli_settings.hpp>
#include <faults/fault_options.hpp>
#include <http/url.hpp>

#ifndef APIPROM_VERSION
#define APIPROM_VERSION "0.0.0"
#endif

namespace apiprom {

ConfigResult parse_config(const std::vector<std::string>& arguments) {
  Config config;
  CLI::App app{"api-prometheus: calls apimon and shows every Prometheus metric type", "api-prometheus"};
  app.set_version_flag("--version", std::string("api-prometheus ") + APIPROM_VERSION);
  app.option_defaults()->always_capture_default();
  auto& server = config.server;
  server.port = 8689;
  server.server_name = "api-prometheus";
  std::string apimon_url = "http://127.0.0.1:5000";
  std::uint64_t upstream_timeout_ms = 1000;
  std::uint64_t idle_ms = static_cast<std::uint64_t>(server.limits.idle_timeout.count());
  std::uint64_t grace_ms = static_cast<std::uint64_t>(server.limits.shutdown_grace.count());

  app.add_option("--listen-address", server.address, "Address to listen on")->envname("APIPROM_LISTEN_ADDRESS");
  app.add_option("--port", server.port, "TCP port to listen on")->envname("APIPROM_PORT")->check(CLI::Range(0, 65535));
  app.add_option("--threads", server.threads, "Event-loop threads")->envname("APIPROM_THREADS")
      ->check(CLI::Range(1u, 256u));
  app.add_option("--max-connections", server.limits.max_connections, "Open connections beyond this are closed")
      ->envname("APIPROM_MAX_CONNECTIONS")->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  app.add_option("--idle-timeout-ms", idle_ms, "Close a kept-alive connection idle this long")
      ->envname("APIPROM_IDLE_TIMEOUT_MS")->check(CLI::Range(std::uint64_t{100}, std::uint64_t{3'600'000}));
  app.add_option("--shutdown-grace-ms", grace_ms, "On SIGTERM, time in-flight requests get to finish")
      ->envname("APIPROM_SHUTDOWN_GRACE_MS")->check(CLI::Range(std::uint64_t{0}, std::uint64_t{600'000}));
  app.add_option("--apimon-url", apimon_url, "Where apimon answers: http://host:port")->envname("APIPROM_APIMON_URL");
  app.add_option("--upstream-timeout-ms", upstream_timeout_ms, "Deadline of one call to apimon (504 beyond)")
      ->envname("APIPROM_UPSTREAM_TIMEOUT_MS")->check(CLI::Range(std::uint64_t{10}, std::uint64_t{60'000}));
  app.add_option("--retry-budget", config.retry_budget,
                 "Retries of failed idempotent calls allowed, as a share of all upstream calls (0 to 1)")
      ->envname("APIPROM_RETRY_BUDGET")->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-team-size", config.max_team_size, "Largest team /team/{size} builds")
      ->envname("APIPROM_MAX_TEAM_SIZE")->check(CLI::Range(1, 32));
  app.add_option("--access-log", config.access_log, "One JSON line per request on stdout (true or false)")
      ->envname("APIPROM_ACCESS_LOG");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error, critical or off")
      ->envname("APIPROM_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  faults::FaultOptions fault_options;
  fault_options.add_to(app, "APIPROM", supported_faults);

  const auto outcome = cli_settings::parse(app, arguments, [&] {
    try {
      const auto apimon = http::parse_host_port_url(apimon_url);
      config.apimon_host = apimon.host;
      config.apimon_port = apimon.port;
    } catch (const std::invalid_argument& error) {
      throw CLI::ValidationError("--apimon-url", error.what());
    }
    config.upstream.timeout = std::chrono::milliseconds(upstream_timeout_ms);
    config.upstream.user_agent = "api-prometheus";
    server.limits.idle_timeout = std::chrono::milliseconds(idle_ms);
    server.limits.shutdown_grace = std::chrono::milliseconds(grace_ms);
    config.faults = fault_options.settings();
    config.admin_token = fault_options.admin_token();
  });
  ConfigResult result{std::nullopt, outcome.exit_code, outcome.message};
  if (outcome.run) result.config = std::move(config);
  return result;
}

}  // namespace apiprom
