#pragma once
// What the API asks of storage, as coroutines on the caller's event loop.
// Backends, in libs/storage: PooledRepository (blocking stores on worker
// threads, used for the embedded SQLite) and MysqlRepository (non-blocking
// MySQL protocol on the loop).
#include "pokedex/model.hpp"
#include "pokedex/store.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pokedex {

// Connection pool occupancy, summed over event loops, for metrics and logs.
struct StorageState {
  std::size_t in_use = 0;   // connections running a query
  std::size_t idle = 0;     // connections ready for one
  std::size_t waiting = 0;  // calls queued for a connection
};

// A find_pokemon call's view of the query that answers it, for a caller that
// measures or traces: a backend may answer concurrent lookups with one shared
// query (MysqlRepository's batches). Called on the caller's event loop while
// its call is pending.
class LookupObserver {
 public:
  struct Query {
    std::size_t lookups = 1;      // the find_pokemon calls it answers
    std::string_view query_text;  // with placeholders only
  };
  virtual ~LookupObserver() = default;
  // A query starts. Only the first observed lookup it answers is told, with
  // the other observed lookups (this one not among them), then told its end;
  // `error` is null when it succeeded.
  virtual void query_started(const Query& query, std::span<LookupObserver* const> others) = 0;
  virtual void query_ended(const std::exception* error) = 0;
};

class Repository {
 public:
  virtual ~Repository() = default;

  // Each throws StorageUnavailable when storage cannot answer.
  virtual boost::asio::awaitable<std::optional<Pokemon>> find_pokemon(int id, Language language) = 0;
  // find_pokemon, telling `observer` about the query that answers it. A
  // backend that never shares queries tells it nothing.
  virtual boost::asio::awaitable<std::optional<Pokemon>> find_pokemon_observed(int id, Language language,
                                                                               LookupObserver& /*observer*/) {
    return find_pokemon(id, language);
  }
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
