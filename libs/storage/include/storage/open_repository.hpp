#pragma once
#include "storage/database_url.hpp"
#include "storage/store_pool.hpp"

#include <pokedex/repository.hpp>

#include <chrono>
#include <memory>

namespace storage {

struct StorageOptions {
  // connections: worker threads (SQLite), or connections per event-loop thread (MySQL)
  StorePoolOptions pool;
  std::chrono::milliseconds query_timeout{2'000};    // MySQL: one query, from sending it to its last row
  std::chrono::milliseconds connect_timeout{2'000};  // MySQL: connecting and preparing the statements
};

// The storage `url` names. An embedded database is opened, and seeded when it
// has no schema yet, before this returns (StorageUnavailable if it cannot
// be); a MySQL-protocol server is connected to on first use.
std::unique_ptr<pokedex::Repository> open_repository(const DatabaseUrl& url, const StorageOptions& options);

}  // namespace storage
