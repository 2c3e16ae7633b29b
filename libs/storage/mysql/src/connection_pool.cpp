#include "connection_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace storage::mysql {

namespace asio = boost::asio;
using pokedex::StorageState;
using pokedex::StorageUnavailable;

asio::awaitable<ConnectionPool::Lease> ConnectionPool::acquire() {
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
  if (queue_full()) throw StorageUnavailable("database call queue is full");
  co_return co_await wait_for_connection(true);
}

asio::awaitable<ConnectionPool::Lease> ConnectionPool::acquire_for_batch() {
  if (has_free_connection()) co_return co_await acquire();
  co_return co_await wait_for_connection(false);
}

asio::awaitable<ConnectionPool::Lease> ConnectionPool::wait_for_connection(bool counted) {
  Waiter waiter{asio::steady_timer(executor_, options_.max_wait), nullptr};
  waiters_.push_back(&waiter);
  if (counted) add_waiting(1);
  co_await waiter.timer.async_wait(use_tuple);
  if (counted) remove_waiting(1);
  if (!waiter.connection) {
    std::erase(waiters_, &waiter);
    throw StorageUnavailable("database call waited too long for a connection");
  }
  co_return Lease(shared_from_this(), waiter.connection);  // release() already counted it in use
}

asio::awaitable<void> ConnectionPool::ensure_connected(Connection& connection) {
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

StorageState ConnectionPool::state() const {
  StorageState state;
  state.in_use = in_use_.load(std::memory_order_relaxed);
  state.idle = options_.connections_per_loop - std::min(state.in_use, options_.connections_per_loop);
  state.waiting = waiting_.load(std::memory_order_relaxed);
  return state;
}

ConnectionPool::Lease ConnectionPool::take(Connection* connection) {
  in_use_.fetch_add(1, std::memory_order_relaxed);
  return {shared_from_this(), connection};
}

void ConnectionPool::release(Connection* connection) {
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
asio::awaitable<void> ConnectionPool::sweep(std::shared_ptr<ConnectionPool> self) {
  const auto period = std::clamp(self->options_.query_timeout / 10, std::chrono::milliseconds(10),
                                 std::chrono::milliseconds(250));
  for (;;) {
    self->sweeper_.expires_after(period);
    co_await self->sweeper_.async_wait(use_tuple);
    const auto now = Clock::now();
    for (const auto& connection : self->connections_) connection->enforce_deadline(now);
  }
}

}  // namespace storage::mysql
