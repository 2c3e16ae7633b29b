#pragma once
#include "connection.hpp"

#include <boost/asio/steady_timer.hpp>
#include <pokedex/repository.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

namespace storage::mysql {

// The connections of one event loop. Touched only from that loop's thread,
// except the counters, which metrics read from anywhere.
class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  ConnectionPool(boost::asio::any_io_executor executor, MysqlOptions options)
      : executor_(std::move(executor)), options_(std::move(options)), sweeper_(executor_) {}

  const boost::asio::any_io_executor& executor() const { return executor_; }

  // A connection borrowed from the pool, returned when the lease ends.
  class Lease {
   public:
    Lease(std::shared_ptr<ConnectionPool> pool, Connection* connection)
        : pool_(std::move(pool)), connection_(connection) {}
    Lease(Lease&& other) noexcept
        : pool_(std::move(other.pool_)), connection_(std::exchange(other.connection_, nullptr)) {}
    Lease& operator=(Lease&&) = delete;
    // bugprone-exception-escape sees the throw in steady_timer::cancel(), which release() calls; a waitable
    // timer's cancel never fails, and a throw would end the process as from any destructor.
    // NOLINTNEXTLINE(bugprone-exception-escape)
    ~Lease() {
      if (connection_) pool_->release(connection_);
    }
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_; }

   private:
    std::shared_ptr<ConnectionPool> pool_;
    Connection* connection_;
  };

  // An idle connection, a new one while the pool is below its size, or the
  // next one released within options.max_wait; throws StorageUnavailable
  // when the queue is full or the wait runs out.
  boost::asio::awaitable<Lease> acquire();

  // Connects a leased connection if it is not, respecting the shared backoff.
  boost::asio::awaitable<void> ensure_connected(Connection& connection);

  pokedex::StorageState state() const;

 private:
  struct Waiter {
    boost::asio::steady_timer timer;
    Connection* connection;
  };

  Lease take(Connection* connection);
  void release(Connection* connection);
  static boost::asio::awaitable<void> sweep(std::shared_ptr<ConnectionPool> self);

  boost::asio::any_io_executor executor_;
  const MysqlOptions options_;  // a copy: leases may keep the pool past its repository
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> idle_;
  std::deque<Waiter*> waiters_;
  boost::asio::steady_timer sweeper_;
  bool sweeping_ = false;
  Clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
  std::atomic<std::size_t> in_use_{0};
  std::atomic<std::size_t> waiting_{0};
};

}  // namespace storage::mysql
