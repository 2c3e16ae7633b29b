#include <pokedex/model.hpp>
#include <pokedex/text.hpp>

#include <gtest/gtest.h>

using pokedex::IdError;

TEST(PokedexId, AcceptsPlainPositiveIntegers) {
  EXPECT_EQ(pokedex::parse_pokedex_id("25").value, 25);
  EXPECT_FALSE(pokedex::parse_pokedex_id("25").error);
  EXPECT_EQ(pokedex::parse_pokedex_id("1025").value, 1025);
  EXPECT_EQ(pokedex::parse_pokedex_id("1000000").value, 1'000'000);
}

TEST(PokedexId, ZeroIsANumberWithoutAPokemon) {
  const auto zero = pokedex::parse_pokedex_id("0");
  EXPECT_FALSE(zero.error);
  EXPECT_EQ(zero.value, 0);
}

TEST(PokedexId, RejectsAnythingButPlainDigits) {
  for (const char* bad : {"", "-1", "+1", "1a", "a1", " 1", "1 ", "1.0", "0x1A", "025", "00", "１", "1/", "%31"})
    EXPECT_EQ(pokedex::parse_pokedex_id(bad).error, IdError::not_a_number) << bad;
}

TEST(PokedexId, RejectsOutOfRangeAndOverflow) {
  EXPECT_EQ(pokedex::parse_pokedex_id("1000001").error, IdError::out_of_range);
  EXPECT_EQ(pokedex::parse_pokedex_id("2147483647").error, IdError::out_of_range);
  EXPECT_EQ(pokedex::parse_pokedex_id("2147483648").error, IdError::out_of_range);
  EXPECT_EQ(pokedex::parse_pokedex_id("99999999999999999999999999").error, IdError::out_of_range);
}

TEST(FoldCase, LowersTheLettersOfPokemonNames) {
  EXPECT_EQ(pokedex::fold_case("PIKACHU"), "pikachu");
  EXPECT_EQ(pokedex::fold_case("FLABÉBÉ"), "flabébé");
  EXPECT_EQ(pokedex::fold_case("Nidoran♀"), "nidoran♀");
  EXPECT_EQ(pokedex::fold_case("ÀÞ×"), "àþ×");
  EXPECT_EQ(pokedex::fold_case("ŁŽŸ"), "łžÿ");
  EXPECT_EQ(pokedex::fold_case("ピカチュウ"), "ピカチュウ");
}

TEST(FoldCase, RejectsInvalidUtf8) {
  EXPECT_EQ(pokedex::fold_case("\xC3"), std::nullopt);
  EXPECT_EQ(pokedex::fold_case("\xC0\xAF"), std::nullopt);      // overlong '/'
  EXPECT_EQ(pokedex::fold_case("\xED\xA0\x80"), std::nullopt);  // surrogate
  EXPECT_EQ(pokedex::fold_case("\xFF"), std::nullopt);
}

TEST(Language, ParsesTagsCaseInsensitively) {
  EXPECT_EQ(pokedex::parse_language("en"), pokedex::Language::en);
  EXPECT_EQ(pokedex::parse_language("zh-hant"), pokedex::Language::zh_Hant);
  EXPECT_EQ(pokedex::parse_language("ZH-HANS"), pokedex::Language::zh_Hans);
  EXPECT_EQ(pokedex::parse_language("ja"), pokedex::Language::ja);
  EXPECT_EQ(pokedex::parse_language("zh\rHant"), std::nullopt);
  EXPECT_EQ(pokedex::parse_language("xx"), std::nullopt);
  EXPECT_EQ(pokedex::parse_language(""), std::nullopt);
  for (auto tag : pokedex::language_tags) EXPECT_EQ(pokedex::tag(*pokedex::parse_language(tag)), tag);
}
