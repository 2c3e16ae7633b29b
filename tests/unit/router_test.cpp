#include <http/router.hpp>

#include <gtest/gtest.h>

namespace {

using http::RouteLookup;
using Outcome = RouteLookup::Outcome;

http::Handler named(int* called, int value) {
  return [called, value](http::RequestContext&) -> boost::asio::awaitable<http::Response> {
    *called = value;
    co_return http::Response{};
  };
}

TEST(RouteTemplate, MatchesLiteralAndParameterSegments) {
  http::RouteTemplate route("/pokemon/{id}");
  http::PathParams params;
  EXPECT_TRUE(route.match("/pokemon/25", params));
  EXPECT_EQ(params.get("id"), "25");
  EXPECT_FALSE(route.match("/pokemon", params));
  EXPECT_FALSE(route.match("/pokemon/", params));
  EXPECT_FALSE(route.match("/pokemon/25/", params));
  EXPECT_FALSE(route.match("/pokemon/25/x", params));
  EXPECT_FALSE(route.match("pokemon/25", params));
  EXPECT_FALSE(route.match("//pokemon/25", params));
}

TEST(RouteTemplate, RootMatchesOnlyRoot) {
  http::RouteTemplate root("/");
  http::PathParams params;
  EXPECT_TRUE(root.match("/", params));
  EXPECT_FALSE(root.match("/x", params));
}

TEST(RouteTemplate, RejectsMalformedPatterns) {
  for (const char* bad : {"", "pokemon", "/pokemon/{", "/pokemon/{}", "/a//b", "/a/{x}y", "/{a}/{b}/{c}/{d}/{e}"})
    EXPECT_THROW(http::RouteTemplate{bad}, std::invalid_argument) << bad;
}

TEST(Router, PrefersLiteralSegmentsOverParameters) {
  http::Router router;
  int called = 0;
  router.get("/pokemon/{id}", named(&called, 1));
  router.get("/pokemon/random", named(&called, 2));
  http::PathParams params;
  const auto literal = router.find(http::verb::get, "/pokemon/random", params);
  ASSERT_EQ(literal.outcome, Outcome::found);
  EXPECT_EQ(*literal.route, "/pokemon/random");
  const auto parameter = router.find(http::verb::get, "/pokemon/7", params);
  ASSERT_EQ(parameter.outcome, Outcome::found);
  EXPECT_EQ(*parameter.route, "/pokemon/{id}");
  EXPECT_EQ(params.get("id"), "7");
}

TEST(Router, AnswersMethodNotAllowedWithTheAllowedMethods) {
  http::Router router;
  int called = 0;
  router.get("/items/{id}", named(&called, 1));
  router.add(http::verb::delete_, "/items/{id}", named(&called, 2));
  http::PathParams params;
  const auto lookup = router.find(http::verb::post, "/items/3", params);
  EXPECT_EQ(lookup.outcome, Outcome::method_not_allowed);
  EXPECT_EQ(lookup.allow, "GET, DELETE");
  EXPECT_EQ(params.size(), 0u);
}

TEST(Router, UnknownPathIsNotFound) {
  http::Router router;
  int called = 0;
  router.get("/healthz", named(&called, 1));
  http::PathParams params;
  EXPECT_EQ(router.find(http::verb::get, "/nope", params).outcome, Outcome::not_found);
  EXPECT_EQ(router.find(http::verb::get, "/healthz/x", params).outcome, Outcome::not_found);
}

TEST(Router, RefusesTheSameRouteTwice) {
  http::Router router;
  int called = 0;
  router.get("/a/{x}", named(&called, 1));
  EXPECT_THROW(router.get("/a/{x}", named(&called, 2)), std::invalid_argument);
}

TEST(Router, KeepsTemplatesMostSpecificFirst) {
  http::Router router;
  int called = 0;
  router.get("/types/{type}/pokemon", named(&called, 1));
  router.get("/pokemon/{id}", named(&called, 1));
  router.get("/pokemon/search", named(&called, 1));
  const auto templates = router.templates();
  const auto search = std::find(templates.begin(), templates.end(), "/pokemon/search");
  const auto by_id = std::find(templates.begin(), templates.end(), "/pokemon/{id}");
  EXPECT_LT(search, by_id);
}

}  // namespace
