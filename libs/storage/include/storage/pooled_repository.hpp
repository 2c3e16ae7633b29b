#pragma once
#include "storage/store_pool.hpp"

#include <pokedex/repository.hpp>

namespace storage {

// A Repository over blocking stores run on a StorePool's worker threads.
class PooledRepository final : public pokedex::Repository {
 public:
  using Language = pokedex::Language;
  using Listing = pokedex::Listing;
  using Page = pokedex::Page;
  using Store = pokedex::PokedexStore;

  PooledRepository(StorePool::StoreFactory factory, StorePoolOptions options) : pool_(std::move(factory), options) {}

  boost::asio::awaitable<std::optional<pokedex::Pokemon>> find_pokemon(int id, Language language) override {
    co_return co_await pool_.run([id, language](Store& store) { return store.find_pokemon(id, language); });
  }
  // Calls capture the coroutine's parameters by reference: the coroutine is
  // suspended until the call returns, so they outlive it.
  boost::asio::awaitable<Listing> search_by_name(std::string name_prefix, Language language, Page page) override {
    co_return co_await pool_.run(
        [&name_prefix, language, page](Store& store) { return store.search_by_name(name_prefix, language, page); });
  }
  boost::asio::awaitable<std::optional<Listing>> list_by_type(std::string type_slug, Language language,
                                                              Page page) override {
    co_return co_await pool_.run(
        [&type_slug, language, page](Store& store) { return store.list_by_type(type_slug, language, page); });
  }
  boost::asio::awaitable<std::optional<Listing>> list_by_generation(int generation, Language language,
                                                                    Page page) override {
    co_return co_await pool_.run(
        [generation, language, page](Store& store) { return store.list_by_generation(generation, language, page); });
  }
  boost::asio::awaitable<int> max_pokemon_id() override {
    co_return co_await pool_.run([](Store& store) { return store.max_pokemon_id(); });
  }
  boost::asio::awaitable<void> ping() override {
    co_await pool_.run([](Store& store) {
      store.ping();
      return true;
    });
  }

  pokedex::StorageState state() const override { return pool_.state(); }

 private:
  StorePool pool_;
};

}  // namespace storage
