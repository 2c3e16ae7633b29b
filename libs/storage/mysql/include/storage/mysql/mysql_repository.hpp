#pragma once
#include <pokedex/repository.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace storage {

namespace mysql {
class ConnectionPool;
}

struct MysqlOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3306;
  std::string user;
  std::string password;
  std::string database = "pokedex";
  std::size_t connections_per_loop = 4;              // the pool, per event-loop thread
  std::size_t max_waiting = 1024;                    // calls queued for a connection beyond this fail at once
  std::chrono::milliseconds max_wait{2'000};         // a call waiting longer for a connection fails
  std::chrono::milliseconds query_timeout{2'000};    // one query, from sending it to its last row
  std::chrono::milliseconds connect_timeout{2'000};  // connecting and preparing the statements
  std::chrono::milliseconds reconnect_backoff_initial{100};
  std::chrono::milliseconds reconnect_backoff_max{2'000};
  // find_pokemon calls arriving together answered by one query; 1: each queries alone
  std::size_t max_lookup_batch = 64;
};

// The MySQL protocol (MariaDB Connector/C in its non-blocking mode) driven by
// the caller's event loop: a query suspends the request's coroutine until the
// socket is ready, so no thread ever blocks on the database.
//
// Each event loop gets its own pool of connections, connected lazily, with
// prepared statements. A lost connection is rebuilt (and its statements
// re-prepared) and the query retried once; while the server stays unreachable
// the pool waits out an exponential backoff between connection attempts and
// fails fast meanwhile, and the first connection to get through ends the wait
// for all. Concurrent find_pokemon calls of one language (arriving in one turn
// of the event loop, or while every connection is busy) are answered
// together by one query (max_lookup_batch).
class MysqlRepository final : public pokedex::Repository {
 public:
  explicit MysqlRepository(MysqlOptions options);
  ~MysqlRepository() override;

  using Language = pokedex::Language;
  using Listing = pokedex::Listing;
  using Page = pokedex::Page;

  boost::asio::awaitable<std::optional<pokedex::Pokemon>> find_pokemon(int id, Language language) override;
  boost::asio::awaitable<std::optional<pokedex::Pokemon>> find_pokemon_observed(
      int id, Language language, pokedex::LookupObserver& observer) override;
  boost::asio::awaitable<Listing> search_by_name(std::string name_prefix, Language language, Page page) override;
  boost::asio::awaitable<std::optional<Listing>> list_by_type(std::string type_slug, Language language,
                                                              Page page) override;
  boost::asio::awaitable<std::optional<Listing>> list_by_generation(int generation, Language language,
                                                                    Page page) override;
  boost::asio::awaitable<int> max_pokemon_id() override;
  boost::asio::awaitable<void> ping() override;

  pokedex::StorageState state() const override;

 private:
  boost::asio::awaitable<std::shared_ptr<mysql::ConnectionPool>> current_pool();

  MysqlOptions options_;
  static std::atomic<std::uint64_t> instances_;
  const std::uint64_t instance_;  // never reused, unlike an address
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<mysql::ConnectionPool>> pools_;  // one per event loop that has queried
};

}  // namespace storage
