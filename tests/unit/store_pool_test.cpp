#include "storage_test_support.hpp"

#include <storage/store_pool.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <future>

namespace {

using namespace std::chrono_literals;

// A store whose calls block until released, to hold workers busy.
class GateStore final : public storage_test::LookupOnlyStore {
 public:
  explicit GateStore(std::shared_future<void> gate) : gate_(std::move(gate)) {}
  std::optional<pokedex::Pokemon> find_pokemon(int id, pokedex::Language) override {
    gate_.wait();
    if (id < 0) throw pokedex::StorageUnavailable("negative");
    return pokemon_numbered(id);
  }

 private:
  std::shared_future<void> gate_;
};

struct Outcome {
  int id = -1;
  std::string error;
};

boost::asio::awaitable<void> lookup(storage::StorePool& pool, int id, Outcome& outcome) {
  try {
    auto found = co_await pool.run(
        [id](pokedex::PokedexStore& s) { return s.find_pokemon(id, pokedex::Language::en); });
    outcome.id = found->id;
  } catch (const pokedex::StorageUnavailable& error) {
    outcome.error = error.what();
  }
}

}  // namespace

TEST(StorePool, RunsCallsOnWorkersAndResumesOnTheCallersLoop) {
  std::promise<void> open;
  open.set_value();
  storage::StorePool pool([gate = open.get_future().share()] { return std::make_unique<GateStore>(gate); },
                          {.connections = 2, .max_waiting = 16, .max_wait = 5s});
  boost::asio::io_context loop;
  std::vector<Outcome> outcomes(10);
  for (int i = 0; i < 10; ++i) boost::asio::co_spawn(loop, lookup(pool, i, outcomes[i]), boost::asio::detached);
  loop.run();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(outcomes[i].id, i);
}

TEST(StorePool, PropagatesStoreErrors) {
  std::promise<void> open;
  open.set_value();
  storage::StorePool pool([gate = open.get_future().share()] { return std::make_unique<GateStore>(gate); }, {});
  boost::asio::io_context loop;
  Outcome outcome;
  boost::asio::co_spawn(loop, lookup(pool, -1, outcome), boost::asio::detached);
  loop.run();
  EXPECT_EQ(outcome.error, "negative");
}

TEST(StorePool, RefusesAtOnceWhenTheQueueIsFull) {
  std::promise<void> gate;
  storage::StorePool pool([g = gate.get_future().share()] { return std::make_unique<GateStore>(g); },
                          {.connections = 1, .max_waiting = 2, .max_wait = 5s});
  boost::asio::io_context loop;
  std::vector<Outcome> outcomes(5);
  boost::asio::co_spawn(loop, lookup(pool, 0, outcomes[0]), boost::asio::detached);
  const auto give_up = std::chrono::steady_clock::now() + 30s;  // a bound on the wait, not a timing
  while (pool.state().in_use == 0 && std::chrono::steady_clock::now() < give_up) {
    loop.poll();
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(pool.state().in_use, 1u);
  // One call runs (blocked on the gate), two wait, the rest are refused.
  for (int i = 1; i < 5; ++i) boost::asio::co_spawn(loop, lookup(pool, i, outcomes[i]), boost::asio::detached);
  loop.poll();
  EXPECT_EQ(pool.state().waiting, 2u);
  gate.set_value();
  loop.run();
  const auto refused = std::count_if(outcomes.begin(), outcomes.end(),
                                     [](auto& o) { return o.error == "database call queue is full"; });
  const auto answered = std::count_if(outcomes.begin(), outcomes.end(), [](auto& o) { return o.id >= 0; });
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(answered, 3);
}

TEST(StorePool, CallsThatWaitedTooLongFailWithoutRunning) {
  // A second of queueing allowed: only the second call, held back for
  // longer than that (a lower bound on the time, true on any machine), may
  // wait too long; the first one reaches the worker well within it.
  std::promise<void> gate;
  storage::StorePool pool([g = gate.get_future().share()] { return std::make_unique<GateStore>(g); },
                          {.connections = 1, .max_waiting = 8, .max_wait = 1s});
  boost::asio::io_context loop;
  std::vector<Outcome> outcomes(2);
  boost::asio::co_spawn(loop, lookup(pool, 0, outcomes[0]), boost::asio::detached);
  const auto give_up = std::chrono::steady_clock::now() + 30s;  // a bound on the wait, not a timing
  while (pool.state().in_use == 0 && std::chrono::steady_clock::now() < give_up) {
    loop.poll();
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(pool.state().in_use, 1u);  // the first call runs, blocked on the gate
  boost::asio::co_spawn(loop, lookup(pool, 1, outcomes[1]), boost::asio::detached);
  const auto held_until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < held_until) {
    loop.poll();
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(pool.state().waiting, 1u);
  gate.set_value();
  loop.run();
  EXPECT_EQ(outcomes[0].id, 0);
  EXPECT_EQ(outcomes[1].id, -1);
  EXPECT_EQ(outcomes[1].error, "database call waited too long in the queue");
}

TEST(StorePool, AWorkerWithoutAStoreAnswersUnavailable) {
  storage::StorePool pool(
      []() -> std::unique_ptr<pokedex::PokedexStore> { throw pokedex::StorageUnavailable("cannot open"); },
      {.connections = 1});
  boost::asio::io_context loop;
  Outcome outcome;
  boost::asio::co_spawn(loop, lookup(pool, 1, outcome), boost::asio::detached);
  loop.run();
  EXPECT_EQ(outcome.error, "database worker has no store");
}
