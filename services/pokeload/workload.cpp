#include "workload.hpp"

#include "list.hpp"

#include <pokedex/model.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace pokeload {
namespace {

struct KindInfo {
  std::string_view name;
  std::string_view route;
};

constexpr std::array<KindInfo, request_kind_count> kinds = {{
    {"pokemon", "/pokemon/{id}"},
    {"pokemon_lang", "/pokemon/{id}"},
    {"random", "/pokemon/random"},
    {"search", "/pokemon/search"},
    {"type", "/types/{type}/pokemon"},
    {"generation", "/generations/{generation}/pokemon"},
    {"battle", "/battle/{first}/{second}"},
    {"team", "/team/{size}"},
    {"invalid_id", "/pokemon/{id}"},
    {"unknown_id", "/pokemon/{id}"},
}};

constexpr std::array apimon_routes = {RequestKind::pokemon, RequestKind::pokemon_lang, RequestKind::random,
                                      RequestKind::search,  RequestKind::type,         RequestKind::generation};
constexpr std::array api_prometheus_routes = {RequestKind::pokemon, RequestKind::battle, RequestKind::team};

// Name prefixes that find a few Pokémon each, and one that finds none.
constexpr std::array<std::string_view, 16> search_prefixes = {"char", "pi",  "bul", "squ", "eev", "mew", "dra", "gen",
                                                              "luc",  "gar", "sn",  "ma",  "ra",  "po",  "ka",  "zzz"};
constexpr std::array<std::string_view, 18> types = {"normal",   "fire",   "water",  "grass",  "electric", "ice",
                                                    "fighting", "poison", "ground", "flying", "psychic",  "bug",
                                                    "rock",     "ghost",  "dragon", "dark",   "steel",    "fairy"};
// Not plain positive integers, each for its own reason: 400.
constexpr std::array<std::string_view, 5> invalid_ids = {"abc", "-1", "025", "1a", "1e3"};
constexpr int unknown_low = 5000;  // to 9999: numbers no Pokémon has, 404
constexpr int generations = 9;
constexpr int largest_team = 6;

void append_number(std::string& out, int number) {
  std::array<char, 16> digits;
  const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), number);
  out.append(digits.data(), end);
}

std::size_t draw_index(std::mt19937_64& random, std::size_t size) {
  return std::uniform_int_distribution<std::size_t>(0, size - 1)(random);
}

}  // namespace

std::optional<Api> api_from_name(std::string_view name) {
  if (name == "apimon") return Api::apimon;
  if (name == "api-prometheus") return Api::api_prometheus;
  return std::nullopt;
}

std::string_view api_name(Api api) { return api == Api::apimon ? "apimon" : "api-prometheus"; }

std::string_view kind_name(RequestKind kind) { return kinds[index(kind)].name; }
std::string_view route_template(RequestKind kind) { return kinds[index(kind)].route; }

std::span<const RequestKind> routes_of(Api api) {
  if (api == Api::apimon) return apimon_routes;
  return api_prometheus_routes;
}

Mix default_mix(Api api) {
  if (api == Api::apimon)
    return {{RequestKind::pokemon, 60}, {RequestKind::pokemon_lang, 10}, {RequestKind::random, 5},
            {RequestKind::search, 10},  {RequestKind::type, 10},         {RequestKind::generation, 5}};
  return {{RequestKind::pokemon, 60}, {RequestKind::battle, 25}, {RequestKind::team, 15}};
}

Mix parse_mix(std::string_view text, Api api) {
  const auto routes = routes_of(api);
  std::string known;
  for (const RequestKind kind : routes) known.append(known.empty() ? "" : ", ").append(kind_name(kind));
  Mix mix;
  for (const std::string_view item : split_list(text)) {
    const auto equals = item.find('=');
    if (equals == std::string_view::npos)
      throw std::invalid_argument("'" + std::string(item) + "' is not ROUTE=WEIGHT, such as pokemon=70");
    const std::string_view name = item.substr(0, equals);
    const auto found = std::find_if(routes.begin(), routes.end(),
                                    [&](RequestKind kind) { return kind_name(kind) == name; });
    if (found == routes.end())
      throw std::invalid_argument("unknown route '" + std::string(name) + "'; " + std::string(api_name(api)) + " has " +
                                  known);
    if (std::any_of(mix.begin(), mix.end(), [&](const MixEntry& entry) { return entry.kind == *found; }))
      throw std::invalid_argument("route '" + std::string(name) + "' is given twice");
    const std::string_view weight_text = item.substr(equals + 1);
    double weight = -1;
    const auto [end, ec] = std::from_chars(weight_text.data(), weight_text.data() + weight_text.size(), weight,
                                           std::chars_format::fixed);
    if (ec != std::errc() || end != weight_text.data() + weight_text.size() ||
        !(weight >= 0 && weight <= max_mix_weight))
      throw std::invalid_argument("the weight of '" + std::string(name) + "' is not a number from 0 to 1000000");
    mix.push_back({*found, weight});
  }
  double total = 0;
  for (const MixEntry& entry : mix) total += entry.weight;
  if (!(total > 0)) throw std::invalid_argument("no route has a positive weight");
  return mix;
}

std::string format_mix(const Mix& mix) {
  std::string text;
  for (const MixEntry& entry : mix) {
    if (!text.empty()) text.push_back(',');
    // The shortest plain decimal that reads back as the weight: at most 7
    // digits before the point and, for the smallest double, 324 after it.
    std::array<char, 340> weight;
    const auto [end, ec] = std::to_chars(weight.data(), weight.data() + weight.size(), entry.weight,
                                         std::chars_format::fixed);
    text.append(kind_name(entry.kind)).append("=").append(weight.data(), end);
  }
  return text;
}

IdSampler::IdSampler(int max_id, IdDistribution distribution, double exponent)
    : max_id_(max_id), distribution_(distribution) {
  if (max_id < 1) throw std::invalid_argument("the largest id must be at least 1");
  if (distribution != IdDistribution::zipf) return;
  if (!(exponent > 0) || !std::isfinite(exponent)) throw std::invalid_argument("the Zipf exponent must be positive");
  cdf_.resize(static_cast<std::size_t>(max_id));
  double sum = 0;
  for (int k = 1; k <= max_id; ++k) {
    sum += std::pow(static_cast<double>(k), -exponent);
    cdf_[static_cast<std::size_t>(k - 1)] = sum;
  }
  for (double& value : cdf_) value /= sum;
  cdf_.back() = 1.0;
}

int IdSampler::sample(double u) const {
  if (distribution_ == IdDistribution::uniform)
    return std::min(max_id_, 1 + static_cast<int>(u * static_cast<double>(max_id_)));
  const auto found = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  return std::min(max_id_, static_cast<int>(found - cdf_.begin()) + 1);
}

double IdSampler::probability(int id) const {
  if (id < 1 || id > max_id_) return 0;
  if (distribution_ == IdDistribution::uniform) return 1.0 / static_cast<double>(max_id_);
  const auto k = static_cast<std::size_t>(id - 1);
  return k == 0 ? cdf_[0] : cdf_[k] - cdf_[k - 1];
}

RequestPicker::RequestPicker(Mix mix, IdSampler ids, double bad_share)
    : mix_(std::move(mix)), ids_(std::move(ids)), bad_share_(bad_share) {
  double total = 0;
  for (const MixEntry& entry : mix_) total += entry.weight;
  double running = 0;
  for (const MixEntry& entry : mix_) {
    running += entry.weight;
    cumulative_.push_back(running / total);
  }
  cumulative_.back() = 1.0;
}

RequestKind RequestPicker::pick(std::mt19937_64& random, std::string& target) const {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  target.clear();
  if (bad_share_ > 0 && uniform(random) < bad_share_) {
    target.append("/pokemon/");
    if (uniform(random) < 0.5) {
      target.append(invalid_ids[draw_index(random, invalid_ids.size())]);
      return RequestKind::invalid_id;
    }
    append_number(target, unknown_low + static_cast<int>(draw_index(random, 5000)));
    return RequestKind::unknown_id;
  }
  const double u = uniform(random);
  std::size_t chosen = 0;
  while (chosen + 1 < cumulative_.size() && u >= cumulative_[chosen]) ++chosen;
  const RequestKind kind = mix_[chosen].kind;
  switch (kind) {
    case RequestKind::pokemon:
      target.append("/pokemon/");
      append_number(target, ids_.sample(uniform(random)));
      break;
    case RequestKind::pokemon_lang:
      target.append("/pokemon/");
      append_number(target, ids_.sample(uniform(random)));
      target.append("?lang=").append(pokedex::language_tags[draw_index(random, pokedex::language_tags.size())]);
      break;
    case RequestKind::random: target.append("/pokemon/random"); break;
    case RequestKind::search:
      target.append("/pokemon/search?name=").append(search_prefixes[draw_index(random, search_prefixes.size())]);
      break;
    case RequestKind::type:
      target.append("/types/").append(types[draw_index(random, types.size())]).append("/pokemon");
      break;
    case RequestKind::generation:
      target.append("/generations/");
      append_number(target, 1 + static_cast<int>(draw_index(random, generations)));
      target.append("/pokemon");
      break;
    case RequestKind::battle:
      target.append("/battle/");
      append_number(target, ids_.sample(uniform(random)));
      target.push_back('/');
      append_number(target, ids_.sample(uniform(random)));
      break;
    case RequestKind::team:
      target.append("/team/");
      append_number(target, 1 + static_cast<int>(draw_index(random, largest_team)));
      break;
    case RequestKind::invalid_id:
    case RequestKind::unknown_id: break;  // never in a mix
  }
  return kind;
}

}  // namespace pokeload
