#include "schedule.hpp"

#include "list.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>

namespace pokeload {
namespace {

// A finite, non-negative decimal number at the start of `text`; advances past it.
std::optional<double> take_number(std::string_view& text) {
  if (text.empty() || text.front() == '-' || text.front() == '+') return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (ec != std::errc() || !std::isfinite(value)) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return value;
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string_view rest = text;
  const auto first = take_number(rest);
  if (!first) return std::nullopt;
  if (rest.empty()) {  // a plain number: seconds
    if (*first > 1e9) return std::nullopt;
    return std::chrono::nanoseconds(std::llround(*first * 1e9));
  }
  double seconds = 0;
  std::optional<double> number = first;
  for (;;) {
    double unit = 0;
    if (rest.starts_with("ms")) {
      unit = 1e-3;
      rest.remove_prefix(2);
    } else if (rest.starts_with("s")) {
      unit = 1;
      rest.remove_prefix(1);
    } else if (rest.starts_with("m")) {
      unit = 60;
      rest.remove_prefix(1);
    } else if (rest.starts_with("h")) {
      unit = 3600;
      rest.remove_prefix(1);
    } else {
      return std::nullopt;
    }
    seconds += *number * unit;
    if (rest.empty()) break;
    number = take_number(rest);
    if (!number || rest.empty()) return std::nullopt;  // "1m30": every number needs its unit here
  }
  if (seconds > 1e9) return std::nullopt;
  return std::chrono::nanoseconds(std::llround(seconds * 1e9));
}

std::vector<Stage> parse_stages(std::string_view text) {
  std::vector<Stage> stages;
  int number = 0;
  for (const std::string_view item : split_list(text)) {
    ++number;
    const std::string where = "stage " + std::to_string(number) + " '" + std::string(item) + "'";
    const auto at = item.find('@');
    if (at == std::string_view::npos) throw std::invalid_argument(where + " is not RATE@DURATION, such as 50@1m");
    std::string_view rate_text = item.substr(0, at);
    const auto rate = take_number(rate_text);
    if (!rate || !rate_text.empty() || *rate > 1e6)
      throw std::invalid_argument(where + " has a rate that is not a number from 0 to 1000000");
    const auto duration = parse_duration(item.substr(at + 1));
    if (!duration || duration->count() <= 0)
      throw std::invalid_argument(where + " has a duration that is not positive, such as 30s or 1m");
    stages.push_back({*rate, *duration});
  }
  return stages;
}

Schedule::Schedule(double rate) : Schedule(std::vector<Stage>{{rate, std::chrono::seconds(1)}}) {}

Schedule::Schedule(const std::vector<Stage>& stages) {
  for (const Stage& stage : stages) {
    const double seconds = std::chrono::duration<double>(stage.duration).count();
    steps_.push_back({stage.rate, cycle_seconds_, seconds, stage.rate * seconds});
    cycle_seconds_ += seconds;
    arrivals_per_cycle_ += stage.rate * seconds;
  }
  if (!(arrivals_per_cycle_ > 0)) throw std::invalid_argument("no stage has a positive rate");
}

double Schedule::rate_at(double seconds) const {
  double into = std::fmod(std::max(seconds, 0.0), cycle_seconds_);
  for (const Step& step : steps_)
    if (into < step.start + step.seconds) return step.rate;
  return steps_.back().rate;
}

double Schedule::time_of(double expected_arrivals) const {
  const double cycles = std::floor(std::max(expected_arrivals, 0.0) / arrivals_per_cycle_);
  double remaining = std::max(expected_arrivals, 0.0) - cycles * arrivals_per_cycle_;
  for (const Step& step : steps_) {
    if (step.rate > 0 && remaining <= step.arrivals)
      return cycles * cycle_seconds_ + step.start + remaining / step.rate;
    remaining -= step.arrivals;
  }
  return (cycles + 1) * cycle_seconds_;  // rounding at the very end of a cycle
}

}  // namespace pokeload
