#include "config.hpp"

#include <CLI/CLI.hpp>
#include <faults/fault_options.hpp>

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

  ConfigResult result;
  try {
    std::vector<std::string> reversed(arguments.rbegin(), arguments.rend());
    app.parse(reversed);
    const std::string_view prefix = "http://";
    std::string_view rest(apimon_url);
    if (!rest.starts_with(prefix)) throw CLI::ValidationError("--apimon-url", "must be http://host:port");
    rest.remove_prefix(prefix.size());
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || rest.find('/') != std::string_view::npos)
      throw CLI::ValidationError("--apimon-url", "must be http://host:port");
    const std::string port(rest.substr(colon + 1));
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) == 0 || std::stoul(port) > 65535)
      throw CLI::ValidationError("--apimon-url", "has an invalid port");
    config.apimon_host = std::string(rest.substr(0, colon));
    config.apimon_port = static_cast<std::uint16_t>(std::stoul(port));
    config.upstream.timeout = std::chrono::milliseconds(upstream_timeout_ms);
    config.upstream.user_agent = "api-prometheus";
    server.limits.idle_timeout = std::chrono::milliseconds(idle_ms);
    server.limits.shutdown_grace = std::chrono::milliseconds(grace_ms);
    config.faults = fault_options.settings();
    config.admin_token = fault_options.admin_token();
    result.config = std::move(config);
  } catch (const CLI::CallForHelp&) {
    result.message = app.help();
  } catch (const CLI::CallForVersion& version) {
    result.message = version.what();
  } catch (const CLI::Error& error) {
    result.exit_code = 2;
    result.message = "api-prometheus: invalid setting: " + std::string(error.what()) +
                     "\nRun 'api-prometheus --help' for the settings and their environment variables.";
  }
  return result;
}

}  // namespace apiprom
