#include <text/number.hpp>

#include <gtest/gtest.h>

TEST(PlainDigits, AcceptsDigitsAndNothingElse) {
  EXPECT_TRUE(text::is_plain_digits("0"));
  EXPECT_TRUE(text::is_plain_digits("025"));
  EXPECT_TRUE(text::is_plain_digits("99999999999999999999"));
  for (const char* bad : {"", "-1", "+1", "1a", " 1", "1 ", "1.0", "1e3", "0x1A", "１", "%31"})
    EXPECT_FALSE(text::is_plain_digits(bad)) << bad;
}

TEST(BoundedInt, ParsesWithinBounds) {
  EXPECT_EQ(text::parse_bounded_int("20", 1, 100), 20);
  EXPECT_EQ(text::parse_bounded_int("0", 1, 100), std::nullopt);
  EXPECT_EQ(text::parse_bounded_int("101", 1, 100), std::nullopt);
  EXPECT_EQ(text::parse_bounded_int("-1", 0, 100), std::nullopt);
  EXPECT_EQ(text::parse_bounded_int("1e3", 0, 10000), std::nullopt);
  EXPECT_EQ(text::parse_bounded_int("9999999999", 0, 100), std::nullopt);
}

TEST(BoundedInt, TakesTheBoundsThemselvesAndLeadingZeros) {
  EXPECT_EQ(text::parse_bounded_int("1", 1, 100), 1);
  EXPECT_EQ(text::parse_bounded_int("100", 1, 100), 100);
  EXPECT_EQ(text::parse_bounded_int("020", 0, 100), 20);
  EXPECT_EQ(text::parse_bounded_int("999999999", 0, 999'999'999), 999'999'999);
  EXPECT_EQ(text::parse_bounded_int("", 0, 100), std::nullopt);
  EXPECT_EQ(text::parse_bounded_int(" 5", 0, 100), std::nullopt);
}
