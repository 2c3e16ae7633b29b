#include "lookup_batches.hpp"

#include "connection_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <pokedex/queries.hpp>
#include <pokedex/row_mapping.hpp>

#include <algorithm>
#include <bit>
#include <type_traits>
#include <utility>

namespace storage::mysql {

namespace asio = boost::asio;
using pokedex::Language;
using pokedex::LookupObserver;
using pokedex::Pokemon;
using pokedex::StorageUnavailable;

namespace {

// The lookups' ids, sorted, each once.
template <class Lookups>
std::vector<int> distinct_ids(const Lookups& lookups) {
  std::vector<int> ids;
  ids.reserve(lookups.size());
  for (const auto& lookup : lookups) ids.push_back(lookup->id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

// The first observed lookup, which is told of the query, and the other observed ones.
template <class Lookups>
std::pair<LookupObserver*, std::vector<LookupObserver*>> observers(const Lookups& lookups) {
  std::pair<LookupObserver*, std::vector<LookupObserver*>> found{nullptr, {}};
  for (const auto& lookup : lookups) {
    if (!lookup->observer) continue;
    if (found.first)
      found.second.push_back(lookup->observer);
    else
      found.first = lookup->observer;
  }
  return found;
}

// Each stored row into found[i], where ids[i] is the row's id.
void read_rows(Statement& statement, const std::vector<int>& ids, std::vector<std::optional<Pokemon>>& found) {
  while (statement.next()) {
    auto pokemon = pokedex::rows::read_pokemon(statement);
    const auto at = std::lower_bound(ids.begin(), ids.end(), pokemon.id);
    if (at != ids.end() && *at == pokemon.id) found[static_cast<std::size_t>(at - ids.begin())] = std::move(pokemon);
  }
}

// Hands each lookup its row (or the failure) and wakes it.
template <class Lookups>
void answer(const Lookups& lookups, const std::vector<int>& ids, const std::vector<std::optional<Pokemon>>& found,
            const std::exception_ptr& failure) {
  for (const auto& lookup : lookups) {
    if (failure) {
      lookup->error = failure;
    } else {
      const auto at = std::lower_bound(ids.begin(), ids.end(), lookup->id);
      lookup->result = found[static_cast<std::size_t>(at - ids.begin())];
    }
    lookup->state = std::decay_t<decltype(*lookup)>::State::done;
    lookup->timer.cancel();
  }
}

}  // namespace

asio::awaitable<std::optional<Pokemon>> LookupBatches::find(std::shared_ptr<ConnectionPool> pool, int id,
                                                            Language language, LookupObserver* observer) {
  LookupBatches& self = pool->lookups();
  const std::size_t max_batch = self.options_.max_lookup_batch;
  if (max_batch <= 1) co_return co_await find_alone(std::move(pool), id, language, observer);
  if (pool->queue_full()) throw StorageUnavailable("database call queue is full");
  auto open = std::find_if(self.open_.begin(), self.open_.end(), [&](const auto& batch) {
    return batch->language == language && batch->lookups.size() < max_batch;
  });
  const bool opens = open == self.open_.end();
  const std::shared_ptr<Batch> batch = opens ? self.open_.emplace_back(std::make_shared<Batch>(Batch{language, {}}))
                                             : *open;
  auto lookup = std::make_shared<Lookup>(id, observer, asio::steady_timer(pool->executor(), self.options_.max_wait));
  batch->lookups.push_back(lookup);
  pool->add_waiting(1);
  // Started once the batch holds its first lookup: co_spawn may run it at once.
  if (opens) asio::co_spawn(pool->executor(), run_batch(pool, batch), asio::detached);
  while (lookup->state != Lookup::State::done) {
    auto [error] = co_await lookup->timer.async_wait(use_tuple);
    if (lookup->state == Lookup::State::queued && !error) {  // its deadline, not an answer
      std::erase(batch->lookups, lookup);
      pool->remove_waiting(1);
      throw StorageUnavailable("database call waited too long for a connection");
    }
    // Running: the query's own deadline bounds the rest of the wait.
    if (lookup->state == Lookup::State::running) lookup->timer.expires_at(Clock::time_point::max());
  }
  if (lookup->error) std::rethrow_exception(lookup->error);
  co_return std::move(lookup->result);
}

asio::awaitable<std::optional<Pokemon>> LookupBatches::find_alone(std::shared_ptr<ConnectionPool> pool, int id,
                                                                  Language language, LookupObserver* observer) {
  if (observer) observer->query_started({1, pokedex::queries::find_pokemon}, {});
  const auto timeout = pool->options().query_timeout;
  try {
    auto found = co_await mysql::run(pool, [&](Connection& c) -> asio::awaitable<std::optional<Pokemon>> {
      auto& statement = c.statements().find;
      statement.bind(id, tag(language));
      co_await c.execute(statement, timeout);
      if (!statement.next()) co_return std::nullopt;
      co_return pokedex::rows::read_pokemon(statement);
    });
    if (observer) observer->query_ended(nullptr);
    co_return found;
  } catch (const std::exception& error) {
    if (observer) observer->query_ended(&error);
    throw;
  }
}

asio::awaitable<void> LookupBatches::run_batch(std::shared_ptr<ConnectionPool> pool, std::shared_ptr<Batch> batch) {
  LookupBatches& self = pool->lookups();
  // Lookups whose requests arrived in this turn of the event loop join
  // before the batch asks for a connection.
  co_await asio::post(pool->executor(), asio::use_awaitable);
  std::optional<ConnectionPool::Lease> lease;
  while (!lease && !batch->lookups.empty()) {
    try {
      lease.emplace(co_await pool->acquire_for_batch());
    } catch (const StorageUnavailable&) {
      // Waited options.max_wait: the lookups that joined first have left at
      // their deadlines; the batch waits on for the rest.
    }
  }
  self.close(*batch);
  const auto lookups = std::move(batch->lookups);
  if (lookups.empty()) co_return;
  pool->remove_waiting(lookups.size());
  for (const auto& lookup : lookups) lookup->state = Lookup::State::running;

  const std::vector<int> ids = distinct_ids(lookups);
  // One statement per power of two, the ids padded with the last one (the
  // server reads a repeated id once): a handful of statements per connection
  // instead of one per batch size.
  const std::size_t capacity = ids.size() == 1 ? 1 : std::bit_ceil(ids.size());
  const std::string_view sql = capacity == 1 ? std::string_view(pokedex::queries::find_pokemon)
                                             : std::string_view(self.batch_sql(capacity));
  std::vector<int> parameters(ids);
  parameters.resize(capacity, ids.back());

  const auto [first, others] = observers(lookups);
  if (first) first->query_started({lookups.size(), sql}, others);

  std::vector<std::optional<Pokemon>> found(ids.size());
  const auto timeout = pool->options().query_timeout;
  auto lookup_all = [&](Connection& c) -> asio::awaitable<bool> {
    Statement* statement = &c.statements().find;
    if (capacity == 1) {
      statement->bind(ids[0], tag(batch->language));
    } else {
      statement = co_await c.find_batch(capacity, self.batch_sql(capacity), timeout);
      statement->bind_text_and_integers(tag(batch->language), parameters);
    }
    co_await c.execute(*statement, timeout);
    read_rows(*statement, ids, found);
    co_return true;
  };
  std::exception_ptr failure;
  try {
    co_await run_leased(*pool, *lease, lookup_all);
    if (first) first->query_ended(nullptr);
  } catch (const std::exception& error) {
    if (first) first->query_ended(&error);
    failure = std::current_exception();
  }
  answer(lookups, ids, found, failure);
}

const std::string& LookupBatches::batch_sql(std::size_t capacity) {
  const auto index = static_cast<std::size_t>(std::countr_zero(capacity)) - 1;
  if (batch_sql_.size() <= index) batch_sql_.resize(index + 1);
  if (batch_sql_[index].empty()) batch_sql_[index] = pokedex::queries::find_pokemon_batch(capacity);
  return batch_sql_[index];
}

void LookupBatches::close(const Batch& batch) {
  std::erase_if(open_, [&](const auto& open) { return open.get() == &batch; });
}

}  // namespace storage::mysql
