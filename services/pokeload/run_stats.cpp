#include "run_stats.hpp"

#include <json_writer/json_writer.hpp>

#include <array>
#include <cstdio>

namespace pokeload {
namespace {

std::string fixed(double value, int decimals) {
  std::array<char, 48> text;
  const int length = std::snprintf(text.data(), text.size(), "%.*f", decimals, value);
  return {text.data(), static_cast<std::size_t>(length)};
}

std::string milliseconds(std::chrono::nanoseconds value) { return fixed(static_cast<double>(value.count()) / 1e6, 3); }

std::int64_t as_int(std::uint64_t value) { return static_cast<std::int64_t>(value); }

void write_outcomes(json_writer::Writer& json, const std::array<std::uint64_t, outcome_count>& counts,
                    const std::array<std::uint64_t, outcome_count>* before = nullptr) {
  for (std::size_t i = 0; i < outcome_count; ++i)
    json.member(outcome_names[i], as_int(counts[i] - (before ? (*before)[i] : 0)));
}

void write_latency(json_writer::Writer& json, const LatencyHistogram& latency) {
  json.key("latency_ms").begin_object().member("count", as_int(latency.count()));
  json.key("min").raw(milliseconds(latency.min()));
  json.key("mean").raw(milliseconds(latency.mean()));
  json.key("p50").raw(milliseconds(latency.percentile(50)));
  json.key("p90").raw(milliseconds(latency.percentile(90)));
  json.key("p99").raw(milliseconds(latency.percentile(99)));
  json.key("p99.9").raw(milliseconds(latency.percentile(99.9)));
  json.key("max").raw(milliseconds(latency.max()));
  json.end_object();
}

// The writer starts a document; a record's members follow the record's own,
// so the leading brace and the closing one are cut off.
std::string members_of(const std::string& object) { return object.substr(1, object.size() - 2); }

}  // namespace

Outcome outcome_of_status(unsigned status) {
  if (status >= 200 && status < 300) return Outcome::success;
  if (status >= 300 && status < 400) return Outcome::redirect;
  if (status >= 400 && status < 500) return Outcome::client_error;
  if (status >= 500 && status < 600) return Outcome::server_error;
  return Outcome::error;
}

std::uint64_t Counters::finished() const {
  std::uint64_t total = 0;
  for (const auto count : outcomes) total += count;
  return total;
}

std::uint64_t Counters::responses() const {
  return finished() - outcomes[static_cast<std::size_t>(Outcome::timeout)] -
         outcomes[static_cast<std::size_t>(Outcome::error)];
}

std::string report_members(double elapsed_seconds, double interval_seconds, double target_rate, const Counters& now,
                           const Counters& before, const LatencyHistogram& interval_latency, std::size_t in_flight) {
  std::string object;
  json_writer::Writer json(object);
  const std::uint64_t sent = now.sent - before.sent;
  json.begin_object();
  json.key("elapsed_s").raw(fixed(elapsed_seconds, 3));
  json.key("target_rate").raw(fixed(target_rate, 3));
  json.member("sent", as_int(sent));
  json.key("rate").raw(fixed(interval_seconds > 0 ? static_cast<double>(sent) / interval_seconds : 0, 3));
  json.member("dropped", as_int(now.dropped - before.dropped));
  json.member("in_flight", as_int(in_flight));
  json.key("outcomes").begin_object();
  write_outcomes(json, now.outcomes, &before.outcomes);
  json.end_object();
  write_latency(json, interval_latency);
  json.end_object();
  return members_of(object);
}

std::string summary_members(const RunStats& stats, const SummaryContext& context) {
  const Counters& counters = stats.counters;
  std::string object;
  object.reserve(2048);
  json_writer::Writer json(object);
  json.begin_object();
  json.member("target", context.target).member("api", context.api).member("arrivals", context.arrivals);
  json.key("elapsed_s").raw(fixed(context.elapsed_seconds, 3));
  const double seconds = context.elapsed_seconds > 0 ? context.elapsed_seconds : 1;
  json.key("scheduled_rate").raw(fixed(static_cast<double>(counters.due) / seconds, 3));
  json.key("achieved_rate").raw(fixed(static_cast<double>(counters.sent) / seconds, 3));
  json.member("due", as_int(counters.due))
      .member("sent", as_int(counters.sent))
      .member("dropped", as_int(counters.dropped))
      .member("unfinished", as_int(context.unfinished))
      .member("responses", as_int(counters.responses()));
  json.key("outcomes").begin_object();
  write_outcomes(json, counters.outcomes);
  json.end_object();
  json.key("status").begin_object();
  for (std::size_t code = 0; code < counters.statuses.size(); ++code)
    if (counters.statuses[code] != 0) json.member(std::to_string(code), as_int(counters.statuses[code]));
  json.end_object();
  json.key("requests").begin_object();
  for (std::size_t kind = 0; kind < request_kind_count; ++kind) {
    if (counters.sent_by_kind[kind] == 0) continue;
    json.key(kind_name(static_cast<RequestKind>(kind))).begin_object();
    json.member("sent", as_int(counters.sent_by_kind[kind]));
    write_outcomes(json, counters.outcomes_by_kind[kind]);
    json.end_object();
  }
  json.end_object();
  write_latency(json, stats.latency);
  json.key("max_send_lag_ms").raw(milliseconds(stats.max_send_lag));
  json.end_object();
  return members_of(object);
}

}  // namespace pokeload
