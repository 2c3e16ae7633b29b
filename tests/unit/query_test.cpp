#include <http/problem.hpp>
#include <http/query.hpp>

#include <gtest/gtest.h>

TEST(Query, DecodesPercentEscapesAndPlusAsSpace) {
  EXPECT_EQ(http::query_parameter("name=flab%C3%A9b%C3%A9", "name"), "flabébé");
  EXPECT_EQ(http::query_parameter("name=mr+mime", "name"), "mr mime");
  EXPECT_EQ(http::query_parameter("name=a%2fb", "name"), "a/b");
}

TEST(Query, FindsTheFirstOccurrenceOfAParameter) {
  EXPECT_EQ(http::query_parameter("a=1&b=2&a=3", "a"), "1");
  EXPECT_EQ(http::query_parameter("a=1&b=2", "b"), "2");
  EXPECT_EQ(http::query_parameter("ab=1", "a"), std::nullopt);
  EXPECT_EQ(http::query_parameter("a", "a"), "");
  EXPECT_EQ(http::query_parameter("", "a"), std::nullopt);
  EXPECT_EQ(http::query_parameter("&&a=x", "a"), "x");
}

TEST(Query, MalformedEncodingIsABadRequest) {
  try {
    http::query_parameter("name=%E", "name");
    FAIL() << "expected ProblemError";
  } catch (const http::ProblemError& error) {
    EXPECT_EQ(error.code(), http::status::bad_request);
    EXPECT_NE(error.detail().find("'name'"), std::string::npos);
  }
}

TEST(Query, SplitsTargets) {
  EXPECT_EQ(http::split_target("/a?b=1").first, "/a");
  EXPECT_EQ(http::split_target("/a?b=1").second, "b=1");
  EXPECT_EQ(http::split_target("/a").second, "");
}
