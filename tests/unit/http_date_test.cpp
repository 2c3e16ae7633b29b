#include <http/http_date.hpp>

#include <gtest/gtest.h>

#include <ctime>

namespace {

// Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example.
constexpr std::time_t rfc_example = 784111777;

TEST(HttpDate, ParsesTheThreeFormsRfc9110Accepts) {
  EXPECT_EQ(http::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), rfc_example);
  EXPECT_EQ(http::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), rfc_example);
  EXPECT_EQ(http::parse_http_date("Sun Nov  6 08:49:37 1994"), rfc_example);
}

TEST(HttpDate, NamesInAnyCase) {
  EXPECT_EQ(http::parse_http_date("sun, 06 NOV 1994 08:49:37 gmt"), rfc_example);
  EXPECT_EQ(http::parse_http_date("SUNDAY, 06-nov-94 08:49:37 GMT"), rfc_example);
}

TEST(HttpDate, TwoDigitYearsFollowTheFiftyYearRule) {
  EXPECT_EQ(http::parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT"), 0);
  EXPECT_EQ(http::parse_http_date("Friday, 01-Jan-38 00:00:00 GMT"), 2145916800);
}

TEST(HttpDate, ReadsWhatItFormats) {
  const std::time_t before = std::time(nullptr);
  const auto parsed = http::parse_http_date(http::http_date_now());
  const std::time_t after = std::time(nullptr);
  ASSERT_TRUE(parsed);
  EXPECT_GE(*parsed, before);
  EXPECT_LE(*parsed, after);
}

TEST(HttpDate, RejectsAnythingElse) {
  for (const char* text :
       {"", "soon", "120", "Sun, 06 Nov 1994", "Sun, 06 Nov 1994 GMT", "06 Nov 1994 08:49:37 08:49:37",
        "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT", "Sun, 06 Nov 1969 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC", "06 Sun Nov 1994 08:49:37 GMT"})
    EXPECT_FALSE(http::parse_http_date(text)) << text;
}

TEST(HttpDate, RejectsDaysTheMonthHasNot) {
  EXPECT_FALSE(http::parse_http_date("Thu, 31 Nov 1994 08:49:37 GMT"));
  EXPECT_FALSE(http::parse_http_date("Sun, 29 Feb 2026 08:49:37 GMT"));
  EXPECT_FALSE(http::parse_http_date("Tue, 29 Feb 2100 08:49:37 GMT"));
  EXPECT_EQ(http::parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"), 1709164800);
  EXPECT_EQ(http::parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
}

TEST(HttpDate, ALeapSecondIsTheNextSecondButNeverAFiveDigitYear) {
  EXPECT_EQ(http::parse_http_date("Wed, 31 Dec 2025 23:59:60 GMT"), 1767225600);
  EXPECT_EQ(http::parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799);
  EXPECT_FALSE(http::parse_http_date("Thu , 31 Dec 9999 23:59:60 GMT"));  // would be 1 Jan 10000
}

}  // namespace
