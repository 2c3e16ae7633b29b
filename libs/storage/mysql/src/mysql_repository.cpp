#include "pokedex/mysql_repository.hpp"

#include "pokedex/queries.hpp"
#include "row_mapping.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <errmsg.h>
#include "mysql_library.hpp"
#include <mysqld_error.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <variant>

namespace pokedex {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

const MysqlLibrary& connector() { return MysqlLibrary::get(); }
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The connection is gone or unusable; a new one may succeed.
class ConnectionLost : public StorageUnavailable {
 public:
  using StorageUnavailable::StorageUnavailable;
};

// The database did not answer within the deadline. The connection is left
// mid-protocol and must be closed, but retrying would only wait again.
class DeadlineExceeded : public StorageUnavailable {
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
// its metadata: integers as int, everything else as text. Binding parameters
// and reading stored rows never touch the network.
class Statement {
 public:
  explicit Statement(MYSQL* mysql) : statement_(connector().mysql_stmt_init(mysql)) {
    if (!statement_) fail("mysql_stmt_init", connector().mysql_errno(mysql), connector().mysql_error(mysql));
  }
  ~Statement() { connector().mysql_stmt_close(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  MYSQL_STMT* handle() const { return statement_; }

  // After a successful prepare: binds the result columns to this statement's buffers.
  void bind_results() {
    MYSQL_RES* metadata = connector().mysql_stmt_result_metadata(statement_);
    const unsigned count = metadata ? connector().mysql_num_fields(metadata) : 0;
    columns_.resize(count);
    result_binds_.assign(count, MYSQL_BIND{});
    for (unsigned i = 0; i < count; ++i) {
      const MYSQL_FIELD* field = connector().mysql_fetch_field_direct(metadata, i);
      Column& column = columns_[i];
      MYSQL_BIND& bind = result_binds_[i];
      const bool is_integer = field->type == MYSQL_TYPE_LONG || field->type == MYSQL_TYPE_LONGLONG ||
                              field->type == MYSQL_TYPE_SHORT || field->type == MYSQL_TYPE_TINY ||
                              field->type == MYSQL_TYPE_INT24;
      if (is_integer) {
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
    if (metadata) connector().mysql_free_result(metadata);
    if (count > 0 && connector().mysql_stmt_bind_result(statement_, result_binds_.data()) != 0) check_failed("bind_result");
    params_.resize(connector().mysql_stmt_param_count(statement_));
  }

  // Binds the parameters in order; the values must outlive the execution.
  template <class... Params>
  void bind(const Params&... values) {
    static_assert(sizeof...(values) <= max_params);
    connector().mysql_stmt_free_result(statement_);  // the previous result was stored client-side: no I/O
    std::array<std::variant<int, std::string_view>, sizeof...(values)> given{values...};
    for (std::size_t i = 0; i < given.size(); ++i) {
      MYSQL_BIND& bind = params_.at(i);
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
    if (!params_.empty() && connector().mysql_stmt_bind_param(statement_, params_.data()) != 0) check_failed("bind_param");
  }

  bool next() {
    const int rc = connector().mysql_stmt_fetch(statement_);
    if (rc == 0) return true;
    if (rc == MYSQL_NO_DATA) return false;
    if (rc == MYSQL_DATA_TRUNCATED) throw StorageUnavailable("a result column exceeded its buffer");
    check_failed("fetch");
  }

  int integer(int i) const { return columns_[static_cast<std::size_t>(i)].integer; }
  bool is_null(int i) const { return columns_[static_cast<std::size_t>(i)].null; }
  std::string_view text(int i) const {
    const Column& column = columns_[static_cast<std::size_t>(i)];
    return {column.text.data(), column.length};
  }

  [[noreturn]] void check_failed(const char* what) {
    fail(what, connector().mysql_stmt_errno(statement_), connector().mysql_stmt_error(statement_));
  }

 private:
  static constexpr std::size_t max_params = 8;
  struct Column {
    int integer = 0;
    std::array<char, 256> text{};  // VARCHAR(64) in utf8mb4 is at most 256 bytes
    unsigned long length = 0;
    my_bool null = 0;
  };

  MYSQL_STMT* statement_;
  std::vector<Column> columns_;
  std::vector<MYSQL_BIND> result_binds_;
  std::vector<MYSQL_BIND> params_;
  std::array<int, max_params> integers_{};
};

// One non-blocking connection and its prepared statements. Every network step
// is a Connector/C *_start/*_cont pair; between them the coroutine waits for
// the socket on the event loop.
class Connection {
 public:
  explicit Connection(asio::any_io_executor executor) : executor_(std::move(executor)) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const { return statements_ != nullptr; }

  asio::awaitable<void> connect(const MysqlOptions& options) {
    close();
    mysql_ = connector().mysql_init(nullptr);
    if (!mysql_) throw StorageUnavailable("mysql_init failed: out of memory");
    const my_bool no = 0;
    connector().mysql_options(mysql_, MYSQL_OPT_NONBLOCK, nullptr);
    connector().mysql_options(mysql_, MYSQL_OPT_RECONNECT, &no);  // reconnects are ours: statements must be re-prepared
    connector().mysql_options(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    deadline_ = Clock::now() + options.connect_timeout;
    try {
      MYSQL* connected = nullptr;
      co_await drive(
          [&] {
            return connector().mysql_real_connect_start(&connected, mysql_, options.host.c_str(), options.user.c_str(),
                                            options.password.c_str(), options.database.c_str(), options.port,
                                            nullptr, 0);
          },
          [&](int ready) { return connector().mysql_real_connect_cont(&connected, mysql_, ready); });
      if (!connected)
        throw StorageUnavailable("connect to " + options.host + ":" + std::to_string(options.port) + " failed (" +
                                 std::to_string(connector().mysql_errno(mysql_)) + "): " + connector().mysql_error(mysql_));
      auto statements = std::make_unique<Statements>(mysql_);
      for (auto& [statement, sql] : statements->all()) co_await prepare(*statement, sql);
      statements_ = std::move(statements);
    } catch (...) {
      deadline_ = Clock::time_point::max();
      close();
      throw;
    }
    deadline_ = Clock::time_point::max();
  }

  // Executes a bound statement and stores its whole result client-side,
  // where statement.next() reads it.
  asio::awaitable<void> execute(Statement& statement, std::chrono::milliseconds timeout) {
    deadline_ = Clock::now() + timeout;
    int failed = 0;
    co_await drive([&] { return connector().mysql_stmt_execute_start(&failed, statement.handle()); },
                   [&](int ready) { return connector().mysql_stmt_execute_cont(&failed, statement.handle(), ready); });
    if (failed) statement.check_failed("execute");
    co_await drive([&] { return connector().mysql_stmt_store_result_start(&failed, statement.handle()); },
                   [&](int ready) { return connector().mysql_stmt_store_result_cont(&failed, statement.handle(), ready); });
    if (failed) statement.check_failed("store_result");
    deadline_ = Clock::time_point::max();
  }

  // Called by the pool's sweeper: a connection past its deadline stops waiting.
  void enforce_deadline(Clock::time_point now) {
    if (now < deadline_ || !socket_) return;
    timed_out_ = true;
    boost::system::error_code ignored;
    socket_->cancel(ignored);
  }

  void close() {
    statements_.reset();
    if (socket_) {
      socket_->release();  // the descriptor belongs to Connector/C, which closes it
      socket_.reset();
    }
    if (mysql_) connector().mysql_close(mysql_);
    mysql_ = nullptr;
    timed_out_ = false;
  }

  struct Statements {
    explicit Statements(MYSQL* mysql)
        : find(mysql), search(mysql), by_type(mysql), by_generation(mysql), type_exists(mysql),
          generation_exists(mysql), max_id(mysql), ping(mysql) {}
    std::array<std::pair<Statement*, const char*>, 8> all() {
      return {{{&find, queries::find_pokemon},
               {&search, queries::search_by_name},
               {&by_type, queries::list_by_type},
               {&by_generation, queries::list_by_generation},
               {&type_exists, queries::type_exists},
               {&generation_exists, queries::generation_exists},
               {&max_id, queries::max_pokemon_id},
               {&ping, queries::ping}}};
    }
    Statement find, search, by_type, by_generation, type_exists, generation_exists, max_id, ping;
  };
  Statements& statements() { return *statements_; }

 private:
  asio::awaitable<void> prepare(Statement& statement, const char* sql) {
    int failed = 0;
    co_await drive([&] { return connector().mysql_stmt_prepare_start(&failed, statement.handle(), sql, std::strlen(sql)); },
                   [&](int ready) { return connector().mysql_stmt_prepare_cont(&failed, statement.handle(), ready); });
    if (failed) statement.check_failed("prepare");
    statement.bind_results();
  }

  template <class Start, class Continue>
  asio::awaitable<void> drive(Start start, Continue resume) {
    int status = start();
    while (status != 0) status = resume(co_await wait(status));
  }

  // Waits for what Connector/C asked for and returns what happened.
  asio::awaitable<int> wait(int status) {
    if (!socket_) socket_.emplace(executor_, connector().mysql_get_socket(mysql_));
    if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE)) {
      const bool want_write = status & MYSQL_WAIT_WRITE;
      auto [error] = co_await socket_->async_wait(
          want_write ? asio::posix::descriptor_base::wait_write : asio::posix::descriptor_base::wait_read,
          use_tuple);
      if (timed_out_) throw DeadlineExceeded("the database did not answer in time");
      if (error) throw ConnectionLost("waiting for the database failed: " + error.message());
      co_return want_write ? MYSQL_WAIT_WRITE : MYSQL_WAIT_READ;
    }
    // Only a timeout was asked for: Connector/C's own (e.g. connect) timer.
    asio::steady_timer timer(executor_, std::chrono::milliseconds(connector().mysql_get_timeout_value_ms(mysql_)));
    co_await timer.async_wait(use_tuple);
    co_return MYSQL_WAIT_TIMEOUT;
  }

  asio::any_io_executor executor_;
  MYSQL* mysql_ = nullptr;
  std::optional<asio::posix::stream_descriptor> socket_;  // watches Connector/C's socket
  std::unique_ptr<Statements> statements_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
};

}  // namespace

// The connections of one event loop. Touched only from that loop's thread,
// except the counters, which metrics read from anywhere.
class MysqlRepository::LoopPool : public std::enable_shared_from_this<LoopPool> {
 public:
  LoopPool(asio::any_io_executor executor, const MysqlOptions& options)
      : executor_(std::move(executor)), options_(options), sweeper_(executor_) {}

  const asio::any_io_executor& executor() const { return executor_; }

  // A connection borrowed from the pool, returned when the lease ends.
  class Lease {
   public:
    Lease(std::shared_ptr<LoopPool> pool, Connection* connection) : pool_(std::move(pool)), connection_(connection) {}
    Lease(Lease&& other) noexcept : pool_(std::move(other.pool_)), connection_(std::exchange(other.connection_, nullptr)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (connection_) pool_->release(connection_);
    }
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_; }

   private:
    std::shared_ptr<LoopPool> pool_;
    Connection* connection_;
  };

  asio::awaitable<Lease> acquire() {
    if (!sweeping_) {
      sweeping_ = true;
      asio::co_spawn(executor_, sweep(shared_from_this()), asio::detached);
    }
    if (!idle_.empty()) {
      Connection* connection = idle_.back();
      idle_.pop_back();
      co_return take(connection);
    }
    if (connections_.size() < options_.connections_per_loop) {
      connections_.push_back(std::make_unique<Connection>(executor_));
      co_return take(connections_.back().get());
    }
    if (waiters_.size() >= options_.max_waiting) throw StorageUnavailable("database call queue is full");
    Waiter waiter{asio::steady_timer(executor_, options_.max_wait), nullptr};
    waiters_.push_back(&waiter);
    waiting_.fetch_add(1, std::memory_order_relaxed);
    co_await waiter.timer.async_wait(use_tuple);
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    if (!waiter.connection) {
      std::erase(waiters_, &waiter);
      throw StorageUnavailable("database call waited too long for a connection");
    }
    co_return Lease(shared_from_this(), waiter.connection);  // release() already counted it in use
  }

  // Connects a leased connection if it is not, respecting the shared backoff.
  asio::awaitable<void> ensure_connected(Connection& connection) {
    if (connection.connected()) co_return;
    const auto now = Clock::now();
    if (now < next_attempt_) throw StorageUnavailable("database unreachable; waiting before reconnecting");
    try {
      co_await connection.connect(options_);
    } catch (const StorageUnavailable& error) {
      backoff_ = backoff_.count() == 0 ? options_.reconnect_backoff_initial
                                       : std::min(backoff_ * 2, options_.reconnect_backoff_max);
      next_attempt_ = Clock::now() + backoff_;
      spdlog::warn("database connection failed: {}; next attempt in {} ms", error.what(), backoff_.count());
      throw;
    }
    if (backoff_.count() > 0) spdlog::info("database connection restored");
    backoff_ = std::chrono::milliseconds{0};
    next_attempt_ = {};
  }

  StorageState state() const {
    StorageState state;
    state.in_use = in_use_.load(std::memory_order_relaxed);
    state.idle = options_.connections_per_loop - std::min(state.in_use, options_.connections_per_loop);
    state.waiting = waiting_.load(std::memory_order_relaxed);
    return state;
  }

 private:
  struct Waiter {
    asio::steady_timer timer;
    Connection* connection;
  };

  Lease take(Connection* connection) {
    in_use_.fetch_add(1, std::memory_order_relaxed);
    return Lease(shared_from_this(), connection);
  }

  void release(Connection* connection) {
    if (!waiters_.empty()) {  // hand it straight to the longest waiting call
      Waiter* waiter = waiters_.front();
      waiters_.pop_front();
      waiter->connection = connection;
      waiter->timer.cancel();
      return;
    }
    in_use_.fetch_sub(1, std::memory_order_relaxed);
    idle_.push_back(connection);
  }

  // Enforces query deadlines: one timer for the pool instead of one per query.
  static asio::awaitable<void> sweep(std::shared_ptr<LoopPool> self) {
    const auto period = std::clamp(self->options_.query_timeout / 10, std::chrono::milliseconds(10),
                                   std::chrono::milliseconds(250));
    for (;;) {
      self->sweeper_.expires_after(period);
      co_await self->sweeper_.async_wait(use_tuple);
      const auto now = Clock::now();
      for (const auto& connection : self->connections_) connection->enforce_deadline(now);
    }
  }

  asio::any_io_executor executor_;
  const MysqlOptions options_;  // a copy: leases may keep the pool past its repository
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> idle_;
  std::deque<Waiter*> waiters_;
  asio::steady_timer sweeper_;
  bool sweeping_ = false;
  Clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
  std::atomic<std::size_t> in_use_{0};
  std::atomic<std::size_t> waiting_{0};
};

namespace {

// Runs `query` on a leased, connected connection. A connection found lost (a
// restarted server, a killed session) is rebuilt and the query retried once:
// pooled connections all break together, and the first request on each should
// not fail for it. A query past its deadline is not retried.
template <class Query>
auto run(std::shared_ptr<MysqlRepository::LoopPool> pool, Query query)
    -> asio::awaitable<typename decltype(query(std::declval<Connection&>()))::value_type> {
  auto lease = co_await pool->acquire();
  try {
    co_await pool->ensure_connected(*lease);
    co_return co_await query(*lease);
  } catch (const ConnectionLost& error) {
    spdlog::warn("database connection lost: {}; reconnecting", error.what());
    lease->close();
  } catch (const DeadlineExceeded&) {
    lease->close();
    throw;
  }
  try {
    co_await pool->ensure_connected(*lease);
    co_return co_await query(*lease);
  } catch (const StorageUnavailable&) {
    lease->close();
    throw;
  }
}

}  // namespace

std::atomic<std::uint64_t> MysqlRepository::instances_{0};

MysqlRepository::MysqlRepository(MysqlOptions options) : options_(std::move(options)), instance_(++instances_) {}
MysqlRepository::~MysqlRepository() = default;

asio::awaitable<std::shared_ptr<MysqlRepository::LoopPool>> MysqlRepository::current_pool() {
  const auto executor = co_await asio::this_coro::executor;
  // Each event-loop thread remembers its pool, so a query takes no lock; the
  // weak reference never keeps a pool past its repository.
  struct Remembered {
    std::uint64_t repository = 0;
    std::weak_ptr<LoopPool> pool;
  };
  thread_local Remembered remembered;
  if (remembered.repository == instance_)
    if (auto pool = remembered.pool.lock(); pool && pool->executor() == executor) co_return pool;
  std::lock_guard lock(mutex_);
  remembered.repository = instance_;
  for (const auto& pool : pools_) {
    if (pool->executor() == executor) {
      remembered.pool = pool;
      co_return pool;
    }
  }
  pools_.push_back(std::make_shared<LoopPool>(executor, options_));
  remembered.pool = pools_.back();
  co_return pools_.back();
}

StorageState MysqlRepository::state() const {
  StorageState total;
  std::lock_guard lock(mutex_);
  for (const auto& pool : pools_) {
    const auto state = pool->state();
    total.in_use += state.in_use;
    total.idle += state.idle;
    total.waiting += state.waiting;
  }
  return total;
}

// The query lambdas capture by reference: each is awaited before the frame
// holding what it refers to can end.
asio::awaitable<std::optional<Pokemon>> MysqlRepository::find_pokemon(int id, Language language) {
  co_return co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<std::optional<Pokemon>> {
    auto& statement = c.statements().find;
    statement.bind(id, tag(language));
    co_await c.execute(statement, options_.query_timeout);
    if (!statement.next()) co_return std::nullopt;
    co_return rows::read_pokemon(statement);
  });
}

asio::awaitable<Listing> MysqlRepository::search_by_name(std::string name_prefix, Language language, Page page) {
  const std::string pattern = queries::like_prefix_pattern(name_prefix);
  co_return co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<Listing> {
    auto& statement = c.statements().search;
    statement.bind(tag(language), std::string_view(pattern), page.limit + 1, page.offset);
    co_await c.execute(statement, options_.query_timeout);
    co_return rows::read_listing(statement, page);
  });
}

asio::awaitable<std::optional<Listing>> MysqlRepository::list_by_type(std::string type_slug, Language language,
                                                                     Page page) {
  co_return co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<std::optional<Listing>> {
    auto& exists = c.statements().type_exists;
    exists.bind(std::string_view(type_slug));
    co_await c.execute(exists, options_.query_timeout);
    if (!exists.next()) co_return std::nullopt;
    auto& statement = c.statements().by_type;
    statement.bind(tag(language), std::string_view(type_slug), std::string_view(type_slug), page.limit + 1,
                   page.offset);
    co_await c.execute(statement, options_.query_timeout);
    co_return rows::read_listing(statement, page);
  });
}

asio::awaitable<std::optional<Listing>> MysqlRepository::list_by_generation(int generation, Language language,
                                                                           Page page) {
  co_return co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<std::optional<Listing>> {
    auto& exists = c.statements().generation_exists;
    exists.bind(generation);
    co_await c.execute(exists, options_.query_timeout);
    if (!exists.next()) co_return std::nullopt;
    auto& statement = c.statements().by_generation;
    statement.bind(tag(language), generation, page.limit + 1, page.offset);
    co_await c.execute(statement, options_.query_timeout);
    co_return rows::read_listing(statement, page);
  });
}

asio::awaitable<int> MysqlRepository::max_pokemon_id() {
  co_return co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<int> {
    auto& statement = c.statements().max_id;
    statement.bind();
    co_await c.execute(statement, options_.query_timeout);
    co_return statement.next() ? statement.integer(0) : 0;
  });
}

asio::awaitable<void> MysqlRepository::ping() {
  co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<bool> {
    auto& statement = c.statements().ping;
    statement.bind();
    co_await c.execute(statement, options_.query_timeout);
    if (!statement.next()) throw StorageUnavailable("database answered no row to a ping");
    co_return true;
  });
}

}  // namespace pokedex
