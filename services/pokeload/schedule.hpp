#pragma once
// When requests are due: the arrival schedule of an open workload model.
// Arrivals follow the clock, never the responses, so a slow server meets the
// same offered load as a fast one and its slowness shows in the latencies.
#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

namespace pokeload {

// "250ms", "10s", "1m30s", "2h", or a plain number of seconds ("0.5");
// nullopt for anything else, negative durations included.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

struct Stage {
  double rate = 0;  // requests per second; 0 is a pause
  std::chrono::nanoseconds duration{0};
};

// "50@1m,200@30s": each stage a rate and how long it lasts. Throws
// std::invalid_argument saying which stage is wrong.
std::vector<Stage> parse_stages(std::string_view text);

// The offered rate as a step function of time, repeating after the last stage.
// Arrivals are placed where the expected number of arrivals since the start
// (the integral of the rate) reaches a given value: n + 1/2 for evenly spaced
// arrivals, a running sum of exponential variates for a Poisson process, whose
// gaps then stretch and shrink with the rate.
class Schedule {
 public:
  explicit Schedule(double rate);  // constant
  // Throws std::invalid_argument when no stage has a positive rate and duration.
  explicit Schedule(const std::vector<Stage>& stages);

  double rate_at(double seconds) const;
  // The earliest time (seconds since the start) by which `expected_arrivals`
  // arrivals are due.
  double time_of(double expected_arrivals) const;
  // Requests due in one pass through the stages, and its length.
  double arrivals_per_cycle() const { return arrivals_per_cycle_; }
  double cycle_seconds() const { return cycle_seconds_; }

 private:
  struct Step {
    double rate;
    double start;     // seconds into the cycle
    double seconds;   // length
    double arrivals;  // rate × seconds
  };
  std::vector<Step> steps_;
  double cycle_seconds_ = 0;
  double arrivals_per_cycle_ = 0;
};

}  // namespace pokeload
