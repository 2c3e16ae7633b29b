#include "storage/store_pool.hpp"

#include <spdlog/spdlog.h>

namespace storage {

using pokedex::StorageState;
using pokedex::StorageUnavailable;

StorePool::StorePool(StoreFactory factory, StorePoolOptions options) : factory_(std::move(factory)), options_(options) {
  workers_.reserve(options_.connections);
  for (std::size_t i = 0; i < options_.connections; ++i) workers_.emplace_back([this, i] { work(i); });
}

StorePool::~StorePool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void StorePool::submit(std::unique_ptr<Task> task) {
  {
    std::unique_lock lock(mutex_);
    if (queue_.size() < options_.max_waiting && !stopping_) {
      queue_.push_back(std::move(task));
      lock.unlock();
      ready_.notify_one();
      return;
    }
  }
  task->run(nullptr, std::make_exception_ptr(StorageUnavailable("database call queue is full")));
}

void StorePool::work(std::size_t index) {
  std::unique_ptr<pokedex::PokedexStore> store;
  try {
    store = factory_();
  } catch (const std::exception& error) {
    spdlog::error("database worker {} could not open its store: {}", index, error.what());
  }
  for (;;) {
    std::unique_ptr<Task> task;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to answer
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    std::exception_ptr refused;
    if (!store)
      refused = std::make_exception_ptr(StorageUnavailable("database worker has no store"));
    else if (std::chrono::steady_clock::now() - task->queued_at > options_.max_wait)
      refused = std::make_exception_ptr(StorageUnavailable("database call waited too long in the queue"));
    in_use_.fetch_add(1, std::memory_order_relaxed);
    task->run(store.get(), refused);
    in_use_.fetch_sub(1, std::memory_order_relaxed);
  }
}

StorageState StorePool::state() const {
  StorageState state;
  state.in_use = in_use_.load(std::memory_order_relaxed);
  state.idle = workers_.size() - std::min(state.in_use, workers_.size());
  std::lock_guard lock(mutex_);
  state.waiting = queue_.size();
  return state;
}

}  // namespace storage
