#include "storage/inline_repository.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <memory>
#include <thread>

namespace storage {

using pokedex::StorageState;
using pokedex::StorageUnavailable;

struct InlineRepository::Slot {
  std::thread::id thread;
  std::unique_ptr<pokedex::PokedexStore> store;
  std::atomic<bool> running{false};  // written by its thread, read by state()
  bool reading = false;              // a shared read transaction is open
};

// Marks the slot's store busy for one call.
class InlineRepository::Running {
 public:
  explicit Running(Slot& slot) : slot_(slot) { slot_.running.store(true, std::memory_order_relaxed); }
  ~Running() { slot_.running.store(false, std::memory_order_relaxed); }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;
  pokedex::PokedexStore& store() const { return *slot_.store; }

 private:
  Slot& slot_;
};

std::atomic<std::uint64_t> InlineRepository::instances_{0};

InlineRepository::InlineRepository(StoreFactory factory, std::chrono::milliseconds read_transaction)
    : factory_(std::move(factory)), read_transaction_(read_transaction), instance_(++instances_) {}

InlineRepository::~InlineRepository() = default;

InlineRepository::Slot& InlineRepository::this_thread_slot() {
  // Each thread remembers its slot, so a call takes no lock. The instance
  // number, never reused, keeps a thread from using a slot of a repository
  // that is gone.
  struct Remembered {
    std::uint64_t repository = 0;
    Slot* slot = nullptr;
  };
  thread_local Remembered remembered;
  if (remembered.repository == instance_) return *remembered.slot;

  const auto thread = std::this_thread::get_id();
  std::lock_guard lock(mutex_);
  for (const auto& slot : slots_) {
    if (slot->thread == thread) {
      remembered = {instance_, slot.get()};
      return *slot;
    }
  }
  auto slot = std::make_unique<Slot>();
  slot->thread = thread;
  try {
    slot->store = factory_();
  } catch (const StorageUnavailable&) {
    throw;
  } catch (const std::exception& error) {
    throw StorageUnavailable(std::string("cannot open a database connection: ") + error.what());
  }
  if (!slot->store) throw StorageUnavailable("cannot open a database connection");
  slots_.push_back(std::move(slot));
  remembered = {instance_, slots_.back().get()};
  return *slots_.back();
}

InlineRepository::Slot& InlineRepository::reading_slot(const boost::asio::any_io_executor& loop) {
  Slot& slot = this_thread_slot();
  if (read_transaction_.count() == 0 || slot.reading || !slot.store->begin_read_transaction()) return slot;
  slot.reading = true;
  // The wait runs on this thread, so no call is running when it ends the
  // transaction. It keeps its timer; the slot lives as long as the
  // repository, which outlives its event loops' runs.
  auto end = std::make_shared<boost::asio::steady_timer>(loop, read_transaction_);
  end->async_wait([&slot, end](const boost::system::error_code& error) {
    if (error) return;
    slot.reading = false;
    slot.store->end_read_transaction();
  });
  return slot;
}

// Nothing below suspends between taking the store and giving it back: the
// call runs to its end on this thread before the coroutine returns.
boost::asio::awaitable<std::optional<pokedex::Pokemon>> InlineRepository::find_pokemon(int id, Language language) {
  Running running(reading_slot(co_await boost::asio::this_coro::executor));
  co_return running.store().find_pokemon(id, language);
}

boost::asio::awaitable<pokedex::Listing> InlineRepository::search_by_name(std::string name_prefix, Language language,
                                                                          Page page) {
  Running running(reading_slot(co_await boost::asio::this_coro::executor));
  co_return running.store().search_by_name(name_prefix, language, page);
}

boost::asio::awaitable<std::optional<pokedex::Listing>> InlineRepository::list_by_type(std::string type_slug,
                                                                                       Language language, Page page) {
  Running running(reading_slot(co_await boost::asio::this_coro::executor));
  co_return running.store().list_by_type(type_slug, language, page);
}

boost::asio::awaitable<std::optional<pokedex::Listing>> InlineRepository::list_by_generation(int generation,
                                                                                             Language language,
                                                                                             Page page) {
  Running running(reading_slot(co_await boost::asio::this_coro::executor));
  co_return running.store().list_by_generation(generation, language, page);
}

boost::asio::awaitable<int> InlineRepository::max_pokemon_id() {
  Running running(reading_slot(co_await boost::asio::this_coro::executor));
  co_return running.store().max_pokemon_id();
}

boost::asio::awaitable<void> InlineRepository::ping() {
  Running running(this_thread_slot());
  running.store().ping();
  co_return;
}

StorageState InlineRepository::state() const {
  StorageState state;
  std::lock_guard lock(mutex_);
  for (const auto& slot : slots_) {
    if (slot->running.load(std::memory_order_relaxed))
      ++state.in_use;
    else
      ++state.idle;
  }
  return state;
}

}  // namespace storage
