#include "config.hpp"

#include <cli_settings/cli_settings.hpp>
#include <http/url.hpp>

#include <random>

#ifndef POKELOAD_VERSION
#define POKELOAD_VERSION "0.0.0"
#endif

namespace pokeload {
namespace {

constexpr const char* footer = R"(Open model: each request is sent at its scheduled time whether or not earlier ones
were answered, so a slow target meets the same offered load and its slowness shows.
At most --max-in-flight requests wait at once; an arrival beyond that is dropped and
counted ("dropped" in the output, pokeload_dropped_arrivals_total), never silently
skipped. Latency is measured from the scheduled send time, not from when the
request left, so a stalled sender cannot hide a slow target (no coordinated
omission); it covers answered requests, timeouts and errors are counted apart.

Routes for --mix (weights from 0 to 1000000)
  apimon:          pokemon, pokemon_lang, random, search, type, generation
                   (default pokemon=60,pokemon_lang=10,random=5,search=10,type=10,generation=5)
  api-prometheus:  pokemon, battle, team   (default pokemon=60,battle=25,team=15)
--bad-share sends /pokemon/{id} with an invalid id (abc, -1, 025, 1a, 1e3: 400)
or an unknown number (5000-9999: 404), half each, in place of a request of the mix.

Durations: 500ms, 10s, 1m30s, 2h, or a number of seconds.
--stages 5@2m,50@30s: 5 req/s for two minutes, then 50 req/s for 30 s, then again
from the first stage, until --duration ends (0: until SIGTERM or SIGINT).

Output: JSON lines on stdout: a "report" record every --report-interval (what
happened since the previous one) and a "summary" record at the end (also written
to --summary-file): counts by outcome, status and route, the achieved rate, and
latency percentiles from a histogram precise to 1 %. Both are info records: a
--log-level above info silences them, --summary-file still gets the summary.
Traces follow the OTEL_* variables (OTEL_TRACES_EXPORTER=none keeps them local):
a root span per request, its CLIENT span as child, the context sent on.

Exit status: 0 after a run (SIGTERM and SIGINT end it early, with the summary);
1 when requests were sent and none got an HTTP answer, or /metrics cannot listen;
2 for an invalid setting.)";

void check(bool ok, const std::string& option, const std::string& message) {
  if (!ok) throw CLI::ValidationError(option, message);
}

// What `parse` returns; the std::invalid_argument it throws becomes an error naming `option`.
template <class Parse>
auto parsed_setting(const std::string& option, Parse&& parse) {
  try {
    return parse();
  } catch (const std::invalid_argument& error) {
    throw CLI::ValidationError(option, error.what());
  }
}

std::chrono::nanoseconds duration_setting(const std::string& option, const std::string& text) {
  const auto parsed = parse_duration(text);
  check(parsed.has_value(), option, "'" + text + "' is not a duration such as 500ms, 10s, 1m30s or 2h");
  return *parsed;
}

}  // namespace

ConfigResult parse_config(const std::vector<std::string>& arguments) {
  Config config;
  CLI::App app{"pokeload: an open-model load generator for apimon and api-prometheus", "pokeload"};
  app.set_version_flag("--version", std::string("pokeload ") + POKELOAD_VERSION);
  app.option_defaults()->always_capture_default();
  app.footer(footer);

  std::string api = "apimon";
  double rate = 5;
  std::string stages;
  std::string duration = "0";
  std::string mix;
  std::string ids = "zipf";
  std::string timeout = "2s";
  std::string report_interval = "10s";
  std::uint64_t seed = 0;
  auto& load = config.load;

  app.add_option("--target", config.target_url, "Where the API answers: http://host:port")->envname("POKELOAD_TARGET");
  app.add_option("--api", api, "Which API the target is, for its routes and default mix: apimon or api-prometheus")
      ->envname("POKELOAD_API");
  auto* rate_option = app.add_option("--rate", rate, "Requests per second, constant")->envname("POKELOAD_RATE");
  app.add_option("--stages", stages, "A stepped rate instead: RATE@DURATION,... repeated (see below)")
      ->envname("POKELOAD_STAGES")
      ->excludes(rate_option);
  app.add_option("--arrivals", config.arrivals, "Gaps between arrivals: constant (even) or poisson (random)")
      ->envname("POKELOAD_ARRIVALS");
  app.add_option("--duration", duration, "How long to send; 0 runs until SIGTERM or SIGINT")
      ->envname("POKELOAD_DURATION");
  app.add_option("--mix", mix, "Routes by weight, such as pokemon=70,search=30 (default: the API's own)")
      ->envname("POKELOAD_MIX");
  app.add_option("--ids", ids, "Pokédex numbers asked for: uniform, or zipf (a few popular, a long tail)")
      ->envname("POKELOAD_IDS");
  app.add_option("--zipf-exponent", config.zipf_exponent, "Zipf's s: number k is asked for in proportion to 1/k^s")
      ->envname("POKELOAD_ZIPF_EXPONENT");
  app.add_option("--max-id", config.max_id, "Numbers asked for are 1 to this")->envname("POKELOAD_MAX_ID");
  app.add_option("--bad-share", config.bad_share, "Share of requests with an invalid id or unknown number (0 to 1)")
      ->envname("POKELOAD_BAD_SHARE");
  app.add_option("--max-in-flight", load.max_in_flight, "Requests waiting at once; arrivals beyond are dropped")
      ->envname("POKELOAD_MAX_IN_FLIGHT");
  app.add_option("--timeout", timeout, "Deadline to connect, and to send and receive, one request")
      ->envname("POKELOAD_TIMEOUT");
  app.add_option("--report-interval", report_interval, "A report line on stdout this often; 0 for none")
      ->envname("POKELOAD_REPORT_INTERVAL");
  app.add_option("--metrics-address", config.metrics_address, "Address /metrics listens on")
      ->envname("POKELOAD_METRICS_ADDRESS");
  app.add_option("--metrics-port", config.metrics_port, "Port of pokeload's own /metrics; 0 for none")
      ->envname("POKELOAD_METRICS_PORT");
  app.add_option("--seed", seed, "Seed of the random choices, for a repeatable run; 0 picks one")
      ->envname("POKELOAD_SEED");
  app.add_option("--summary-file", config.summary_file, "Also write the summary record to this file")
      ->envname("POKELOAD_SUMMARY_FILE");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error, critical or off")
      ->envname("POKELOAD_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

  const auto outcome = cli_settings::parse(app, arguments, [&] {
    load.target = parsed_setting("--target", [&] { return http::parse_host_port_url(config.target_url); });
    const auto parsed_api = api_from_name(api);
    check(parsed_api.has_value(), "--api", "'" + api + "' is not apimon or api-prometheus");
    config.api = *parsed_api;
    if (stages.empty()) {
      check(rate > 0 && rate <= 1e6, "--rate", "must be more than 0 and at most 1000000 requests per second");
      load.schedule = Schedule(rate);
    } else {
      load.schedule = parsed_setting("--stages", [&] { return Schedule(parse_stages(stages)); });
    }
    check(config.arrivals == "constant" || config.arrivals == "poisson", "--arrivals",
          "'" + config.arrivals + "' is not constant or poisson");
    load.poisson = config.arrivals == "poisson";
    load.duration = duration_setting("--duration", duration);
    config.mix = parsed_setting("--mix",
                                [&] { return mix.empty() ? default_mix(config.api) : parse_mix(mix, config.api); });
    check(ids == "uniform" || ids == "zipf", "--ids", "'" + ids + "' is not uniform or zipf");
    config.ids = ids == "zipf" ? IdDistribution::zipf : IdDistribution::uniform;
    check(config.zipf_exponent > 0 && config.zipf_exponent <= 10, "--zipf-exponent",
          "must be more than 0 and at most 10");
    check(config.max_id >= 1 && config.max_id <= 1'000'000, "--max-id", "must be from 1 to 1000000");
    check(config.bad_share >= 0 && config.bad_share <= 1, "--bad-share", "must be from 0 to 1");
    check(load.max_in_flight >= 1 && load.max_in_flight <= 100'000, "--max-in-flight", "must be from 1 to 100000");
    const auto timeout_value = duration_setting("--timeout", timeout);
    check(timeout_value >= std::chrono::milliseconds(1) && timeout_value <= std::chrono::minutes(10), "--timeout",
          "must be from 1ms to 10m");
    load.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_value);
    load.report_interval = duration_setting("--report-interval", report_interval);
    check(load.report_interval.count() == 0 || load.report_interval >= std::chrono::milliseconds(100),
          "--report-interval", "must be 0 (none) or at least 100ms");
    load.seed = seed != 0 ? seed : std::random_device{}();
  });
  return cli_settings::result(outcome, std::move(config));
}

}  // namespace pokeload
