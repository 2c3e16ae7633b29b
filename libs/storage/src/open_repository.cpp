#include "storage/open_repository.hpp"

#include "storage/inline_repository.hpp"
#include "storage/mysql/mysql_repository.hpp"
#include "storage/pooled_repository.hpp"
#include "storage/sqlite/sqlite_store.hpp"

namespace storage {
namespace {

std::unique_ptr<pokedex::Repository> open_sqlite(const DatabaseUrl& url, const StorageOptions& options) {
  const bool in_memory = url.sqlite_path == ":memory:";
  const std::string path = in_memory ? SqliteStore::shared_memory_uri : url.sqlite_path;
  // Opened and seeded once here, before the other connections open it. The
  // factory keeps this connection until the repository is gone, and with it
  // the in-memory database, which lives while one connection to it is open.
  auto seeded = std::make_shared<SqliteStore>(path);
  auto factory = [path, seeded] { return std::make_unique<SqliteStore>(path); };
  auto execution = options.sqlite_execution;
  if (execution == SqliteExecution::automatic)
    execution = in_memory ? SqliteExecution::event_loop : SqliteExecution::worker_pool;
  // A point query on the in-memory database is a few microseconds of CPU and
  // never waits: cheaper run where the request is than handed to a worker
  // and back. A file database may wait for the disk, which would stall every
  // connection of the loop, so it gets worker threads unless asked otherwise.
  if (execution == SqliteExecution::event_loop)
    return std::make_unique<InlineRepository>(std::move(factory), options.sqlite_read_transaction);
  return std::make_unique<PooledRepository>(std::move(factory), options.pool);
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
  mysql.max_lookup_batch = options.max_lookup_batch;
  return std::make_unique<MysqlRepository>(mysql);
}

}  // namespace

std::optional<SqliteExecution> parse_sqlite_execution(std::string_view text) {
  if (text == "auto") return SqliteExecution::automatic;
  if (text == "event-loop") return SqliteExecution::event_loop;
  if (text == "workers") return SqliteExecution::worker_pool;
  return std::nullopt;
}

std::unique_ptr<pokedex::Repository> open_repository(const DatabaseUrl& url, const StorageOptions& options) {
  if (url.backend == DatabaseUrl::Backend::sqlite) return open_sqlite(url, options);
  return open_mysql(url, options);
}

}  // namespace storage
