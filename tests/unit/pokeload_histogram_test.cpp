#include "latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using pokeload::LatencyHistogram;
using std::chrono::nanoseconds;

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGapsOrOverlaps) {
  const std::size_t last = LatencyHistogram::index_of(LatencyHistogram::highest_ns);
  for (std::size_t i = 0; i < last; ++i) {
    const auto low = LatencyHistogram::lowest_equivalent(i);
    const auto width = LatencyHistogram::bucket_width(i);
    ASSERT_EQ(LatencyHistogram::index_of(low), i);
    ASSERT_EQ(LatencyHistogram::index_of(low + width - 1), i);
    ASSERT_EQ(LatencyHistogram::lowest_equivalent(i + 1), low + width) << "bucket " << i;
  }
}

TEST(LatencyHistogram, EveryBucketIsNarrowerThanOnePercentOfItsValues) {
  for (std::size_t i = 1; i <= LatencyHistogram::index_of(LatencyHistogram::highest_ns); ++i) {
    const double low = static_cast<double>(LatencyHistogram::lowest_equivalent(i));
    if (low < 1000) continue;  // below 1 µs buckets are 1 ns wide
    ASSERT_LT(static_cast<double>(LatencyHistogram::bucket_width(i)) / low, 0.01) << "bucket " << i;
  }
}

TEST(LatencyHistogram, PercentilesAgreeWithSortedValuesWithinOnePercent) {
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> latency(std::log(2e6), 1.0);  // around 2 ms, a long tail
  LatencyHistogram histogram;
  std::vector<std::int64_t> values;
  for (int i = 0; i < 100'000; ++i) {
    const auto value = static_cast<std::int64_t>(latency(random)) + 1000;
    values.push_back(value);
    histogram.record(nanoseconds(value));
  }
  std::sort(values.begin(), values.end());
  for (const double percent : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    const auto rank = static_cast<std::size_t>(std::ceil(percent / 100 * static_cast<double>(values.size())));
    const double exact = static_cast<double>(values[rank - 1]);
    const double reported = static_cast<double>(histogram.percentile(percent).count());
    EXPECT_NEAR(reported, exact, exact * 0.01) << "p" << percent;
  }
  EXPECT_EQ(histogram.count(), values.size());
  EXPECT_EQ(histogram.min().count(), values.front());
  EXPECT_EQ(histogram.max().count(), values.back());
  EXPECT_EQ(histogram.percentile(100).count(), values.back());
  EXPECT_EQ(histogram.percentile(0).count(), values.front());
}

TEST(LatencyHistogram, ExtremesAreKeptExactlyAndHugeValuesClamped) {
  LatencyHistogram histogram;
  histogram.record(nanoseconds(1));
  histogram.record(std::chrono::seconds(120));  // beyond the 60 s range
  EXPECT_EQ(histogram.min(), nanoseconds(1));
  EXPECT_EQ(histogram.max(), std::chrono::seconds(120));
  EXPECT_EQ(histogram.percentile(50), nanoseconds(1));
  // The bucket of 60 s, never more than the maximum.
  EXPECT_NEAR(static_cast<double>(histogram.percentile(99).count()), 60e9, 60e9 * 0.01);
  histogram.record(nanoseconds(-5));  // a clock oddity counts as 0
  EXPECT_EQ(histogram.min(), nanoseconds(0));
}

TEST(LatencyHistogram, AddMergesAndResetEmpties) {
  LatencyHistogram a;
  LatencyHistogram b;
  for (int i = 1; i <= 100; ++i) a.record(std::chrono::microseconds(i));
  for (int i = 101; i <= 200; ++i) b.record(std::chrono::microseconds(i));
  a.add(b);
  EXPECT_EQ(a.count(), 200u);
  EXPECT_NEAR(static_cast<double>(a.percentile(50).count()), 100e3, 100e3 * 0.01);
  EXPECT_EQ(a.max(), std::chrono::microseconds(200));
  EXPECT_NEAR(static_cast<double>(a.mean().count()), 100.5e3, 1);
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.percentile(99), nanoseconds(0));
  EXPECT_EQ(a.min(), nanoseconds(0));
}
