#pragma once
// What a run counted, and its rendering as the members of a JSON log record
// (the periodic report and the final summary).
#include "latency_histogram.hpp"
#include "workload.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace pokeload {

// How one request ended: the status class of its response, or no response.
enum class Outcome : std::uint8_t { success, redirect, client_error, server_error, timeout, error };
inline constexpr std::size_t outcome_count = 6;
inline constexpr std::array<std::string_view, outcome_count> outcome_names = {"2xx", "3xx",     "4xx",
                                                                              "5xx", "timeout", "error"};

// A status outside 200-599 is no usable answer: `error`.
Outcome outcome_of_status(unsigned status);

struct Counters {
  std::uint64_t due = 0;      // arrivals the schedule produced
  std::uint64_t sent = 0;     // of them, sent
  std::uint64_t dropped = 0;  // of them, not sent: --max-in-flight requests were already waiting
  std::array<std::uint64_t, outcome_count> outcomes{};
  std::array<std::uint64_t, 600> statuses{};  // responses by status code
  std::array<std::uint64_t, request_kind_count> sent_by_kind{};
  std::array<std::array<std::uint64_t, outcome_count>, request_kind_count> outcomes_by_kind{};

  std::uint64_t finished() const;   // with a response, a timeout or an error
  std::uint64_t responses() const;  // with an HTTP response
};

struct RunStats {
  Counters counters;
  LatencyHistogram latency;  // responses only, from the scheduled send time
  std::chrono::nanoseconds max_send_lag{0};
};

// The periodic report: what happened since the previous one.
std::string report_members(double elapsed_seconds, double interval_seconds, double target_rate, const Counters& now,
                           const Counters& before, const LatencyHistogram& interval_latency, std::size_t in_flight);

struct SummaryContext {
  std::string_view target;  // http://host:port
  std::string_view api;
  std::string_view arrivals;     // constant or poisson
  double elapsed_seconds = 0;    // from the start to the end of the arrivals (or the last send, if later)
  std::uint64_t unfinished = 0;  // still waiting when pokeload gave up on them
};

std::string summary_members(const RunStats& stats, const SummaryContext& context);

}  // namespace pokeload
