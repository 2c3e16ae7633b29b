#include "pokedex/mysql_store.hpp"

#include "queries.hpp"
#include "row_mapping.hpp"

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <spdlog/spdlog.h>

#include <array>
#include <variant>
#include <vector>

namespace pokedex {
namespace {

// The connection is gone or unusable; reconnecting may help.
class ConnectionLost : public StorageUnavailable {
 public:
  using StorageUnavailable::StorageUnavailable;
};

bool is_connection_error(unsigned code) {
  switch (code) {
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_COMMANDS_OUT_OF_SYNC:
    case ER_UNKNOWN_STMT_HANDLER:  // statements prepared before a reconnect are gone
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
      return true;
    default:
      return false;
  }
}

[[noreturn]] void fail(const char* what, unsigned code, const char* message) {
  std::string text = std::string(what) + " failed (" + std::to_string(code) + "): " + message;
  if (is_connection_error(code)) throw ConnectionLost(text);
  throw StorageUnavailable(text);
}

// A prepared statement whose result columns are bound to buffers once, from
// the result metadata: integers as int, everything else as text.
class Statement {
 public:
  Statement(MYSQL* mysql, const char* sql) : statement_(mysql_stmt_init(mysql)) {
    if (!statement_) fail("mysql_stmt_init", mysql_errno(mysql), mysql_error(mysql));
    if (mysql_stmt_prepare(statement_, sql, std::strlen(sql)) != 0) check_failed("mysql_stmt_prepare");
    MYSQL_RES* metadata = mysql_stmt_result_metadata(statement_);
    const unsigned count = metadata ? mysql_num_fields(metadata) : 0;
    columns_.resize(count);
    result_binds_.resize(count);
    for (unsigned i = 0; i < count; ++i) {
      const MYSQL_FIELD* field = mysql_fetch_field_direct(metadata, i);
      Column& column = columns_[i];
      MYSQL_BIND& bind = result_binds_[i];
      column.is_integer = field->type == MYSQL_TYPE_LONG || field->type == MYSQL_TYPE_LONGLONG ||
                          field->type == MYSQL_TYPE_SHORT || field->type == MYSQL_TYPE_TINY ||
                          field->type == MYSQL_TYPE_INT24;
      if (column.is_integer) {
        bind.buffer_type = MYSQL_TYPE_LONG;
        bind.buffer = &column.integer;
      } else {
        bind.buffer_type = MYSQL_TYPE_STRING;
        bind.buffer = column.text.data();
        bind.buffer_length = column.text.size();
        bind.length = &column.length;
      }
      bind.is_null = &column.null;
    }
    if (metadata) mysql_free_result(metadata);
    if (count > 0 && mysql_stmt_bind_result(statement_, result_binds_.data()) != 0)
      check_failed("mysql_stmt_bind_result");
    params_.resize(mysql_stmt_param_count(statement_));
  }
  ~Statement() { mysql_stmt_close(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds the parameters in order, executes, and buffers the whole result.
  template <class... Params>
  Statement& execute(const Params&... values) {
    mysql_stmt_free_result(statement_);
    static_assert(sizeof...(values) < 8);
    std::array<std::variant<int, std::string_view>, sizeof...(values)> given{values...};
    for (std::size_t i = 0; i < given.size(); ++i) {
      MYSQL_BIND& bind = params_[i];
      bind = MYSQL_BIND{};
      if (const int* number = std::get_if<int>(&given[i])) {
        integers_[i] = *number;
        bind.buffer_type = MYSQL_TYPE_LONG;
        bind.buffer = &integers_[i];
      } else {
        const auto text = std::get<std::string_view>(given[i]);
        bind.buffer_type = MYSQL_TYPE_STRING;
        bind.buffer = const_cast<char*>(text.data());
        bind.buffer_length = text.size();
      }
    }
    if (!params_.empty() && mysql_stmt_bind_param(statement_, params_.data()) != 0)
      check_failed("mysql_stmt_bind_param");
    if (mysql_stmt_execute(statement_) != 0) check_failed("mysql_stmt_execute");
    if (mysql_stmt_store_result(statement_) != 0) check_failed("mysql_stmt_store_result");
    return *this;
  }

  bool next() {
    const int rc = mysql_stmt_fetch(statement_);
    if (rc == 0) return true;
    if (rc == MYSQL_NO_DATA) return false;
    if (rc == MYSQL_DATA_TRUNCATED) throw StorageUnavailable("a result column exceeded its buffer");
    check_failed("mysql_stmt_fetch");
  }

  int integer(int i) const { return columns_[static_cast<std::size_t>(i)].integer; }
  bool is_null(int i) const { return columns_[static_cast<std::size_t>(i)].null; }
  std::string_view text(int i) const {
    const Column& column = columns_[static_cast<std::size_t>(i)];
    return {column.text.data(), column.length};
  }

 private:
  struct Column {
    bool is_integer = false;
    int integer = 0;
    std::array<char, 256> text{};  // VARCHAR(64) in utf8mb4 is at most 256 bytes
    unsigned long length = 0;
    my_bool null = 0;
  };

  [[noreturn]] void check_failed(const char* what) {
    fail(what, mysql_stmt_errno(statement_), mysql_stmt_error(statement_));
  }

  MYSQL_STMT* statement_;
  std::vector<Column> columns_;
  std::vector<MYSQL_BIND> result_binds_;
  std::vector<MYSQL_BIND> params_;
  std::array<int, 8> integers_{};
};

}  // namespace

struct MysqlStore::Connection {
  MYSQL* mysql = nullptr;
  std::unique_ptr<Statement> find, search, by_type, by_generation, type_exists, generation, max_id, ping;

  explicit Connection(const MysqlOptions& options) {
    mysql = mysql_init(nullptr);
    if (!mysql) throw StorageUnavailable("mysql_init failed: out of memory");
    const unsigned connect_timeout = static_cast<unsigned>(options.connect_timeout.count());
    const unsigned query_timeout = static_cast<unsigned>(options.query_timeout.count());
    const my_bool no = 0;
    mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &query_timeout);
    mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &query_timeout);
    mysql_options(mysql, MYSQL_OPT_RECONNECT, &no);  // reconnects are ours: statements must be re-prepared
    mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(mysql, options.host.c_str(), options.user.c_str(), options.password.c_str(),
                            options.database.c_str(), options.port, nullptr, 0)) {
      const std::string message = mysql_error(mysql);
      const unsigned code = mysql_errno(mysql);
      mysql_close(mysql);
      throw StorageUnavailable("connect to " + options.host + ":" + std::to_string(options.port) +
                               " failed (" + std::to_string(code) + "): " + message);
    }
    try {
      find = std::make_unique<Statement>(mysql, queries::find_pokemon);
      search = std::make_unique<Statement>(mysql, queries::search_by_name);
      by_type = std::make_unique<Statement>(mysql, queries::list_by_type);
      by_generation = std::make_unique<Statement>(mysql, queries::list_by_generation);
      type_exists = std::make_unique<Statement>(mysql, queries::type_exists);
      generation = std::make_unique<Statement>(mysql, queries::generation_exists);
      max_id = std::make_unique<Statement>(mysql, queries::max_pokemon_id);
      ping = std::make_unique<Statement>(mysql, queries::ping);
    } catch (...) {
      close();
      throw;
    }
  }
  ~Connection() { close(); }

  void close() {
    find.reset(); search.reset(); by_type.reset(); by_generation.reset();
    type_exists.reset(); generation.reset(); max_id.reset(); ping.reset();
    if (mysql) mysql_close(mysql);
    mysql = nullptr;
  }
};

MysqlStore::MysqlStore(MysqlOptions options) : options_(std::move(options)) {}
MysqlStore::~MysqlStore() = default;

bool MysqlStore::connected() const { return connection_ != nullptr; }

MysqlStore::Connection& MysqlStore::connection() {
  if (connection_) return *connection_;
  const auto now = std::chrono::steady_clock::now();
  const std::chrono::steady_clock::time_point someone_connected{
      std::chrono::nanoseconds(options_.last_connect_ns->load(std::memory_order_relaxed))};
  if (now < next_attempt_ && someone_connected <= last_failure_)
    throw StorageUnavailable("database unreachable; waiting before reconnecting");
  try {
    connection_ = std::make_unique<Connection>(options_);
    options_.last_connect_ns->store(std::chrono::steady_clock::now().time_since_epoch().count(),
                                    std::memory_order_relaxed);
    if (backoff_.count() > 0) spdlog::info("database connection restored");
    backoff_ = std::chrono::milliseconds{0};
    return *connection_;
  } catch (const StorageUnavailable& error) {
    last_failure_ = now;
    backoff_ = backoff_.count() == 0 ? options_.reconnect_backoff_initial
                                     : std::min(backoff_ * 2, options_.reconnect_backoff_max);
    next_attempt_ = now + backoff_;
    spdlog::warn("database connection failed: {}; next attempt in {} ms", error.what(), backoff_.count());
    throw;
  }
}

// Runs `query` on the connection. A lost connection (a restarted server, a
// killed session) is rebuilt once at once, since pooled connections all
// break together and the first request on each should not fail for it.
template <class F>
auto MysqlStore::with_connection(F&& query) {
  try {
    return query(connection());
  } catch (const ConnectionLost& error) {
    spdlog::warn("database connection lost: {}; reconnecting", error.what());
    connection_.reset();
    next_attempt_ = {};
  }
  try {
    return query(connection());
  } catch (const ConnectionLost&) {
    connection_.reset();
    throw;
  }
}

std::optional<Pokemon> MysqlStore::find_pokemon(int id, Language language) {
  return with_connection([&](Connection& c) -> std::optional<Pokemon> {
    auto& cursor = c.find->execute(id, tag(language));
    if (!cursor.next()) return std::nullopt;
    return rows::read_pokemon(cursor);
  });
}

Listing MysqlStore::search_by_name(std::string_view name_prefix, Language language, Page page) {
  const std::string pattern = queries::like_prefix_pattern(name_prefix);
  return with_connection([&](Connection& c) {
    auto& cursor = c.search->execute(tag(language), std::string_view(pattern),
                                     page.limit + 1, page.offset);
    return rows::read_listing(cursor, page);
  });
}

std::optional<Listing> MysqlStore::list_by_type(std::string_view type_slug, Language language, Page page) {
  return with_connection([&](Connection& c) -> std::optional<Listing> {
    if (!c.type_exists->execute(type_slug).next()) return std::nullopt;
    auto& cursor = c.by_type->execute(tag(language), type_slug, type_slug, page.limit + 1, page.offset);
    return rows::read_listing(cursor, page);
  });
}

std::optional<Listing> MysqlStore::list_by_generation(int generation, Language language, Page page) {
  return with_connection([&](Connection& c) -> std::optional<Listing> {
    if (!c.generation->execute(generation).next()) return std::nullopt;
    auto& cursor = c.by_generation->execute(tag(language), generation, page.limit + 1, page.offset);
    return rows::read_listing(cursor, page);
  });
}

int MysqlStore::max_pokemon_id() {
  return with_connection([&](Connection& c) {
    auto& cursor = c.max_id->execute();
    return cursor.next() ? cursor.integer(0) : 0;
  });
}

void MysqlStore::ping() {
  with_connection([&](Connection& c) {
    if (!c.ping->execute().next()) throw StorageUnavailable("database answered no row to a ping");
    return 0;
  });
}

}  // namespace pokedex
