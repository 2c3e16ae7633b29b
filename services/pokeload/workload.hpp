#pragma once
// What pokeload asks for: the routes of each API, the mix of them by weight,
// which Pokédex numbers (uniform, or Zipf: a few popular ones, a long tail),
// and a share of bad requests.
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pokeload {

enum class Api { apimon, api_prometheus };
std::optional<Api> api_from_name(std::string_view name);  // "apimon", "api-prometheus"
std::string_view api_name(Api api);

// One kind of request: a route of the mix, or one of the two bad ones.
enum class RequestKind : std::uint8_t {
  pokemon,       // /pokemon/{id}
  pokemon_lang,  // /pokemon/{id}?lang=xx
  random,        // /pokemon/random
  search,        // /pokemon/search?name=prefix
  type,          // /types/{type}/pokemon
  generation,    // /generations/{generation}/pokemon
  battle,        // /battle/{first}/{second}
  team,          // /team/{size}
  invalid_id,    // /pokemon/abc and such: 400
  unknown_id,    // /pokemon/5000 to 9999: 404
};
inline constexpr std::size_t request_kind_count = 10;

inline std::size_t index(RequestKind kind) { return static_cast<std::size_t>(kind); }
std::string_view kind_name(RequestKind kind);
// The server's route template: the only form of a path that labels a metric.
std::string_view route_template(RequestKind kind);
// The kinds --mix may name for that API.
std::span<const RequestKind> routes_of(Api api);

struct MixEntry {
  RequestKind kind;
  double weight;
};
using Mix = std::vector<MixEntry>;

Mix default_mix(Api api);
// "pokemon=70,search=10": route names of `api` with weights from 0 to
// max_mix_weight in plain decimals, at least one positive. Throws
// std::invalid_argument saying what is wrong.
inline constexpr double max_mix_weight = 1e6;
Mix parse_mix(std::string_view text, Api api);
// The mix as parse_mix reads it, weights in plain decimals ("1000000", never "1e+06").
std::string format_mix(const Mix& mix);

enum class IdDistribution { uniform, zipf };

// Pokédex numbers 1..max_id, uniform or Zipf (number k with probability
// proportional to 1/k^s: 1 is the most popular). The Zipf CDF is computed
// once; a draw is one binary search.
class IdSampler {
 public:
  IdSampler(int max_id, IdDistribution distribution, double exponent);
  // The number for `u`, uniform in [0, 1).
  int sample(double u) const;
  double probability(int id) const;
  int max_id() const { return max_id_; }

 private:
  int max_id_;
  IdDistribution distribution_;
  std::vector<double> cdf_;  // zipf only: P(number <= k) at index k - 1
};

// Draws each request: its kind, then its target, written into `target`
// (whose capacity is reused). With probability `bad_share` the request is a
// bad one instead of one from the mix: half of them invalid ids, half unknown
// numbers, both on /pokemon/{id}, which both APIs serve.
class RequestPicker {
 public:
  RequestPicker(Mix mix, IdSampler ids, double bad_share);
  RequestKind pick(std::mt19937_64& random, std::string& target) const;
  const Mix& mix() const { return mix_; }

 private:
  Mix mix_;
  std::vector<double> cumulative_;  // of the weights, normalised to end at 1
  IdSampler ids_;
  double bad_share_;
};

}  // namespace pokeload
