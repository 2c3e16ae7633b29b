#include "connection.hpp"

#include "errors.hpp"

#include <boost/asio/steady_timer.hpp>
#include <pokedex/queries.hpp>

#include <bit>
#include <cstring>
#include <string>

namespace storage::mysql {

namespace asio = boost::asio;
namespace queries = pokedex::queries;
using pokedex::StorageUnavailable;

Connection::Statements::Statements(MYSQL* mysql)
    : find(mysql),
      search(mysql),
      by_type(mysql),
      by_generation(mysql),
      type_exists(mysql),
      generation_exists(mysql),
      max_id(mysql),
      ping(mysql) {}

std::array<std::pair<Statement*, const char*>, 8> Connection::Statements::all() {
  return {{{&find, queries::find_pokemon},
           {&search, queries::search_by_name},
           {&by_type, queries::list_by_type},
           {&by_generation, queries::list_by_generation},
           {&type_exists, queries::type_exists},
           {&generation_exists, queries::generation_exists},
           {&max_id, queries::max_pokemon_id},
           {&ping, queries::ping}}};
}

template <class Start, class Continue>
asio::awaitable<void> Connection::drive(Start start, Continue resume) {
  int status = start();
  while (status != 0) status = resume(co_await wait(status));
}

asio::awaitable<void> Connection::connect(const MysqlOptions& options) {
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
                               std::to_string(connector().mysql_errno(mysql_)) +
                               "): " + connector().mysql_error(mysql_));
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

asio::awaitable<void> Connection::execute(Statement& statement, std::chrono::milliseconds timeout) {
  deadline_ = Clock::now() + timeout;
  int failed = 0;
  co_await drive([&] { return connector().mysql_stmt_execute_start(&failed, statement.handle()); },
                 [&](int ready) { return connector().mysql_stmt_execute_cont(&failed, statement.handle(), ready); });
  if (failed != 0) statement.check_failed("execute");
  co_await drive([&] { return connector().mysql_stmt_store_result_start(&failed, statement.handle()); },
                 [&](int ready) {
                   return connector().mysql_stmt_store_result_cont(&failed, statement.handle(), ready);
                 });
  if (failed != 0) statement.check_failed("store_result");
  deadline_ = Clock::time_point::max();
}

asio::awaitable<Statement*> Connection::find_batch(std::size_t capacity, const std::string& sql,
                                                   std::chrono::milliseconds timeout) {
  const auto index = static_cast<std::size_t>(std::countr_zero(capacity)) - 1;
  auto& batches = statements_->find_batches;
  if (batches.size() <= index) batches.resize(index + 1);
  if (!batches[index]) {
    auto statement = std::make_unique<Statement>(mysql_);
    deadline_ = Clock::now() + timeout;
    try {
      co_await prepare(*statement, sql.c_str());
    } catch (...) {
      deadline_ = Clock::time_point::max();
      throw;
    }
    deadline_ = Clock::time_point::max();
    batches[index] = std::move(statement);
  }
  co_return batches[index].get();
}

void Connection::enforce_deadline(Clock::time_point now) {
  if (now < deadline_ || !socket_) return;
  timed_out_ = true;
  boost::system::error_code ignored;
  socket_->cancel(ignored);
}

void Connection::close() {
  statements_.reset();
  if (socket_) {
    socket_->release();  // the descriptor belongs to Connector/C, which closes it
    socket_.reset();
  }
  if (mysql_) connector().mysql_close(mysql_);
  mysql_ = nullptr;
  timed_out_ = false;
}

asio::awaitable<void> Connection::prepare(Statement& statement, const char* sql) {
  int failed = 0;
  co_await drive(
      [&] { return connector().mysql_stmt_prepare_start(&failed, statement.handle(), sql, std::strlen(sql)); },
      [&](int ready) { return connector().mysql_stmt_prepare_cont(&failed, statement.handle(), ready); });
  if (failed != 0) statement.check_failed("prepare");
  statement.bind_results();
}

// Waits for what Connector/C asked for and returns what happened.
asio::awaitable<int> Connection::wait(int status) {
  if (!socket_) socket_.emplace(executor_, connector().mysql_get_socket(mysql_));
  if ((status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE)) != 0) {
    const bool want_write = (status & MYSQL_WAIT_WRITE) != 0;
    auto [error] = co_await socket_->async_wait(want_write ? asio::posix::descriptor_base::wait_write
                                                           : asio::posix::descriptor_base::wait_read,
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

}  // namespace storage::mysql
