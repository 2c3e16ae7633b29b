#include "config.hpp"
#include "workload.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <stdexcept>

using namespace pokeload;

TEST(PokeloadIds, UniformCoversTheRangeEvenly) {
  const IdSampler ids(1025, IdDistribution::uniform, 1.1);
  EXPECT_EQ(ids.sample(0.0), 1);
  EXPECT_EQ(ids.sample(0.99999999), 1025);
  EXPECT_DOUBLE_EQ(ids.probability(500), 1.0 / 1025);
  std::mt19937_64 random(1);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<int> counts(1026, 0);
  for (int i = 0; i < 1'025'000; ++i) ++counts[static_cast<std::size_t>(ids.sample(u(random)))];
  EXPECT_EQ(counts[0], 0);
  for (int id = 1; id <= 1025; ++id) ASSERT_NEAR(counts[static_cast<std::size_t>(id)], 1000, 200) << id;
}

TEST(PokeloadIds, ZipfFollowsOneOverKToTheS) {
  const double s = 1.1;
  const IdSampler ids(1025, IdDistribution::zipf, s);
  double harmonic = 0;
  for (int k = 1; k <= 1025; ++k) harmonic += std::pow(k, -s);
  for (const int k : {1, 2, 10, 100, 1025}) EXPECT_NEAR(ids.probability(k), std::pow(k, -s) / harmonic, 1e-12) << k;
  EXPECT_EQ(ids.sample(0.0), 1);
  EXPECT_EQ(ids.sample(0.9999999999), 1025);

  std::mt19937_64 random(2);
  std::uniform_real_distribution<double> u(0, 1);
  std::map<int, int> counts;
  const int draws = 1'000'000;
  for (int i = 0; i < draws; ++i) ++counts[ids.sample(u(random))];
  for (const int k : {1, 2, 3, 10}) EXPECT_NEAR(counts[k] / double(draws), ids.probability(k), 0.003) << k;
  // Number 1 is asked for about 2^s times as often as number 2.
  EXPECT_NEAR(counts[1] / double(counts[2]), std::pow(2, s), 0.05);
}

TEST(PokeloadIds, RejectsImpossibleSettings) {
  EXPECT_THROW(IdSampler(0, IdDistribution::uniform, 1), std::invalid_argument);
  EXPECT_THROW(IdSampler(10, IdDistribution::zipf, 0), std::invalid_argument);
  EXPECT_THROW(IdSampler(10, IdDistribution::zipf, -1), std::invalid_argument);
}

TEST(PokeloadMix, ParsesRoutesOfTheApi) {
  const Mix mix = parse_mix("pokemon=70,search=10,type=10,generation=10", Api::apimon);
  ASSERT_EQ(mix.size(), 4u);
  EXPECT_EQ(mix[0].kind, RequestKind::pokemon);
  EXPECT_EQ(mix[0].weight, 70);
  EXPECT_EQ(format_mix(mix), "pokemon=70,search=10,type=10,generation=10");
  EXPECT_EQ(parse_mix("battle=1,team=0.5", Api::api_prometheus).size(), 2u);
  EXPECT_EQ(format_mix(parse_mix(" pokemon=3, random=1 ", Api::apimon)), "pokemon=3,random=1");  // as in YAML
}

TEST(PokeloadMix, ExplainsWhatIsWrong) {
  const auto message = [](const char* text, Api api) {
    try {
      parse_mix(text, api);
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("battle=1", Api::apimon).find("unknown route 'battle'"), std::string::npos);
  EXPECT_NE(message("search=1", Api::api_prometheus).find("pokemon, battle, team"), std::string::npos);
  EXPECT_NE(message("pokemon", Api::apimon).find("ROUTE=WEIGHT"), std::string::npos);
  EXPECT_NE(message("pokemon=-1", Api::apimon).find("from 0 to 1000000"), std::string::npos);
  EXPECT_NE(message("pokemon=x", Api::apimon).find("from 0 to 1000000"), std::string::npos);
  EXPECT_NE(message("pokemon=1000000.5", Api::apimon).find("from 0 to 1000000"), std::string::npos);
  EXPECT_NE(message("pokemon=1,pokemon=2", Api::apimon).find("twice"), std::string::npos);
  EXPECT_NE(message("pokemon=0", Api::apimon).find("positive weight"), std::string::npos);
  EXPECT_NE(message("", Api::apimon).find("ROUTE=WEIGHT"), std::string::npos);
}

TEST(PokeloadMix, PrintsWeightsAsItReadsThem) {
  // Plain decimals, as --mix takes them: never "1e+05" or "1e-04".
  EXPECT_EQ(format_mix(parse_mix("pokemon=0100000,search=1", Api::apimon)), "pokemon=100000,search=1");
  EXPECT_EQ(format_mix(parse_mix("pokemon=0.0001,search=1000000", Api::apimon)), "pokemon=0.0001,search=1000000");
  const Mix tiny = parse_mix("pokemon=0." + std::string(320, '0') + "5,search=1", Api::apimon);
  ASSERT_GT(tiny[0].weight, 0);
  const Mix again = parse_mix(format_mix(tiny), Api::apimon);
  EXPECT_EQ(again[0].weight, tiny[0].weight);
}

TEST(PokeloadPicker, FollowsTheMixAndTheBadShare) {
  const RequestPicker picker(parse_mix("pokemon=50,search=30,generation=20", Api::apimon),
                             IdSampler(1025, IdDistribution::uniform, 1), 0.1);
  std::mt19937_64 random(3);
  std::string target;
  std::map<RequestKind, int> counts;
  const int draws = 200'000;
  for (int i = 0; i < draws; ++i) {
    const RequestKind kind = picker.pick(random, target);
    ++counts[kind];
    switch (kind) {
      case RequestKind::pokemon: {
        const int id = std::stoi(target.substr(9));
        ASSERT_EQ(target.rfind("/pokemon/", 0), 0u) << target;
        ASSERT_TRUE(id >= 1 && id <= 1025) << target;
        break;
      }
      case RequestKind::search: ASSERT_EQ(target.rfind("/pokemon/search?name=", 0), 0u) << target; break;
      case RequestKind::generation:
        ASSERT_TRUE(target.size() == 22 && target.rfind("/generations/", 0) == 0 && target.ends_with("/pokemon"))
            << target;
        break;
      case RequestKind::invalid_id: {
        const std::string id = target.substr(9);
        ASSERT_TRUE(id == "abc" || id == "-1" || id == "025" || id == "1a" || id == "1e3") << target;
        break;
      }
      case RequestKind::unknown_id: {
        const int id = std::stoi(target.substr(9));
        ASSERT_TRUE(id >= 5000 && id <= 9999) << target;
        break;
      }
      default: FAIL() << "a kind outside the mix: " << target;
    }
  }
  EXPECT_NEAR(counts[RequestKind::pokemon] / double(draws), 0.9 * 0.5, 0.005);
  EXPECT_NEAR(counts[RequestKind::search] / double(draws), 0.9 * 0.3, 0.005);
  EXPECT_NEAR(counts[RequestKind::generation] / double(draws), 0.9 * 0.2, 0.005);
  EXPECT_NEAR(counts[RequestKind::invalid_id] / double(draws), 0.05, 0.003);
  EXPECT_NEAR(counts[RequestKind::unknown_id] / double(draws), 0.05, 0.003);
}

TEST(PokeloadPicker, BuildsEveryRouteOfBothApis) {
  std::mt19937_64 random(4);
  std::string target;
  const RequestPicker apimon(parse_mix("pokemon_lang=1,random=1,type=1", Api::apimon),
                             IdSampler(1025, IdDistribution::zipf, 1.1), 0);
  std::map<RequestKind, std::string> seen;
  for (int i = 0; i < 300; ++i) seen[apimon.pick(random, target)] = target;
  EXPECT_NE(seen[RequestKind::pokemon_lang].find("?lang="), std::string::npos);
  EXPECT_EQ(seen[RequestKind::random], "/pokemon/random");
  EXPECT_EQ(seen[RequestKind::type].rfind("/types/", 0), 0u);
  const RequestPicker prometheus(default_mix(Api::api_prometheus), IdSampler(10, IdDistribution::uniform, 1), 0);
  for (int i = 0; i < 300; ++i) seen[prometheus.pick(random, target)] = target;
  EXPECT_EQ(seen[RequestKind::battle].rfind("/battle/", 0), 0u);
  const int size = std::stoi(seen[RequestKind::team].substr(6));
  EXPECT_TRUE(size >= 1 && size <= 6);
}

TEST(PokeloadConfig, DefaultsRunForeverAtALowRate) {
  const auto result = parse_config({});
  ASSERT_TRUE(result.config) << result.message;
  const Config& config = *result.config;
  EXPECT_EQ(config.load.duration.count(), 0);
  EXPECT_EQ(config.load.schedule.rate_at(0), 5);
  EXPECT_EQ(config.load.target.host, "127.0.0.1");
  EXPECT_EQ(config.load.target.port, 5000);
  EXPECT_EQ(format_mix(config.mix), format_mix(default_mix(Api::apimon)));
  EXPECT_EQ(config.metrics_port, 9464);
}

TEST(PokeloadConfig, InvalidSettingsExit2NamingThem) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--rate", "-5"}, "--rate"},
      {{"--rate", "0"}, "--rate"},
      {{"--mix", "pokemon=1,nope=2"}, "--mix"},
      {{"--api", "api-prometheus", "--mix", "search=1"}, "--mix"},
      {{"--duration", "soon"}, "--duration"},
      {{"--zipf-exponent", "0"}, "--zipf-exponent"},
      {{"--target", "ftp://x:1"}, "--target"},
      {{"--target", "http://x:99999"}, "--target"},
      {{"--stages", "10@1m,x@2s"}, "--stages"},
      {{"--stages", "10@1m", "--rate", "5"}, "--rate"},
      {{"--bad-share", "1.5"}, "--bad-share"},
      {{"--max-in-flight", "0"}, "--max-in-flight"},
      {{"--timeout", "0"}, "--timeout"},
      {{"--ids", "normal"}, "--ids"},
      {{"--arrivals", "bursty"}, "--arrivals"},
      {{"--api", "nginx"}, "--api"},
  };
  for (const auto& [arguments, option] : cases) {
    const auto result = parse_config(arguments);
    EXPECT_FALSE(result.config) << option;
    EXPECT_EQ(result.exit_code, 2) << option;
    EXPECT_NE(result.message.find(option), std::string::npos) << result.message;
  }
}
