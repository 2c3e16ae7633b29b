#include "faults/fault_options.hpp"

#include <CLI/CLI.hpp>

#include <secret_file/secret_file.hpp>

#include <algorithm>

namespace faults {

void FaultOptions::add_to(CLI::App& app, const std::string& env_prefix, std::initializer_list<Fault> supported) {
  const auto supports = [&](Fault fault) {
    return std::find(supported.begin(), supported.end(), fault) != supported.end();
  };
  const auto env = [&](const char* name) { return env_prefix + "_" + name; };
  const std::string group = "Fault injection (trouble on purpose, for study)";
  const auto delay = CLI::Range(std::uint64_t{0}, std::uint64_t{60'000});
  const auto share = CLI::Range(0.0, 1.0);
  if (supports(Fault::latency)) {
    app.add_option("--fault-latency-ms", latency_ms_, "Delay added to API requests")
        ->envname(env("FAULT_LATENCY_MS"))
        ->check(delay)
        ->group(group);
    app.add_option("--fault-latency-jitter-ms", latency_jitter_ms_, "Plus a random 0..jitter on top of the delay")
        ->envname(env("FAULT_LATENCY_JITTER_MS"))
        ->check(delay)
        ->group(group);
    app.add_option("--fault-latency-share", latency_share_, "Share of API requests delayed (0 to 1)")
        ->envname(env("FAULT_LATENCY_SHARE"))
        ->check(share)
        ->group(group);
  }
  if (supports(Fault::errors)) {
    app.add_option("--fault-error-share", error_share_, "Share of API requests answered with an error (0 to 1)")
        ->envname(env("FAULT_ERROR_SHARE"))
        ->check(share)
        ->group(group);
    app.add_option("--fault-error-status", error_status_, "Status of the injected errors (500 to 599)")
        ->envname(env("FAULT_ERROR_STATUS"))
        ->check(CLI::Range(500U, 599U))
        ->group(group);
  }
  if (supports(Fault::latency) || supports(Fault::errors)) {
    // Checked against the service's routes once they are registered.
    app.add_option("--fault-route", route_,
                   "Route template the latency and error faults reach, exactly as the service registers it "
                   "(e.g. /pokemon/{id}); empty: every API route")
        ->envname(env("FAULT_ROUTE"))
        ->group(group);
  }
  if (supports(Fault::slow_queries)) {
    app.add_option("--fault-slow-query-ms", slow_query_ms_, "Delay added to database queries")
        ->envname(env("FAULT_SLOW_QUERY_MS"))
        ->check(delay)
        ->group(group);
    app.add_option("--fault-slow-query-share", slow_query_share_, "Share of database queries slowed (0 to 1)")
        ->envname(env("FAULT_SLOW_QUERY_SHARE"))
        ->check(share)
        ->group(group);
  }
  if (supports(Fault::upstream_unreachable)) {
    app.add_option("--fault-upstream-unreachable", upstream_unreachable_,
                   "Refuse every call to the upstream service (true or false)")
        ->envname(env("FAULT_UPSTREAM_UNREACHABLE"))
        ->group(group);
  }
  app.add_option("--admin-token", admin_token_,
                 "Token of the fault-injection admin API (/admin/faults); the API is off without one "
                 "(prefer the _FILE form)")
      ->envname(env("ADMIN_TOKEN"))
      ->group(group);
  app.add_option("--admin-token-file", admin_token_file_, "File holding the admin API's token (empty: API off)")
      ->envname(env("ADMIN_TOKEN_FILE"))
      ->group(group);
}

Settings FaultOptions::settings() const {
  Settings settings;
  settings.latency = std::chrono::milliseconds(latency_ms_);
  settings.latency_jitter = std::chrono::milliseconds(latency_jitter_ms_);
  settings.latency_share = latency_share_;
  settings.error_share = error_share_;
  settings.error_status = error_status_;
  settings.slow_query = std::chrono::milliseconds(slow_query_ms_);
  settings.slow_query_share = slow_query_share_;
  settings.upstream_unreachable = upstream_unreachable_;
  settings.route = route_;
  return settings;
}

std::string FaultOptions::admin_token() const {
  if (admin_token_file_.empty()) return admin_token_;
  const auto token = secret_file::read(admin_token_file_);
  if (!token) throw CLI::ValidationError("--admin-token-file", "cannot read '" + admin_token_file_ + "'");
  return *token;  // an empty file leaves the admin API off, as no token does
}

}  // namespace faults
