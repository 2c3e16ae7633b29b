#include "config.hpp"

#include <cli_settings/cli_settings.hpp>
#include <http/url.hpp>

#ifndef API_PROMETHEUS_VERSION
#define API_PROMETHEUS_VERSION "0.0.0"
#endif

namespace api_prometheus {

ConfigResult parse_config(const std::vector<std::string>& arguments) {
  Config config;
  CLI::App app{"api-prometheus: calls apimon and shows every Prometheus metric type", "api-prometheus"};
  app.set_version_flag("--version", std::string("api-prometheus ") + API_PROMETHEUS_VERSION);
  app.option_defaults()->always_capture_default();
  auto& server = config.server;
  server.port = 8689;
  server.server_name = "api-prometheus";
  std::string apimon_url = "http://127.0.0.1:5000";
  std::uint64_t upstream_timeout_ms = 1000;

  service_settings::SettingsOptions service_options;
  service_options.add_to(app, "APIPROM", config, supported_faults);

  app.add_option("--apimon-url", apimon_url, "Where apimon answers: http://host:port")->envname("APIPROM_APIMON_URL");
  app.add_option("--upstream-timeout-ms", upstream_timeout_ms, "Deadline of one call to apimon (504 beyond)")
      ->envname("APIPROM_UPSTREAM_TIMEOUT_MS")
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{60'000}));
  app.add_option("--retry-budget", config.retry_budget,
                 "Retries of failed idempotent calls allowed, as a share of all upstream calls (0 to 1)")
      ->envname("APIPROM_RETRY_BUDGET")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-team-size", config.max_team_size, "Largest team /team/{size} builds")
      ->envname("APIPROM_MAX_TEAM_SIZE")
      ->check(CLI::Range(1, 32));

  const auto outcome = cli_settings::parse(app, arguments, [&] {
    try {
      const auto apimon = http::parse_host_port_url(apimon_url);
      config.apimon_host = apimon.host;
      config.apimon_port = apimon.port;
    } catch (const std::invalid_argument& error) {
      throw CLI::ValidationError("--apimon-url", error.what());
    }
    // Its client's connections to apimon belong to the server's event loop,
    // so a handler's calls never leave its thread: one loop, by design.
    if (config.server.threads != 1)
      throw CLI::ValidationError("--threads", "api-prometheus runs one event loop; only 1 is accepted");
    config.upstream.timeout = std::chrono::milliseconds(upstream_timeout_ms);
    config.upstream.user_agent = "api-prometheus";
    service_options.finish();
  });
  return cli_settings::result(outcome, std::move(config));
}

}  // namespace api_prometheus
