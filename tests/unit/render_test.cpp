#include <json_writer/json_writer.hpp>
#include <pokedex/render.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <string_view>

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

namespace {

// The byte-at-a-time escaping the word-at-a-time scan must agree with.
std::string escaped_one_byte_at_a_time(std::string_view text) {
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out = "\"";
  for (const char character : text) {
    const auto c = static_cast<unsigned char>(character);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += character;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\b') {
      out += "\\b";
    } else if (c == '\f') {
      out += "\\f";
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else {
      out += character;
    }
  }
  return out + "\"";
}

std::string written_escaped(std::string_view text) {
  std::string out(json_writer::escaped_size_bound(text.size()), '\0');
  out.resize(static_cast<std::size_t>(json_writer::write_escaped(out.data(), text) - out.data()));
  return out;
}

}  // namespace

// Every byte value at every position of a word and of the tail after the
// words, among clean bytes of every kind (ASCII, UTF-8, DEL, 0xFF).
TEST(JsonWriter, EscapesEveryByteThatMustBeEscapedAndNoOther) {
  const std::string backgrounds[] = {"abcdefghijklmnopqrstu", "\x7f\xff\x80 ~!#$%&'()*+,-./0123", "é☃🐉é☃🐉"};
  for (const auto& background : backgrounds) {
    for (std::size_t length = 0; length <= background.size(); ++length) {
      for (std::size_t position = 0; position < length; ++position) {
        for (int byte = 0; byte < 256; ++byte) {
          std::string text = background.substr(0, length);
          text[position] = static_cast<char>(byte);
          const std::string expected = escaped_one_byte_at_a_time(text);
          std::string appended;
          json_writer::append_escaped(appended, text);
          ASSERT_EQ(appended, expected) << "byte " << byte << " at " << position << " of " << length;
          ASSERT_EQ(written_escaped(text), expected) << "byte " << byte << " at " << position << " of " << length;
        }
      }
    }
  }
  EXPECT_EQ(written_escaped(""), R"("")");
  EXPECT_EQ(written_escaped("\"\"\\\n\x1f"), R"("\"\"\\\n\u001f")");
  EXPECT_EQ(json_writer::escaped_size_bound(3), written_escaped("\x01\x02\x03").size());
}

// The body's room is sized from the values: the longest numbers, strings
// that are all six-byte escapes (the most a byte can take) and many types
// fill it to within the slack of its fixed part, and the body reads back
// whole. A bound too small writes past the string: the sanitize preset's
// AddressSanitizer stops this test then.
TEST(RenderPokemon, TheLongestValuesFitAndReadBack) {
  constexpr int min = std::numeric_limits<int>::min();
  pokedex::Pokemon p;
  p.id = min;
  p.slug = std::string(300, '\x01');
  p.name = std::string(200, '\x1f');
  p.generation = std::numeric_limits<int>::max();
  for (int i = 0; i < 40; ++i) p.types.push_back(std::string(static_cast<std::size_t>(i), '\x02'));
  p.height = min;
  p.weight = min;
  p.base_stats = {min, min, min, min, min, min};
  const std::string body = pokedex::render_pokemon(p);
  const auto parsed = boost::json::parse(body).as_object();
  EXPECT_EQ(parsed.at("id").as_int64(), min);
  EXPECT_EQ(parsed.at("slug").as_string(), p.slug);
  EXPECT_EQ(parsed.at("name").as_string(), p.name);
  EXPECT_EQ(parsed.at("generation").as_int64(), std::numeric_limits<int>::max());
  ASSERT_EQ(parsed.at("types").as_array().size(), p.types.size());
  EXPECT_EQ(parsed.at("types").as_array().at(39).as_string(), p.types[39]);
  EXPECT_EQ(parsed.at("base_stats").as_object().at("speed").as_int64(), min);

  pokedex::Pokemon empty;
  empty.types.clear();
  EXPECT_EQ(pokedex::render_pokemon(empty),
            R"({"id":0,"name":"","lang":"en","slug":"","generation":0,"types":[],"height":0,"weight":0,)"
            R"("base_stats":{"hp":0,"attack":0,"defense":0,"special_attack":0,"special_defense":0,"speed":0}})");
}
