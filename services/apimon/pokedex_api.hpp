#pragma once
#include <http/router.hpp>
#include <pokedex/response_cache.hpp>
#include <pokedex/repository.hpp>

#include <atomic>
#include <chrono>

namespace apimon {

// The Pokédex routes: each handler validates its input, asks the repository,
// and renders the answer. Storage trouble becomes 503 with Retry-After.
class PokedexApi {
 public:
  PokedexApi(pokedex::Repository& repository, pokedex::ResponseCache& cache, std::chrono::seconds retry_after);

  void register_routes(http::Router& router);

  static constexpr int max_page_size = 100;
  static constexpr int max_offset = 100'000;
  static constexpr std::size_t max_search_bytes = 64;

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

  pokedex::Repository& repository_;
  pokedex::ResponseCache& cache_;
  std::chrono::seconds retry_after_;
  std::atomic<int> max_id_{0};  // learned from storage on first use
};

}  // namespace apimon
