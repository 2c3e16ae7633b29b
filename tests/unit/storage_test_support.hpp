#pragma once
// What the storage tests share: a store whose only real call is
// find_pokemon, and a way to run one awaitable to completion.
#include <pokedex/store.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <optional>
#include <string_view>

namespace storage_test {

// Answers every listing empty; subclasses decide what find_pokemon does.
class LookupOnlyStore : public pokedex::PokedexStore {
 public:
  pokedex::Listing search_by_name(std::string_view, pokedex::Language, pokedex::Page) override { return {}; }
  std::optional<pokedex::Listing> list_by_type(std::string_view, pokedex::Language, pokedex::Page) override {
    return {};
  }
  std::optional<pokedex::Listing> list_by_generation(int, pokedex::Language, pokedex::Page) override { return {}; }
  int max_pokemon_id() override { return 1025; }
  void ping() override {}

 protected:
  static pokedex::Pokemon pokemon_numbered(int id) {
    pokedex::Pokemon pokemon;
    pokemon.id = id;
    return pokemon;
  }
};

// Runs `task` on an event loop of its own and returns what it returns.
template <class T>
T run(boost::asio::awaitable<T> task) {
  boost::asio::io_context loop;
  auto result = boost::asio::co_spawn(loop, std::move(task), boost::asio::use_future);
  loop.run();
  return result.get();
}

}  // namespace storage_test
