#pragma once
#include "connection.hpp"
#include "errors.hpp"
#include "lookup_batches.hpp"

#include <boost/asio/steady_timer.hpp>
#include <pokedex/repository.hpp>
#include <spdlog/spdlog.h>

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
      : executor_(std::move(executor)), options_(std::move(options)), sweeper_(executor_), lookups_(options_) {}

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

  // The same for a batch of lookups: its lookups, not the batch, count as
  // waiting calls (see add_waiting), so the queue is never full for it.
  boost::asio::awaitable<Lease> acquire_for_batch();

  // Whether acquire() would get a connection without waiting.
  bool has_free_connection() const { return !idle_.empty() || connections_.size() < options_.connections_per_loop; }
  // Calls waiting for a connection elsewhere than in acquire() (lookups in a
  // batch) count towards options.max_waiting and the waiting gauge.
  bool queue_full() const { return waiting_.load(std::memory_order_relaxed) >= options_.max_waiting; }
  void add_waiting(std::size_t calls) { waiting_.fetch_add(calls, std::memory_order_relaxed); }
  void remove_waiting(std::size_t calls) { waiting_.fetch_sub(calls, std::memory_order_relaxed); }

  const MysqlOptions& options() const { return options_; }
  LookupBatches& lookups() { return lookups_; }

  // Connects a leased connection if it is not, respecting the shared backoff.
  boost::asio::awaitable<void> ensure_connected(Connection& connection);

  pokedex::StorageState state() const;

 private:
  struct Waiter {
    boost::asio::steady_timer timer;
    Connection* connection;
  };

  boost::asio::awaitable<Lease> wait_for_connection(bool counted);
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
  LookupBatches lookups_;
};

// Runs `query` on a leased connection, connecting it first. A connection
// found lost (a restarted server, a killed session) is rebuilt and the query
// retried once: pooled connections all break together, and the first request
// on each should not fail for it. A query past its deadline is not retried.
template <class Query>
auto run_leased(ConnectionPool& pool, ConnectionPool::Lease& lease, Query& query)
    -> boost::asio::awaitable<typename decltype(query(std::declval<Connection&>()))::value_type> {
  try {
    co_await pool.ensure_connected(*lease);
    co_return co_await query(*lease);
  } catch (const ConnectionLost& error) {
    spdlog::warn("database connection lost: {}; reconnecting", error.what());
    lease->close();
  } catch (const DeadlineExceeded&) {
    lease->close();
    throw;
  }
  try {
    co_await pool.ensure_connected(*lease);
    co_return co_await query(*lease);
  } catch (const pokedex::StorageUnavailable&) {
    lease->close();
    throw;
  }
}

// run_leased on a connection acquired for it.
template <class Query>
auto run(std::shared_ptr<ConnectionPool> pool, Query query)
    -> boost::asio::awaitable<typename decltype(query(std::declval<Connection&>()))::value_type> {
  auto lease = co_await pool->acquire();
  co_return co_await run_leased(*pool, lease, query);
}

}  // namespace storage::mysql
