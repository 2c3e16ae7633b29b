#include "storage/mysql/mysql_repository.hpp"

#include "connection_pool.hpp"
#include "errors.hpp"

#include <boost/asio/this_coro.hpp>
#include <pokedex/queries.hpp>
#include <pokedex/row_mapping.hpp>
#include <spdlog/spdlog.h>

namespace storage {

namespace asio = boost::asio;
using mysql::Connection;
using mysql::run;
using pokedex::Language;
using pokedex::Listing;
using pokedex::Page;
using pokedex::Pokemon;
using pokedex::StorageState;
using pokedex::StorageUnavailable;

std::atomic<std::uint64_t> MysqlRepository::instances_{0};

MysqlRepository::MysqlRepository(MysqlOptions options) : options_(std::move(options)), instance_(++instances_) {}
MysqlRepository::~MysqlRepository() = default;

asio::awaitable<std::shared_ptr<mysql::ConnectionPool>> MysqlRepository::current_pool() {
  const auto executor = co_await asio::this_coro::executor;
  // Each event-loop thread remembers its pool, so a query takes no lock; the
  // weak reference never keeps a pool past its repository.
  struct Remembered {
    std::uint64_t repository = 0;
    std::weak_ptr<mysql::ConnectionPool> pool;
  };
  thread_local Remembered remembered;
  if (remembered.repository == instance_)
    if (auto pool = remembered.pool.lock(); pool && pool->executor() == executor) co_return pool;
  std::lock_guard lock(mutex_);
  remembered.repository = instance_;
  for (const auto& pool : pools_) {
    if (pool->executor() == executor) {
      remembered.pool = pool;
      co_return pool;
    }
  }
  pools_.push_back(std::make_shared<mysql::ConnectionPool>(executor, options_));
  remembered.pool = pools_.back();
  co_return pools_.back();
}

StorageState MysqlRepository::state() const {
  StorageState total;
  std::lock_guard lock(mutex_);
  for (const auto& pool : pools_) {
    const auto state = pool->state();
    total.in_use += state.in_use;
    total.idle += state.idle;
    total.waiting += state.waiting;
  }
  return total;
}

// The query lambdas capture by reference: each is awaited before the frame
// holding what it refers to can end.
asio::awaitable<std::optional<Pokemon>> MysqlRepository::find_pokemon(int id, Language language) {
  co_return co_await mysql::LookupBatches::find(co_await current_pool(), id, language, nullptr);
}

asio::awaitable<std::optional<Pokemon>> MysqlRepository::find_pokemon_observed(int id, Language language,
                                                                               pokedex::LookupObserver& observer) {
  co_return co_await mysql::LookupBatches::find(co_await current_pool(), id, language, &observer);
}

asio::awaitable<Listing> MysqlRepository::search_by_name(std::string name_prefix, Language language, Page page) {
  const std::string pattern = pokedex::queries::like_prefix_pattern(name_prefix);
  co_return co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<Listing> {
    auto& statement = c.statements().search;
    statement.bind(tag(language), std::string_view(pattern), page.limit + 1, page.offset);
    co_await c.execute(statement, options_.query_timeout);
    co_return pokedex::rows::read_listing(statement, page);
  });
}

asio::awaitable<std::optional<Listing>> MysqlRepository::list_by_type(std::string type_slug, Language language,
                                                                      Page page) {
  co_return co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<std::optional<Listing>> {
    auto& exists = c.statements().type_exists;
    exists.bind(std::string_view(type_slug));
    co_await c.execute(exists, options_.query_timeout);
    if (!exists.next()) co_return std::nullopt;
    auto& statement = c.statements().by_type;
    statement.bind(tag(language), std::string_view(type_slug), std::string_view(type_slug), page.limit + 1,
                   page.offset);
    co_await c.execute(statement, options_.query_timeout);
    co_return pokedex::rows::read_listing(statement, page);
  });
}

asio::awaitable<std::optional<Listing>> MysqlRepository::list_by_generation(int generation, Language language,
                                                                            Page page) {
  co_return co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<std::optional<Listing>> {
    auto& exists = c.statements().generation_exists;
    exists.bind(generation);
    co_await c.execute(exists, options_.query_timeout);
    if (!exists.next()) co_return std::nullopt;
    auto& statement = c.statements().by_generation;
    statement.bind(tag(language), generation, page.limit + 1, page.offset);
    co_await c.execute(statement, options_.query_timeout);
    co_return pokedex::rows::read_listing(statement, page);
  });
}

asio::awaitable<int> MysqlRepository::max_pokemon_id() {
  co_return co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<int> {
    auto& statement = c.statements().max_id;
    statement.bind();
    co_await c.execute(statement, options_.query_timeout);
    co_return statement.next() ? statement.integer(0) : 0;
  });
}

asio::awaitable<void> MysqlRepository::ping() {
  co_await run(co_await current_pool(), [&](Connection& c) -> asio::awaitable<bool> {
    auto& statement = c.statements().ping;
    statement.bind();
    co_await c.execute(statement, options_.query_timeout);
    if (!statement.next()) throw StorageUnavailable("database answered no row to a ping");
    co_return true;
  });
}

}  // namespace storage
