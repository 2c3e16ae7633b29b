// pokeload's --stages ("50@1m,200@30s") and --duration ("1m30s"): refused
// with std::invalid_argument, or a schedule whose arrival times are finite,
// never go back, and give the rate the stages asked for.
#include "fuzz_input.hpp"

#include <schedule.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace {

void check_duration(std::string_view text) {
  const auto duration = pokeload::parse_duration(text);
  if (!duration) return;
  FUZZ_CHECK(duration->count() >= 0);
  FUZZ_CHECK(*duration <= std::chrono::seconds(1'000'000'000));
}

void check_schedule(const std::vector<pokeload::Stage>& stages) {
  pokeload::Schedule schedule(1.0);
  try {
    schedule = pokeload::Schedule(stages);
  } catch (const std::invalid_argument&) {
    // Refused only when no stage would ever send a request.
    for (const auto& stage : stages)
      FUZZ_CHECK(!(stage.rate * std::chrono::duration<double>(stage.duration).count() > 0));
    return;
  }
  FUZZ_CHECK(std::isfinite(schedule.cycle_seconds()) && schedule.cycle_seconds() > 0);
  FUZZ_CHECK(std::isfinite(schedule.arrivals_per_cycle()) && schedule.arrivals_per_cycle() > 0);
  std::vector<double> expected_arrivals = {
      0.0, 0.5, 1.0, 1.5, 10.0, 1000.5, schedule.arrivals_per_cycle(), 2.5 * schedule.arrivals_per_cycle()};
  std::sort(expected_arrivals.begin(), expected_arrivals.end());
  double previous = 0;
  for (const double arrivals : expected_arrivals) {
    const double when = schedule.time_of(arrivals);
    FUZZ_CHECK(std::isfinite(when) && when >= 0);
    FUZZ_CHECK(when >= previous);
    previous = when;
  }
  for (std::size_t i = 0; i < stages.size(); ++i) {
    double start = 0;
    for (std::size_t j = 0; j < i; ++j) start += std::chrono::duration<double>(stages[j].duration).count();
    const double length = std::chrono::duration<double>(stages[i].duration).count();
    const double middle = start + length / 2;
    // Where a stage's middle is distinguishable from its ends in double precision.
    if (middle > start && middle < start + length) FUZZ_CHECK(schedule.rate_at(middle) == stages[i].rate);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = fuzz::as_text(data, size);
  check_duration(input);
  std::vector<pokeload::Stage> stages;
  try {
    stages = pokeload::parse_stages(input);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  FUZZ_CHECK(!stages.empty());
  for (const auto& stage : stages) {
    FUZZ_CHECK(std::isfinite(stage.rate) && stage.rate >= 0 && stage.rate <= 1e6);
    FUZZ_CHECK(stage.duration.count() > 0);
  }
  check_schedule(stages);
  return 0;
}
