#include "config.hpp"

#include <cli_settings/cli_settings.hpp>
#include <secret_file/secret_file.hpp>

#include <thread>

#ifndef APIMON_VERSION
#define APIMON_VERSION "0.0.0"
#endif

namespace apimon {
namespace {

std::string read_password_file(const std::string& path) {
  auto secret = secret_file::read(path);
  if (!secret) throw CLI::ValidationError("--database-password-file", "cannot read '" + path + "'");
  return std::move(*secret);
}

}  // namespace

ConfigResult parse_config(const std::vector<std::string>& arguments) {
  Config config;
  CLI::App app{"apimon: the Pokédex HTTP API of the observability study stack", "apimon"};
  app.set_version_flag("--version", std::string("apimon ") + APIMON_VERSION);
  app.option_defaults()->always_capture_default();

  auto& server = config.server;
  server.port = 5000;
  server.server_name = "apimon";
  server.threads = 1;
  std::string database_url = "sqlite::memory:";
  std::string password;
  std::string password_file;
  std::string sqlite_execution = "auto";
  auto sqlite_read_transaction_ms = static_cast<std::uint64_t>(config.storage.sqlite_read_transaction.count());
  auto queue_wait_ms = static_cast<std::uint64_t>(config.storage.pool.max_wait.count());
  auto cache_ttl_ms = static_cast<std::uint64_t>(config.cache.ttl.count());
  std::uint64_t query_timeout_ms = 2'000;
  std::uint64_t connect_timeout_ms = 2'000;
  unsigned retry_after_s = 5;

  service_settings::SettingsOptions service_options;
  service_options.add_to(app, "APIMON", config, supported_faults);
  app.get_option("--threads")->description("Event-loop threads, each with its own SO_REUSEPORT listener");

  app.add_option("--database-url", database_url,
                 "sqlite::memory:, sqlite:///path/to/file.db or mysql://user@host:port/database")
      ->envname("APIMON_DATABASE_URL");
  app.add_option("--database-password", password, "Database password (prefer the _FILE form)")
      ->envname("APIMON_DATABASE_PASSWORD");
  app.add_option("--database-password-file", password_file, "File holding the database password")
      ->envname("APIMON_DATABASE_PASSWORD_FILE");
  app.add_option("--db-pool-size", config.storage.pool.connections,
                 "Database connections per event-loop thread (MySQL), or worker threads (SQLite on workers)")
      ->envname("APIMON_DB_POOL_SIZE")
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
  app.add_option("--sqlite-execution", sqlite_execution,
                 "Where SQLite queries run: event-loop (on the request's thread, a connection per loop; a slow "
                 "query holds up that loop), workers (--db-pool-size threads), or auto (event-loop for "
                 "sqlite::memory:, workers for a file)")
      ->envname("APIMON_SQLITE_EXECUTION")
      ->check(CLI::IsMember({"auto", "event-loop", "workers"}));
  app.add_option("--sqlite-read-transaction-ms", sqlite_read_transaction_ms,
                 "SQLite on the event loops: how long a loop's queries share one read transaction (a file "
                 "database's writer may wait that long); 0: a transaction per query")
      ->envname("APIMON_SQLITE_READ_TRANSACTION_MS")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{60'000}));
  app.add_option("--db-max-waiting", config.storage.pool.max_waiting, "Queued database calls beyond this get 503")
      ->envname("APIMON_DB_MAX_WAITING")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  app.add_option("--db-max-wait-ms", queue_wait_ms, "A database call queued longer than this gets 503")
      ->envname("APIMON_DB_MAX_WAIT_MS")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{600'000}));
  app.add_option("--db-query-timeout-ms", query_timeout_ms, "One query, from sending it to its last row (MySQL)")
      ->envname("APIMON_DB_QUERY_TIMEOUT_MS")
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{600'000}));
  app.add_option("--db-connect-timeout-ms", connect_timeout_ms, "Connecting and preparing statements (MySQL)")
      ->envname("APIMON_DB_CONNECT_TIMEOUT_MS")
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{600'000}));
  app.add_option("--db-max-batch", config.storage.max_lookup_batch,
                 "Concurrent lookups by id answered by one query (MySQL); 1 turns batching off")
      ->envname("APIMON_DB_MAX_BATCH")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1024}));
  app.add_option("--retry-after-s", retry_after_s, "Retry-After sent with 503 when storage is unavailable")
      ->envname("APIMON_RETRY_AFTER_S")
      ->check(CLI::Range(1U, 3600U));

  app.add_option("--cache-entries", config.cache.max_entries, "Cached rendered responses; 0 turns the cache off")
      ->envname("APIMON_CACHE_ENTRIES")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10'000'000}));
  app.add_option("--cache-ttl-ms", cache_ttl_ms, "How long a cached response stays fresh")
      ->envname("APIMON_CACHE_TTL_MS")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{86'400'000}));

  app.add_option("--telemetry", config.telemetry,
                 "Automatic request and database metrics and spans (true or false; false only to measure their cost)")
      ->envname("APIMON_TELEMETRY");

  const auto outcome = cli_settings::parse(app, arguments, [&] {
    try {
      config.database = storage::parse_database_url(database_url);
    } catch (const std::invalid_argument& error) {
      throw CLI::ValidationError("--database-url", error.what());
    }
    if (!password_file.empty()) password = read_password_file(password_file);
    if (!password.empty()) config.database.password = password;
    config.storage.sqlite_execution = *storage::parse_sqlite_execution(sqlite_execution);
    config.storage.sqlite_read_transaction = std::chrono::milliseconds(sqlite_read_transaction_ms);
    config.storage.pool.max_wait = std::chrono::milliseconds(queue_wait_ms);
    config.cache.ttl = std::chrono::milliseconds(cache_ttl_ms);
    config.storage.query_timeout = std::chrono::milliseconds(query_timeout_ms);
    config.storage.connect_timeout = std::chrono::milliseconds(connect_timeout_ms);
    config.retry_after = std::chrono::seconds(retry_after_s);
    service_options.finish();
  });
  return cli_settings::result(outcome, std::move(config));
}

}  // namespace apimon
