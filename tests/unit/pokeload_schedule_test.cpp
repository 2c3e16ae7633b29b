#include "schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

using namespace std::chrono_literals;
using pokeload::parse_duration;
using pokeload::parse_stages;
using pokeload::Schedule;

TEST(PokeloadDuration, ParsesUnitsAndPlainSeconds) {
  EXPECT_EQ(parse_duration("0"), 0ns);
  EXPECT_EQ(parse_duration("10"), 10s);
  EXPECT_EQ(parse_duration("0.5"), 500ms);
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("10s"), 10s);
  EXPECT_EQ(parse_duration("1m30s"), 90s);
  EXPECT_EQ(parse_duration("2h"), 2h);
  EXPECT_EQ(parse_duration("1.5m"), 90s);
}

TEST(PokeloadDuration, RejectsWhatIsNotADuration) {
  for (const char* text : {"", "-1", "-1s", "+5s", "ten", "10x", "1m30", "s", "10 s", "1e3", "nan", "inf"})
    EXPECT_FALSE(parse_duration(text).has_value()) << text;
}

TEST(PokeloadStages, ParsesRatesAndDurations) {
  const auto stages = parse_stages("50@1m,200@30s,0@10s");
  ASSERT_EQ(stages.size(), 3u);
  EXPECT_EQ(stages[0].rate, 50);
  EXPECT_EQ(stages[0].duration, 60s);
  EXPECT_EQ(stages[1].rate, 200);
  EXPECT_EQ(stages[2].rate, 0);
  EXPECT_EQ(stages[2].duration, 10s);
  EXPECT_EQ(parse_stages("5@2m, 50@30s").size(), 2u);
}

TEST(PokeloadStages, NamesTheBadStage) {
  for (const char* text : {"50", "50@", "x@1m", "-5@1m", "50@0s", "50@1m,", "50@1m,,10@1s", "50@forever"}) {
    try {
      parse_stages(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find("stage "), std::string::npos) << error.what();
    }
  }
  EXPECT_THROW(Schedule(parse_stages("0@1m")), std::invalid_argument);  // never sends
}

TEST(PokeloadSchedule, ConstantRateSpacesArrivalsEvenly) {
  const Schedule schedule(500);
  EXPECT_DOUBLE_EQ(schedule.time_of(0.5), 0.001);
  EXPECT_DOUBLE_EQ(schedule.time_of(1.5), 0.003);
  // 10 s at 500/s: the 5000 arrivals n + 1/2 all fall inside [0, 10).
  EXPECT_LT(schedule.time_of(4999.5), 10.0);
  EXPECT_GE(schedule.time_of(5000.5), 10.0);
  EXPECT_NEAR(schedule.time_of(5e8 + 0.5), 1e6 + 0.001, 1e-6);  // no drift over long runs
  EXPECT_EQ(schedule.rate_at(0), 500);
  EXPECT_EQ(schedule.rate_at(12345.6), 500);
}

TEST(PokeloadSchedule, StagesStepTheRateAndRepeat) {
  const Schedule schedule(parse_stages("10@2s,0@1s,100@1s"));
  EXPECT_DOUBLE_EQ(schedule.cycle_seconds(), 4);
  EXPECT_DOUBLE_EQ(schedule.arrivals_per_cycle(), 120);
  EXPECT_EQ(schedule.rate_at(1.9), 10);
  EXPECT_EQ(schedule.rate_at(2.5), 0);
  EXPECT_EQ(schedule.rate_at(3.5), 100);
  EXPECT_EQ(schedule.rate_at(4.5), 10);  // the second cycle
  EXPECT_DOUBLE_EQ(schedule.time_of(0.5), 0.05);
  EXPECT_DOUBLE_EQ(schedule.time_of(19.5), 1.95);
  // Nothing is due in the pause: arrival 20 opens the 100/s stage.
  EXPECT_NEAR(schedule.time_of(20.5), 3.005, 1e-12);
  EXPECT_NEAR(schedule.time_of(119.5), 3.995, 1e-12);
  EXPECT_NEAR(schedule.time_of(120.5), 4.05, 1e-12);
}

TEST(PokeloadSchedule, PoissonArrivalsKeepTheRate) {
  // Arrivals at running sums of exponential variates: on average the rate.
  const Schedule schedule(parse_stages("200@5s,50@5s"));
  std::mt19937_64 random(7);
  std::exponential_distribution<double> gap(1.0);
  int first = 0;
  int second = 0;
  double expected = gap(random);
  for (;;) {
    const double at = schedule.time_of(expected);
    if (at >= 100) break;
    (std::fmod(at, 10.0) < 5 ? first : second) += 1;
    expected += gap(random);
  }
  EXPECT_NEAR(first, 200 * 5 * 10, 300);  // ten cycles; a few standard deviations
  EXPECT_NEAR(second, 50 * 5 * 10, 150);
}
