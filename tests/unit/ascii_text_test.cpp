#include <text/text.hpp>

#include <gtest/gtest.h>

TEST(Text, TrimsOptionalWhitespaceByDefault) {
  EXPECT_EQ(text::trim(" \tgzip\t "), "gzip");
  EXPECT_EQ(text::trim("a b"), "a b");
  EXPECT_EQ(text::trim(" \t "), "");
  EXPECT_EQ(text::trim(""), "");
  EXPECT_EQ(text::trim("\nx\r"), "\nx\r");
}

TEST(Text, TrimsTheCharactersItIsGiven) {
  EXPECT_EQ(text::trim("\r\n\f\vvalue \t\n", text::ascii_whitespace), "value");
  EXPECT_EQ(text::trim("  a\t ", " "), "a\t");
}

TEST(Text, ComparesIgnoringAsciiCaseOnly) {
  EXPECT_TRUE(text::iequals("Content-Type", "content-type"));
  EXPECT_TRUE(text::iequals("", ""));
  EXPECT_FALSE(text::iequals("gzip", "gzi"));
  EXPECT_FALSE(text::iequals("a", "b"));
  // Bytes outside ASCII compare exactly: "É" is not folded to "é".
  EXPECT_FALSE(text::iequals("\xC3\x89", "\xC3\xA9"));
  EXPECT_EQ(text::ascii_lower('Q'), 'q');
  EXPECT_EQ(text::ascii_lower('['), '[');
}

TEST(Text, ReadsHexDigitsOfEitherCase) {
  EXPECT_EQ(text::hex_digit_value('0'), 0);
  EXPECT_EQ(text::hex_digit_value('9'), 9);
  EXPECT_EQ(text::hex_digit_value('a'), 10);
  EXPECT_EQ(text::hex_digit_value('F'), 15);
  EXPECT_EQ(text::hex_digit_value('g'), -1);
  EXPECT_EQ(text::hex_digit_value('/'), -1);
}

TEST(Text, PercentDecodesEscapes) {
  EXPECT_EQ(text::percent_decode("flab%C3%A9b%C3%A9"), "flabébé");
  EXPECT_EQ(text::percent_decode("a%2fb%2F"), "a/b/");
  EXPECT_EQ(text::percent_decode(""), "");
}

TEST(Text, PercentDecodingRefusesMalformedEscapes) {
  EXPECT_EQ(text::percent_decode("%"), std::nullopt);
  EXPECT_EQ(text::percent_decode("%4"), std::nullopt);
  EXPECT_EQ(text::percent_decode("ab%4"), std::nullopt);
  EXPECT_EQ(text::percent_decode("%zz"), std::nullopt);
  EXPECT_EQ(text::percent_decode("%4g"), std::nullopt);
}

TEST(Text, PlusIsItselfOrASpaceAsTheCallerSays) {
  EXPECT_EQ(text::percent_decode("mr+mime"), "mr+mime");
  EXPECT_EQ(text::percent_decode("mr+mime", text::Plus::space), "mr mime");
  EXPECT_EQ(text::percent_decode("%2B", text::Plus::space), "+");
}
