#pragma once
#include <pokedex/repository.hpp>
#include <pokedex/store.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace storage {

// A Repository over blocking stores whose calls run on the calling thread,
// inside the request's coroutine. Each event-loop thread opens a store of its
// own on its first call and keeps it, so a call neither waits for another
// thread nor takes a lock.
//
// For stores whose calls are short CPU work that never waits on I/O, such as
// the in-memory SQLite: a point query there takes microseconds, less than
// handing it to a worker thread and back. The price: a call holds its event
// loop for as long as it runs, and the loop's other connections wait
// meanwhile. Stores that can block (a file on a slow disk, a network server)
// belong on a StorePool.
class InlineRepository final : public pokedex::Repository {
 public:
  using Language = pokedex::Language;
  using Listing = pokedex::Listing;
  using Page = pokedex::Page;
  using StoreFactory = std::function<std::unique_ptr<pokedex::PokedexStore>()>;

  // `factory` is called on each thread's first call, on that thread. A store
  // that cannot be opened fails that call with StorageUnavailable; the next
  // call tries again.
  //
  // With a `read_transaction` above zero, a thread's calls share one read
  // transaction of its store (PokedexStore::begin_read_transaction) that a
  // timer on the thread's event loop ends that long after it began, busy or
  // idle; the next call begins another. The calls then skip taking and
  // releasing the database's read lock each time, and a writer of a file
  // database waits at most about that long for a loop's reads to let go.
  // Zero: each call reads in a transaction of its own.
  explicit InlineRepository(StoreFactory factory, std::chrono::milliseconds read_transaction = {});
  ~InlineRepository() override;
  InlineRepository(const InlineRepository&) = delete;
  InlineRepository& operator=(const InlineRepository&) = delete;

  boost::asio::awaitable<std::optional<pokedex::Pokemon>> find_pokemon(int id, Language language) override;
  boost::asio::awaitable<Listing> search_by_name(std::string name_prefix, Language language, Page page) override;
  boost::asio::awaitable<std::optional<Listing>> list_by_type(std::string type_slug, Language language,
                                                              Page page) override;
  boost::asio::awaitable<std::optional<Listing>> list_by_generation(int generation, Language language,
                                                                    Page page) override;
  boost::asio::awaitable<int> max_pokemon_id() override;
  boost::asio::awaitable<void> ping() override;

  // in_use: stores running a call now; idle: the other stores opened so far
  // (one per thread that has called); waiting: always 0, since calls never
  // queue for a store (a busy loop's requests wait in the loop instead).
  pokedex::StorageState state() const override;

 private:
  struct Slot;
  class Running;
  Slot& this_thread_slot();
  // The slot of this thread, inside the read transaction it shares if there is one.
  Slot& reading_slot(const boost::asio::any_io_executor& loop);

  StoreFactory factory_;
  const std::chrono::milliseconds read_transaction_;
  static std::atomic<std::uint64_t> instances_;
  const std::uint64_t instance_;  // never reused, unlike an address
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Slot>> slots_;  // one per thread that has called
};

}  // namespace storage
