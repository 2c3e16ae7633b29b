#pragma once
#include "instrumented_repository.hpp"
#include "response_cache.hpp"

#include <faults/fault_injector.hpp>
#include <http/router.hpp>
#include <metrics/registry.hpp>
#include <pokedex/repository.hpp>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string_view>

namespace apimon {

// This API's contract: services/apimon/openapi.json, compiled in (http_embed_openapi).
std::string_view openapi_document();

// The Pokédex routes: each handler validates its input, asks the repository,
// and renders the answer. Storage trouble becomes 503 with Retry-After.
class PokedexApi {
 public:
  PokedexApi(InstrumentedRepository& repository, ResponseCache& cache, metrics::MetricsRegistry& metrics,
             faults::FaultInjector& faults, std::chrono::seconds retry_after);

  void register_routes(http::Router& router);

  static constexpr int max_page_size = 100;
  static constexpr int max_offset = 100'000;
  static constexpr std::size_t max_search_characters = 64;  // code points, as JSON Schema counts maxLength

 private:
  using Response = http::Response;
  using Context = http::RequestContext;

  boost::asio::awaitable<Response> get_pokemon(Context& context);
  boost::asio::awaitable<Response> random_pokemon(Context& context);
  boost::asio::awaitable<Response> search(Context& context);
  boost::asio::awaitable<Response> by_type(Context& context);
  boost::asio::awaitable<Response> by_generation(Context& context);
  boost::asio::awaitable<Response> ready(Context& context);

  // Wraps a handler: serves from the response cache when it is on, and turns
  // storage errors into 503.
  http::Handler guarded(boost::asio::awaitable<Response> (PokedexApi::*handler)(Context&), bool cacheable);

  boost::asio::awaitable<Response> pokemon_response(Context& context, int id);
  void count_lookup(const pokedex::Pokemon& pokemon);
  void count_language(pokedex::Language language);

  InstrumentedRepository& repository_;
  ResponseCache& cache_;
  metrics::MetricsRegistry& metrics_;
  faults::FaultInjector& faults_;
  std::chrono::seconds retry_after_;

  // Manual instrumentation, each a question the dashboards answer:
  // which generations and primary types do people look up? (a business
  // metric; labels from closed sets: 9 generations x 19 types at most)
  prometheus::Family<prometheus::Counter>& lookups_;
  // how many results does a search page return? (a histogram of something
  // that is not a latency: zero-result searches show up in the first bucket)
  prometheus::Histogram& search_results_;
  // which languages do clients ask for? (12 values, from the data)
  prometheus::Family<prometheus::Counter>& languages_;

  static constexpr int max_generation = 9;
  static constexpr std::array<std::string_view, 19> known_types = {"normal",   "fighting", "flying", "poison",
                                                                   "ground",   "rock",     "bug",    "ghost",
                                                                   "steel",    "fire",     "water",  "grass",
                                                                   "electric", "psychic",  "ice",    "dragon",
                                                                   "dark",     "fairy",    "stellar"};
  std::array<std::array<std::atomic<prometheus::Counter*>, known_types.size()>, max_generation + 1> lookup_series_{};
  std::array<prometheus::Counter*, pokedex::language_tags.size()> language_series_{};
  std::atomic<int> max_id_{0};  // learned from storage on first use
};

}  // namespace apimon
