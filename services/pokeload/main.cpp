// pokeload: an open-model load generator for the stack's two APIs, with its
// own latency histogram, metrics and traces.
#include "config.hpp"
#include "load_generator.hpp"

#include <http/client.hpp>
#include <http/metrics_endpoint.hpp>
#include <http/server.hpp>
#include <logging/logging.hpp>
#include <spdlog/spdlog.h>
#include <telemetry/telemetry.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

namespace {

namespace asio = boost::asio;

// pokeload's own /metrics, on the server's event loop (a thread of its own),
// so a scrape never delays an arrival.
class MetricsServer {
 public:
  MetricsServer(const pokeload::Config& config, metrics::MetricsRegistry& metrics) {
    if (config.metrics_port == 0) return;
    http::ServerOptions options;
    options.address = config.metrics_address;
    options.port = config.metrics_port;
    options.server_name = "pokeload";
    options.limits.shutdown_grace = std::chrono::milliseconds(500);
    http::Router router;
    router.get("/metrics", http::metrics_endpoint(metrics));
    server_ = std::make_unique<http::Server>(std::move(options), std::move(router));
    server_->listen();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~MetricsServer() {
    if (!server_) return;
    server_->stop();
    thread_.join();
  }
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const { return server_ ? server_->port() : 0; }

 private:
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

// One run, from the settings to the summary; its exit status.
int run(pokeload::Config& config) {
  logging::configure_json_stdout("pokeload", config.log_level);
  std::unique_ptr<telemetry::Telemetry> telemetry;
  try {
    telemetry = telemetry::Telemetry::from_environment("pokeload", POKELOAD_VERSION);
  } catch (const std::invalid_argument& error) {
    std::cerr << "pokeload: invalid setting: " << error.what() << '\n';
    return 2;
  }

  std::unique_ptr<MetricsServer> metrics_server;
  try {
    metrics_server = std::make_unique<MetricsServer>(config, telemetry->metrics());
  } catch (const std::exception& error) {
    spdlog::critical("pokeload cannot serve /metrics: {}", error.what());
    return 1;
  }

  asio::io_context io{1};
  http::ClientOptions client_options;
  client_options.timeout = config.load.timeout;
  client_options.max_idle_per_host = config.load.max_in_flight;  // every connection a burst opened stays usable
  client_options.user_agent = std::string("pokeload/") + POKELOAD_VERSION;
  http::Client client(io.get_executor(), client_options, telemetry->tracer(), &telemetry->metrics());
  pokeload::RequestPicker picker(config.mix, pokeload::IdSampler(config.max_id, config.ids, config.zipf_exponent),
                                 config.bad_share);
  pokeload::LoadGenerator generator(io.get_executor(), client, telemetry->tracer(), telemetry->metrics(),
                                    std::move(picker), config.load);

  // The first signal ends the arrivals and lets the requests in flight finish;
  // a second one stops at once.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool stopping = false;
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& error,
                                                                             int signal_number) {
    if (error) return;
    if (stopping) {
      spdlog::warn("received signal {} again; not waiting for the requests in flight", signal_number);
      io.stop();
      return;
    }
    stopping = true;
    spdlog::info("received signal {}; stopping", signal_number);
    generator.stop();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  spdlog::info("pokeload sending to {} ({}), {} arrivals, mix {}; /metrics on {}; traces {}", config.target_url,
               pokeload::api_name(config.api), config.arrivals, pokeload::format_mix(config.mix),
               metrics_server->port() != 0 ? std::to_string(metrics_server->port()) : "off",
               telemetry->exporter_description());
  asio::co_spawn(io, generator.run(), [&](const std::exception_ptr& failure) {
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& error) {
        spdlog::error("the load loop failed: {}", error.what());
      }
    }
    signals.cancel();
    io.stop();  // requests still in flight past their deadline are abandoned, and counted
  });
  io.run();

  const auto& stats = generator.stats();
  const std::string target = "http://" + config.load.target.host + ":" + std::to_string(config.load.target.port);
  const pokeload::SummaryContext context{target, pokeload::api_name(config.api), config.arrivals,
                                         generator.elapsed_seconds(), generator.in_flight()};
  const std::string summary = pokeload::summary_members(stats, context);
  logging::log_fields(spdlog::level::info, "summary", summary);
  if (!config.summary_file.empty()) {
    std::ofstream file(config.summary_file, std::ios::trunc);
    file << '{' << summary << "}\n";
    if (!file) spdlog::error("cannot write the summary to {}", config.summary_file);
  }
  metrics_server.reset();
  telemetry->shutdown(std::chrono::seconds(5));

  const bool nothing_answered = stats.counters.sent > 0 && stats.counters.responses() == 0;
  if (nothing_answered) spdlog::error("no request got an HTTP answer from {}", target);
  return nothing_answered ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = pokeload::parse_config(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message << '\n';
    return parsed.exit_code;
  }
  try {
    return run(*parsed.config);
  } catch (const std::exception& error) {
    spdlog::critical("pokeload failed: {}", error.what());
    return 1;
  }
}
