#include <http/problem.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

TEST(Problem, IsAnRfc9457Document) {
  const auto response = http::problem(http::status::not_found, "No Pokémon has this number.");
  EXPECT_EQ(response.result(), http::status::not_found);
  EXPECT_EQ(response[boost::beast::http::field::content_type], "application/problem+json");
  const auto body = boost::json::parse(response.body()).as_object();
  EXPECT_EQ(body.at("status").as_int64(), 404);
  EXPECT_EQ(body.at("title").as_string(), "Not Found");
  EXPECT_EQ(body.at("type").as_string(), "about:blank");
  EXPECT_EQ(body.at("detail").as_string(), "No Pokémon has this number.");
  EXPECT_EQ(response[boost::beast::http::field::content_length], std::to_string(response.body().size()));
}

TEST(Problem, UnavailableCarriesRetryAfter) {
  const auto response = http::unavailable("Storage is down.", std::chrono::seconds(7));
  EXPECT_EQ(response.result(), http::status::service_unavailable);
  EXPECT_EQ(response[boost::beast::http::field::retry_after], "7");
}
