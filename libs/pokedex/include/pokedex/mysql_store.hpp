#pragma once
#include "pokedex/store.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace pokedex {

struct MysqlOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3306;
  std::string user;
  std::string password;
  std::string database = "pokedex";
  std::chrono::seconds connect_timeout{2};
  std::chrono::seconds query_timeout{2};  // the connector's read/write timeouts are whole seconds
  std::chrono::milliseconds reconnect_backoff_initial{100};
  std::chrono::milliseconds reconnect_backoff_max{2'000};
  // Shared by the connections of one pool: when one of them gets through,
  // the others stop waiting out their backoff and reconnect on next use.
  std::shared_ptr<std::atomic<std::int64_t>> last_connect_ns = std::make_shared<std::atomic<std::int64_t>>(0);
};

// One MySQL-protocol connection (MariaDB Connector/C) with prepared statements.
// It connects lazily; when the connection is lost it reconnects, re-prepares
// its statements and retries the query once; while the server stays down it
// waits out an exponential backoff between attempts and fails fast meanwhile.
class MysqlStore final : public PokedexStore {
 public:
  explicit MysqlStore(MysqlOptions options);
  ~MysqlStore() override;
  MysqlStore(const MysqlStore&) = delete;
  MysqlStore& operator=(const MysqlStore&) = delete;

  std::optional<Pokemon> find_pokemon(int id, Language language) override;
  Listing search_by_name(std::string_view name_prefix, Language language, Page page) override;
  std::optional<Listing> list_by_type(std::string_view type_slug, Language language, Page page) override;
  std::optional<Listing> list_by_generation(int generation, Language language, Page page) override;
  int max_pokemon_id() override;
  void ping() override;

  bool connected() const;

 private:
  struct Connection;
  Connection& connection();
  template <class F>
  auto with_connection(F&& query);

  MysqlOptions options_;
  std::unique_ptr<Connection> connection_;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::steady_clock::time_point last_failure_{};
  std::chrono::milliseconds backoff_{0};
};

}  // namespace pokedex
