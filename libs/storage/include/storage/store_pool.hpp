#pragma once
// Runs blocking store calls on a bounded set of worker threads, each owning
// one connection, so that the event loops never wait on the database.
#include <pokedex/repository.hpp>
#include <pokedex/store.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace storage {

struct StorePoolOptions {
  std::size_t connections = 4;
  std::size_t max_waiting = 1024;             // queued calls beyond this fail at once
  std::chrono::milliseconds max_wait{2'000};  // a call queued longer fails without running
};

class StorePool {
 public:
  using StoreFactory = std::function<std::unique_ptr<pokedex::PokedexStore>()>;

  // Each worker calls `factory` on its own thread when it starts.
  StorePool(StoreFactory factory, StorePoolOptions options);
  ~StorePool();
  StorePool(const StorePool&) = delete;
  StorePool& operator=(const StorePool&) = delete;

  // Awaits `call(store)` run on a worker; rethrows what it throws. Throws
  // StorageUnavailable at once when the queue is full.
  template <class Call>
  boost::asio::awaitable<std::invoke_result_t<Call&, pokedex::PokedexStore&>> run(Call call) {
    using Result = std::invoke_result_t<Call&, pokedex::PokedexStore&>;
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr, Result)>(
        [this](auto handler, Call pending_call) {
          auto task = std::make_unique<TaskFor<Call, decltype(handler)>>(std::move(pending_call), std::move(handler));
          submit(std::move(task));
        },
        boost::asio::use_awaitable, std::move(call));
  }

  pokedex::StorageState state() const;
  const StorePoolOptions& options() const { return options_; }

 private:
  struct Task {
    std::chrono::steady_clock::time_point queued_at = std::chrono::steady_clock::now();
    virtual ~Task() = default;
    virtual void run(pokedex::PokedexStore* store, std::exception_ptr refused) = 0;
  };

  template <class Call, class Handler>
  struct TaskFor final : Task {
    using Result = std::invoke_result_t<Call&, pokedex::PokedexStore&>;
    TaskFor(Call c, Handler h) : call(std::move(c)), handler(std::move(h)) {}

    void run(pokedex::PokedexStore* store, std::exception_ptr refused) override {
      std::exception_ptr error = refused;
      Result result{};
      if (!error) {
        try {
          result = call(*store);
        } catch (...) {
          error = std::current_exception();
        }
      }
      auto executor = boost::asio::get_associated_executor(handler);
      boost::asio::post(executor, [h = std::move(handler), error, r = std::move(result)]() mutable {
        std::move(h)(error, std::move(r));
      });
    }

    Call call;
    Handler handler;
  };

  void submit(std::unique_ptr<Task> task);
  void work(std::size_t index);

  StoreFactory factory_;
  StorePoolOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<Task>> queue_;
  bool stopping_ = false;
  std::atomic<std::size_t> in_use_{0};
  std::vector<std::thread> workers_;
};

}  // namespace storage
