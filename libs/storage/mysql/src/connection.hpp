#pragma once
#include "statement.hpp"
#include "storage/mysql/mysql_repository.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace storage::mysql {

using Clock = std::chrono::steady_clock;
// Completion token: an awaited operation returns its error code instead of throwing it.
inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// One non-blocking connection and its prepared statements. Every network step
// is a Connector/C *_start/*_cont pair; between them the coroutine waits for
// the socket on the event loop.
class Connection {
 public:
  explicit Connection(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const { return statements_ != nullptr; }

  // Connects and prepares every statement within options.connect_timeout.
  boost::asio::awaitable<void> connect(const MysqlOptions& options);

  // Executes a bound statement and stores its whole result client-side,
  // where statement.next() reads it.
  boost::asio::awaitable<void> execute(Statement& statement, std::chrono::milliseconds timeout);

  // The find_pokemon_batch statement for `capacity` ids (a power of two
  // from 2), prepared from `sql` on first use and kept with the others.
  boost::asio::awaitable<Statement*> find_batch(std::size_t capacity, const std::string& sql,
                                                std::chrono::milliseconds timeout);

  // Called by the pool's sweeper: a connection past its deadline stops waiting.
  void enforce_deadline(Clock::time_point now);

  void close();

  // The queries of pokedex::queries, prepared on this connection.
  struct Statements {
    explicit Statements(MYSQL* mysql);
    std::array<std::pair<Statement*, const char*>, 8> all();
    Statement find, search, by_type, by_generation, type_exists, generation_exists, max_id, ping;
    std::vector<std::unique_ptr<Statement>> find_batches;  // [i]: for 2 << i ids
  };
  Statements& statements() { return *statements_; }

 private:
  boost::asio::awaitable<void> prepare(Statement& statement, const char* sql);
  template <class Start, class Continue>
  boost::asio::awaitable<void> drive(Start start, Continue resume);
  boost::asio::awaitable<int> wait(int status);

  boost::asio::any_io_executor executor_;
  MYSQL* mysql_ = nullptr;
  std::optional<boost::asio::posix::stream_descriptor> socket_;  // watches Connector/C's socket
  std::unique_ptr<Statements> statements_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
};

}  // namespace storage::mysql
