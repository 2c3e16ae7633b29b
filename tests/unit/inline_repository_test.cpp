#include "storage_test_support.hpp"

#include <storage/inline_repository.hpp>
#include <storage/open_repository.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

// A store that records the threads it is opened and called on; ids below
// zero throw StorageUnavailable, and `during_call` runs inside every call.
class ThreadRecordingStore final : public storage_test::LookupOnlyStore {
 public:
  explicit ThreadRecordingStore(std::function<void()> during_call = {})
      : opened_on_(std::this_thread::get_id()), during_call_(std::move(during_call)) {}

  std::optional<pokedex::Pokemon> find_pokemon(int id, pokedex::Language) override {
    if (std::this_thread::get_id() != opened_on_) calls_from_other_threads_.fetch_add(1);
    if (during_call_) during_call_();
    if (id < 0) throw pokedex::StorageUnavailable("no such row, and no database either");
    return pokemon_numbered(id);
  }

  static inline std::atomic<int> calls_from_other_threads_{0};

 private:
  std::thread::id opened_on_;
  std::function<void()> during_call_;
};

using storage_test::run;

}  // namespace

TEST(InlineRepository, EachEventLoopThreadQueriesAStoreOfItsOwn) {
  constexpr int loops = 4;
  constexpr int lookups_per_loop = 50;
  std::mutex mutex;
  std::set<std::thread::id> opened_on;
  ThreadRecordingStore::calls_from_other_threads_ = 0;
  storage::InlineRepository repository([&] {
    std::lock_guard lock(mutex);
    EXPECT_TRUE(opened_on.insert(std::this_thread::get_id()).second) << "a thread opened a second store";
    return std::make_unique<ThreadRecordingStore>();
  });

  // Every loop starts its lookups at once, so the threads open their stores
  // and query them concurrently.
  std::barrier start(loops);
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < loops; ++t) {
    threads.emplace_back([&, t] {
      boost::asio::io_context loop;
      for (int i = 0; i < lookups_per_loop; ++i) {
        const int id = t * 1000 + i;
        boost::asio::co_spawn(
            loop,
            [&repository, &answered, id]() -> boost::asio::awaitable<void> {
              const auto found = co_await repository.find_pokemon(id, pokedex::Language::en);
              if (found && found->id == id) answered.fetch_add(1);
            },
            boost::asio::detached);
      }
      start.arrive_and_wait();
      loop.run();
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(answered.load(), loops * lookups_per_loop);
  EXPECT_EQ(opened_on.size(), static_cast<std::size_t>(loops));
  EXPECT_EQ(ThreadRecordingStore::calls_from_other_threads_.load(), 0);
  const auto state = repository.state();
  EXPECT_EQ(state.idle, static_cast<std::size_t>(loops));
  EXPECT_EQ(state.in_use, 0u);
  EXPECT_EQ(state.waiting, 0u);
}

TEST(InlineRepository, AStoreRunningACallCountsAsInUse) {
  pokedex::StorageState during{};
  storage::InlineRepository* self = nullptr;
  storage::InlineRepository repository(
      [&] { return std::make_unique<ThreadRecordingStore>([&] { during = self->state(); }); });
  self = &repository;
  EXPECT_EQ(repository.state().idle, 0u);  // nothing opened before the first call
  ASSERT_TRUE(run(repository.find_pokemon(25, pokedex::Language::en)));
  EXPECT_EQ(during.in_use, 1u);
  EXPECT_EQ(during.idle, 0u);
  EXPECT_EQ(repository.state().in_use, 0u);
  EXPECT_EQ(repository.state().idle, 1u);
}

TEST(InlineRepository, StoreErrorsReachTheCallerAsTheStoreThrewThem) {
  int opened = 0;
  storage::InlineRepository repository([&] {
    ++opened;
    return std::make_unique<ThreadRecordingStore>();
  });
  try {
    run(repository.find_pokemon(-1, pokedex::Language::en));
    FAIL() << "no exception";
  } catch (const pokedex::StorageUnavailable& error) {
    EXPECT_STREQ(error.what(), "no such row, and no database either");
  }
  EXPECT_EQ(repository.state().in_use, 0u);  // the failed call gave its store back
  EXPECT_EQ(repository.state().idle, 1u);    // and kept it: an error of one call is no broken store
  EXPECT_EQ(run(repository.max_pokemon_id()), 1025);
  EXPECT_EQ(opened, 1);
}

TEST(InlineRepository, AStoreThatCannotOpenIsUnavailableAndTriedAgainOnTheNextCall) {
  int attempts = 0;
  storage::InlineRepository repository([&]() -> std::unique_ptr<pokedex::PokedexStore> {
    if (++attempts == 1) throw std::runtime_error("disk on fire");
    return std::make_unique<ThreadRecordingStore>();
  });
  try {
    run(repository.ping());
    FAIL() << "no exception";
  } catch (const pokedex::StorageUnavailable& error) {
    EXPECT_NE(std::string(error.what()).find("disk on fire"), std::string::npos);
  }
  EXPECT_EQ(repository.state().idle, 0u);
  EXPECT_NO_THROW(run(repository.ping()));
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(repository.state().idle, 1u);
}

TEST(InlineRepository, AThreadKeepsItsStoreAcrossRepositories) {
  // Two repositories used in turn from one thread: each opens one store for
  // it and finds it again, however the thread's memory of the last one used
  // changes hands.
  int opened_first = 0;
  int opened_second = 0;
  int calls_to_first = 0;
  int calls_to_second = 0;
  storage::InlineRepository first([&] {
    ++opened_first;
    return std::make_unique<ThreadRecordingStore>([&] { ++calls_to_first; });
  });
  storage::InlineRepository second([&] {
    ++opened_second;
    return std::make_unique<ThreadRecordingStore>([&] { ++calls_to_second; });
  });
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(run(first.find_pokemon(i, pokedex::Language::en)));
    EXPECT_TRUE(run(second.find_pokemon(i, pokedex::Language::en)));
  }
  EXPECT_EQ(opened_first, 1);
  EXPECT_EQ(opened_second, 1);
  // Each repository's calls reached its own store, never the other's.
  EXPECT_EQ(calls_to_first, 3);
  EXPECT_EQ(calls_to_second, 3);
}

TEST(InlineRepository, AFactoryReturningNoStoreIsUnavailableAndTriedAgain) {
  int attempts = 0;
  storage::InlineRepository repository([&]() -> std::unique_ptr<pokedex::PokedexStore> {
    if (++attempts == 1) return nullptr;
    return std::make_unique<ThreadRecordingStore>();
  });
  EXPECT_THROW(run(repository.find_pokemon(25, pokedex::Language::en)), pokedex::StorageUnavailable);
  EXPECT_EQ(repository.state().idle + repository.state().in_use, 0u);  // no slot without a store
  const auto found = run(repository.find_pokemon(25, pokedex::Language::en));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, 25);
  EXPECT_EQ(attempts, 2);
}

TEST(OpenRepository, AnInMemoryDatabaseIsQueriedOnTheCallersEventLoopByDefault) {
  const auto repository = storage::open_repository(storage::parse_database_url("sqlite::memory:"),
                                                   {.pool = {.connections = 3}});
  EXPECT_EQ(repository->state().idle, 0u);  // no worker threads: a connection per loop, opened on first use
  std::vector<std::thread> loops;
  for (int i = 0; i < 2; ++i)
    loops.emplace_back([&repository] {
      const auto pikachu = run(repository->find_pokemon(25, pokedex::Language::en));
      EXPECT_TRUE(pikachu && pikachu->name == "Pikachu");
      EXPECT_NO_THROW(run(repository->ping()));
    });
  for (auto& loop : loops) loop.join();
  EXPECT_EQ(repository->state().idle, 2u);
}

TEST(OpenRepository, SqliteExecutionIsParsedFromItsThreeNames) {
  using storage::SqliteExecution;
  EXPECT_EQ(storage::parse_sqlite_execution("auto"), SqliteExecution::automatic);
  EXPECT_EQ(storage::parse_sqlite_execution("event-loop"), SqliteExecution::event_loop);
  EXPECT_EQ(storage::parse_sqlite_execution("workers"), SqliteExecution::worker_pool);
  EXPECT_EQ(storage::parse_sqlite_execution("inline"), std::nullopt);
  EXPECT_EQ(storage::parse_sqlite_execution(""), std::nullopt);
}

namespace {

// Counts the read transactions it is asked to open and to end.
class TransactionCountingStore final : public storage_test::LookupOnlyStore {
 public:
  std::optional<pokedex::Pokemon> find_pokemon(int id, pokedex::Language) override {
    if (open_) ++calls_inside;
    return pokemon_numbered(id);
  }
  bool begin_read_transaction() override {
    ++begun;
    open_ = true;
    return true;
  }
  void end_read_transaction() override {
    ++ended;
    open_ = false;
  }

  int begun = 0;
  int ended = 0;
  int calls_inside = 0;

 private:
  bool open_ = false;
};

}  // namespace

TEST(InlineRepository, CallsShareOneReadTransactionThatTheLoopEndsAfterTheSetTime) {
  TransactionCountingStore* store = nullptr;
  storage::InlineRepository repository(
      [&] {
        auto opened = std::make_unique<TransactionCountingStore>();
        store = opened.get();
        return opened;
      },
      std::chrono::milliseconds(1));
  boost::asio::io_context loop;  // after the repository: its waits go before the slots they name
  const auto three_lookups = [&]() -> boost::asio::awaitable<void> {
    for (int id = 1; id <= 3; ++id) EXPECT_EQ((co_await repository.find_pokemon(id, pokedex::Language::en))->id, id);
  };
  boost::asio::co_spawn(loop, three_lookups(), boost::asio::detached);
  loop.run();  // returns once the transaction's end has run: nothing else is left to do
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->begun, 1);
  EXPECT_EQ(store->calls_inside, 3);
  EXPECT_EQ(store->ended, 1);

  loop.restart();
  boost::asio::co_spawn(loop, three_lookups(), boost::asio::detached);
  loop.run();
  EXPECT_EQ(store->begun, 2);
  EXPECT_EQ(store->calls_inside, 6);
  EXPECT_EQ(store->ended, 2);
}

TEST(InlineRepository, WithoutAReadTransactionTimeEachCallReadsOnItsOwn) {
  TransactionCountingStore* store = nullptr;
  storage::InlineRepository repository([&] {
    auto opened = std::make_unique<TransactionCountingStore>();
    store = opened.get();
    return opened;
  });
  EXPECT_EQ(run(repository.find_pokemon(7, pokedex::Language::en))->id, 7);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->begun, 0);
  EXPECT_EQ(store->calls_inside, 0);
}
