// apimon: the Pokédex HTTP API of the observability study stack.
#include "config.hpp"
#include "pokedex_api.hpp"
#include "service_metrics.hpp"

#include <faults/http_faults.hpp>
#include <http/server.hpp>
#include <logging/logging.hpp>
#include <spdlog/spdlog.h>
#include <storage/open_repository.hpp>
#include <telemetry/telemetry.hpp>

#include <malloc.h>

#include <iostream>

namespace {

apimon::DatabaseDescription describe(const storage::DatabaseUrl& url) {
  if (url.backend == storage::DatabaseUrl::Backend::sqlite) return {"sqlite", "main", "", 0};
  return {"mariadb", url.database, url.host, url.port};
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = apimon::parse_config(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message << '\n';
    return parsed.exit_code;
  }
  apimon::Config& config = *parsed.config;
  logging::configure_json_stdout("apimon", config.log_level, config.log_output);

  std::unique_ptr<telemetry::Telemetry> telemetry;
  try {
    telemetry = telemetry::Telemetry::from_environment("apimon", APIMON_VERSION);
  } catch (const std::invalid_argument& error) {
    std::cerr << "apimon: invalid setting: " << error.what() << '\n';
    return 2;
  }

  try {
    auto repository = storage::open_repository(config.database, config.storage);
    apimon::ResponseCache cache(config.cache);
    const auto database = describe(config.database);
    faults::FaultInjector faults(apimon::supported_faults, &telemetry->metrics());
    apimon::InstrumentedRepository instrumented(*repository, telemetry->metrics(), database, config.telemetry, &faults);
    apimon::register_service_metrics(telemetry->metrics(), *repository, cache, database, APIMON_VERSION);
    apimon::PokedexApi api(instrumented, cache, telemetry->metrics(), faults, config.retry_after);
    http::Router router;
    api.register_routes(router);
    // After the routes: --fault-route names one of them.
    if (const auto problem = faults::start(router, faults, config.faults, config.admin_token); !problem.empty()) {
      std::cerr << "apimon: invalid setting --fault-route: " << problem << '\n';
      return 2;
    }

    config.server.telemetry = {config.telemetry ? telemetry->tracer() : nullptr,
                               config.telemetry ? &telemetry->http_server_metrics() : nullptr, config.access_log};
    http::Server server(config.server, std::move(router));
    server.listen();
    spdlog::info("apimon listening on {}:{} with {} thread(s); storage {}; response cache {}; traces {}; "
                 "fault admin API {}",
                 config.server.address, server.port(), config.server.threads, config.database.redacted(),
                 cache.enabled() ? std::to_string(config.cache.max_entries) + " entries" : "off",
                 telemetry->exporter_description(), config.admin_token.empty() ? "off" : "on");
    if (faults.any_active()) spdlog::warn("fault injection is on from the start: {}", faults.active_names());
    malloc_trim(0);  // seeding parsed a megabyte of SQL; give its scratch memory back before serving
    const bool drained = server.run();
    repository.reset();  // database work finishes before the event loops it answers to go away
    const bool flushed = telemetry->shutdown(std::chrono::seconds(5));
    spdlog::info("apimon stopped{}{}", drained ? "" : " (grace period expired)",
                 flushed ? "" : " (some spans could not be exported)");
    logging::stop_output(std::chrono::seconds(5));  // every buffered line reaches stdout before exit
    return 0;
  } catch (const std::exception& error) {
    spdlog::critical("apimon cannot start: {}", error.what());
    return 1;
  }
}
