// api-prometheus: a second service that calls apimon, for traces across
// services and for a showcase of every Prometheus metric type.
#include "api_prometheus.hpp"
#include "config.hpp"
#include "upstream.hpp"

#include <faults/http_faults.hpp>
#include <http/server.hpp>
#include <logging/logging.hpp>
#include <spdlog/spdlog.h>
#include <telemetry/telemetry.hpp>

#include <iostream>

int main(int argc, char** argv) {
  auto parsed = api_prometheus::parse_config(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message << '\n';
    return parsed.exit_code;
  }
  api_prometheus::Config& config = *parsed.config;
  logging::configure_json_stdout("api-prometheus", config.log_level, config.log_output);
  std::unique_ptr<telemetry::Telemetry> telemetry;
  try {
    telemetry = telemetry::Telemetry::from_environment("api-prometheus", API_PROMETHEUS_VERSION);
  } catch (const std::invalid_argument& error) {
    std::cerr << "api-prometheus: invalid setting: " << error.what() << '\n';
    return 2;
  }
  try {
    config.server.telemetry = {telemetry->tracer(), &telemetry->http_server_metrics(), config.access_log};
    http::Server server(config.server, http::Router{});
    server.listen();
    // The client's connections live on the server's (single) event loop, so
    // a handler's calls to apimon never leave its thread.
    http::Client client(server.executor(), config.upstream, telemetry->tracer(), &telemetry->metrics());
    faults::FaultInjector faults(api_prometheus::supported_faults, &telemetry->metrics());
    api_prometheus::Upstream upstream(client, config.apimon_host, config.apimon_port, config.retry_budget, &faults);
    api_prometheus::ApiPrometheus api(upstream, telemetry->metrics(), faults, config.max_team_size);
    http::Router router;
    api.register_routes(router);
    // After the routes: --fault-route names one of them.
    if (const auto problem = faults::start(router, faults, config.faults, config.admin_token); !problem.empty()) {
      std::cerr << "api-prometheus: invalid setting --fault-route: " << problem << '\n';
      return 2;
    }
    server.set_router(std::move(router));
    spdlog::info("api-prometheus listening on {}:{}; apimon at {}; traces {}; fault admin API {}",
                 config.server.address, server.port(), upstream.url(), telemetry->exporter_description(),
                 config.admin_token.empty() ? "off" : "on");
    if (faults.any_active()) spdlog::warn("fault injection is on from the start: {}", faults.active_names());
    server.run();
    const bool flushed = telemetry->shutdown(std::chrono::seconds(5));
    spdlog::info("api-prometheus stopped{}", flushed ? "" : " (some spans could not be exported)");
    logging::stop_output(std::chrono::seconds(5));  // every buffered line reaches stdout before exit
    return 0;
  } catch (const std::exception& error) {
    spdlog::critical("api-prometheus cannot start: {}", error.what());
    return 1;
  }
}
