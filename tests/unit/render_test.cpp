#include <json_writer/json_writer.hpp>
#include <pokedex/render.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace {

pokedex::Pokemon farfetchd() {
  pokedex::Pokemon p;
  p.id = 83;
  p.slug = "farfetchd";
  p.name = "Farfetch’d";
  p.generation = 1;
  p.types = {"normal", "flying"};
  p.height = 8;
  p.weight = 150;
  p.base_stats = {52, 90, 55, 58, 62, 60};
  return p;
}

}  // namespace

TEST(RenderPokemon, WritesEveryFieldWithTheNameAsUtf8) {
  const std::string body = pokedex::render_pokemon(farfetchd());
  EXPECT_EQ(body, R"({"id":83,"name":"Farfetch’d","lang":"en","slug":"farfetchd","generation":1,)"
                  R"("types":["normal","flying"],"height":8,"weight":150,"base_stats":{"hp":52,"attack":90,)"
                  R"("defense":55,"special_attack":58,"special_defense":62,"speed":60}})");
  const auto parsed = boost::json::parse(body).as_object();
  EXPECT_EQ(parsed.at("name").as_string(), "Farfetch’d");
}

TEST(RenderPokemon, EscapesWhatJsonRequires) {
  auto p = farfetchd();
  p.name = "a\"b\\c\nd\x01";
  const std::string body = pokedex::render_pokemon(p);
  EXPECT_NE(body.find(R"("a\"b\\c\nd\u0001")"), std::string::npos);
  EXPECT_EQ(boost::json::parse(body).as_object().at("name").as_string(), p.name);
}

TEST(RenderListing, LinksTheNextPageOnlyWhenThereIsOne) {
  pokedex::Listing listing;
  listing.items.push_back({29, "nidoran-f", "Nidoran♀", {"poison"}});
  listing.has_more = true;
  const auto with_next = boost::json::parse(pokedex::render_listing(listing, {1, 0}, "/x?offset=1")).as_object();
  EXPECT_EQ(with_next.at("next").as_string(), "/x?offset=1");
  EXPECT_EQ(with_next.at("results").as_array().at(0).as_object().at("name").as_string(), "Nidoran♀");
  EXPECT_EQ(with_next.at("limit").as_int64(), 1);

  listing.has_more = false;
  const auto last = boost::json::parse(pokedex::render_listing(listing, {1, 0}, "/x?offset=1")).as_object();
  EXPECT_TRUE(last.at("next").is_null());
}

TEST(JsonWriter, SeparatesMembersAndNestedValues) {
  std::string out;
  json_writer::Writer json(out);
  json.begin_object().member("a", 1).key("b").begin_array().value(1).value("x").null().end_array();
  json.key("c").begin_object().end_object().member("d", true).end_object();
  EXPECT_EQ(out, R"({"a":1,"b":[1,"x",null],"c":{},"d":true})");
}
