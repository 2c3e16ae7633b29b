#pragma once
#include "storage/database_url.hpp"
#include "storage/store_pool.hpp"

#include <pokedex/repository.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

namespace storage {

// Where the embedded SQLite runs its queries.
enum class SqliteExecution {
  automatic,    // event_loop for an in-memory database, worker_pool for a file
  event_loop,   // on the calling event-loop thread, with a connection per loop (InlineRepository)
  worker_pool,  // on pool.connections worker threads (StorePool)
};

// "auto", "event-loop" or "workers"; nullopt for anything else.
std::optional<SqliteExecution> parse_sqlite_execution(std::string_view text);

struct StorageOptions {
  // connections: worker threads (SQLite on workers), or connections per
  // event-loop thread (MySQL); SQLite on the event loops has one per loop.
  StorePoolOptions pool;
  SqliteExecution sqlite_execution = SqliteExecution::automatic;
  // SQLite on the event loops: how long a loop's queries share one read
  // transaction before it ends (InlineRepository); zero: one per query.
  std::chrono::milliseconds sqlite_read_transaction{100};
  std::chrono::milliseconds query_timeout{2'000};    // MySQL: one query, from sending it to its last row
  std::chrono::milliseconds connect_timeout{2'000};  // MySQL: connecting and preparing the statements
  std::size_t max_lookup_batch = 64;                 // MySQL: lookups by id answered by one query; 1: none shared
};

// The storage `url` names. An embedded database is opened, and seeded when it
// has no schema yet, before this returns (StorageUnavailable if it cannot
// be); a MySQL-protocol server is connected to on first use.
std::unique_ptr<pokedex::Repository> open_repository(const DatabaseUrl& url, const StorageOptions& options);

}  // namespace storage
