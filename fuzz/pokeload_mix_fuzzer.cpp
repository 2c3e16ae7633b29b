// pokeload's --mix ("pokemon=70,search=30"), for either API (the first byte
// picks it): refused with std::invalid_argument, or a mix of the API's routes
// that prints back to itself and from which every route of positive weight
// can be drawn.
#include "fuzz_input.hpp"

#include <workload.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto api = (data[0] & 1U) != 0 ? pokeload::Api::api_prometheus : pokeload::Api::apimon;
  const auto text = fuzz::as_text(data + 1, size - 1);
  pokeload::Mix mix;
  try {
    mix = pokeload::parse_mix(text, api);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const auto routes = pokeload::routes_of(api);
  double total = 0;
  for (const auto& entry : mix) {
    FUZZ_CHECK(std::find(routes.begin(), routes.end(), entry.kind) != routes.end());
    FUZZ_CHECK(std::isfinite(entry.weight) && entry.weight >= 0);
    total += entry.weight;
  }
  FUZZ_CHECK(std::isfinite(total) && total > 0);

  // What pokeload prints at start is a --mix it would accept, with the same weights.
  const auto printed = pokeload::format_mix(mix);
  const auto again = pokeload::parse_mix(printed, api);
  FUZZ_CHECK(again.size() == mix.size());
  for (std::size_t i = 0; i < mix.size(); ++i)
    FUZZ_CHECK(again[i].kind == mix[i].kind && again[i].weight == mix[i].weight);

  // Every draw is a route of the mix with a positive weight, and the target a path.
  const pokeload::RequestPicker picker(mix, pokeload::IdSampler(1025, pokeload::IdDistribution::uniform, 1.0), 0.0);
  std::mt19937_64 random(size);
  std::string target;
  for (int i = 0; i < 8; ++i) {
    const auto kind = picker.pick(random, target);
    const auto chosen = std::find_if(mix.begin(), mix.end(), [&](const auto& entry) { return entry.kind == kind; });
    FUZZ_CHECK(chosen != mix.end() && chosen->weight > 0);
    FUZZ_CHECK(target.starts_with('/'));
  }
  return 0;
}
