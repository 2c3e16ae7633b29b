#include "storage/open_repository.hpp"

#include "storage/mysql/mysql_repository.hpp"
#include "storage/pooled_repository.hpp"
#include "storage/sqlite/sqlite_store.hpp"

namespace storage {
namespace {

std::unique_ptr<pokedex::Repository> open_sqlite(const DatabaseUrl& url, const StorePoolOptions& pool) {
  const std::string path = url.sqlite_path == ":memory:" ? SqliteStore::shared_memory_uri : url.sqlite_path;
  // Opened and seeded once here, before the workers' connections open it. The
  // factory keeps this connection until the pool is gone, and with it the
  // in-memory database, which lives while one connection to it is open.
  auto seeded = std::make_shared<SqliteStore>(path);
  // SQLite calls block, so they run on worker threads; the embedded database
  // is in process, so that costs a thread hand-off, not a network round trip.
  return std::make_unique<PooledRepository>([path, seeded] { return std::make_unique<SqliteStore>(path); }, pool);
}

std::unique_ptr<pokedex::Repository> open_mysql(const DatabaseUrl& url, const StorageOptions& options) {
  MysqlOptions mysql;
  mysql.host = url.host;
  mysql.port = url.port;
  mysql.user = url.user;
  mysql.password = url.password;
  mysql.database = url.database;
  mysql.connections_per_loop = options.pool.connections;
  mysql.max_waiting = options.pool.max_waiting;
  mysql.max_wait = options.pool.max_wait;
  mysql.query_timeout = options.query_timeout;
  mysql.connect_timeout = options.connect_timeout;
  return std::make_unique<MysqlRepository>(mysql);
}

}  // namespace

std::unique_ptr<pokedex::Repository> open_repository(const DatabaseUrl& url, const StorageOptions& options) {
  if (url.backend == DatabaseUrl::Backend::sqlite) return open_sqlite(url, options.pool);
  return open_mysql(url, options);
}

}  // namespace storage
