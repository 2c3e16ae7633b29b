#pragma once
// What the API asks of storage, as coroutines on the caller's event loop.
// Backends, in libs/storage: PooledRepository (blocking stores on worker
// threads, used for the embedded SQLite) and MysqlRepository (non-blocking
// MySQL protocol on the loop).
#include "pokedex/model.hpp"
#include "pokedex/store.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace pokedex {

// Connection pool occupancy, summed over event loops, for metrics and logs.
struct StorageState {
  std::size_t in_use = 0;   // connections running a query
  std::size_t idle = 0;     // connections ready for one
  std::size_t waiting = 0;  // calls queued for a connection
};

class Repository {
 public:
  virtual ~Repository() = default;

  // Each throws StorageUnavailable when storage cannot answer.
  virtual boost::asio::awaitable<std::optional<Pokemon>> find_pokemon(int id, Language language) = 0;
  // `name_prefix` is already case-folded.
  virtual boost::asio::awaitable<Listing> search_by_name(std::string name_prefix, Language language, Page page) = 0;
  virtual boost::asio::awaitable<std::optional<Listing>> list_by_type(std::string type_slug, Language language,
                                                                      Page page) = 0;
  virtual boost::asio::awaitable<std::optional<Listing>> list_by_generation(int generation, Language language,
                                                                            Page page) = 0;
  virtual boost::asio::awaitable<int> max_pokemon_id() = 0;
  virtual boost::asio::awaitable<void> ping() = 0;

  virtual StorageState state() const = 0;
};

}  // namespace pokedex
