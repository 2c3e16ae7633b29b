#pragma once
// Counters that the request path can bump without a locked instruction.
//
// An atomic increment (`lock xadd`) is cheap alone but not free: a request
// that updates a dozen metric cells pays for a dozen of them. Here every
// thread that writes gets cells of its own (a shard), which it updates with
// plain loads and stores, since no other thread writes them; a scrape adds
// the shards up. It is the idea of Java's LongAdder, with one shard per
// writing thread instead of one per collision.
//
// Threads claim a slot on their first write and keep it for life. Slots are
// never reused, so a slot has at most one writer ever; a thread that comes
// after the last slot is taken writes to one shared shard with atomic
// read-modify-writes instead. Either way no update is lost, and a shard keeps
// its counts after its thread has gone (counters never go back).
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace sharded_cells {

class ThreadShardedCells {
 public:
  // Threads that get a shard of their own; later ones share one.
  static constexpr std::size_t max_thread_slots = 32;

  // `cells` cells per shard, every one starting at 0.
  explicit ThreadShardedCells(std::size_t cells);
  ~ThreadShardedCells();
  ThreadShardedCells(const ThreadShardedCells&) = delete;
  ThreadShardedCells& operator=(const ThreadShardedCells&) = delete;

  // The calling thread's shard; get it once per update of several cells.
  class Writer {
   public:
    // Adds modulo 2^64: adding the two's complement of n subtracts n, so a
    // cell can hold a gauge that goes up and down (read it with total_signed).
    void add(std::size_t cell, std::uint64_t amount) const {
      auto& target = cells_[cell];
      if (exclusive_)
        target.store(target.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
      else
        target.fetch_add(amount, std::memory_order_relaxed);
    }
    // For a cell that holds the bits of a double (a histogram's sum).
    void add_double(std::size_t cell, double amount) const {
      auto& target = cells_[cell];
      std::uint64_t bits = target.load(std::memory_order_relaxed);
      if (exclusive_) {
        target.store(std::bit_cast<std::uint64_t>(std::bit_cast<double>(bits) + amount), std::memory_order_relaxed);
        return;
      }
      while (!target.compare_exchange_weak(bits, std::bit_cast<std::uint64_t>(std::bit_cast<double>(bits) + amount),
                                           std::memory_order_relaxed)) {
      }
    }

   private:
    friend class ThreadShardedCells;
    Writer(std::atomic<std::uint64_t>* cells, bool exclusive) : cells_(cells), exclusive_(exclusive) {}
    std::atomic<std::uint64_t>* cells_;
    bool exclusive_;
  };

  Writer writer() {
    const std::size_t slot = thread_slot();
    if (slot >= max_thread_slots) return {(*shards_)[max_thread_slots].load(std::memory_order_relaxed), false};
    std::atomic<std::uint64_t>* shard = (*shards_)[slot].load(std::memory_order_relaxed);
    return {shard ? shard : make_shard(slot), true};
  }

  // Sums over every shard, as of the moment each is read.
  std::uint64_t total(std::size_t cell) const;
  std::int64_t total_signed(std::size_t cell) const { return static_cast<std::int64_t>(total(cell)); }
  double total_double(std::size_t cell) const;

  std::size_t cell_count() const { return cells_; }

  // This thread's slot, claimed on first call: < max_thread_slots, or
  // max_thread_slots for a thread that came too late for one.
  static std::size_t thread_slot() {
    thread_local const std::size_t slot = claim_slot();
    return slot;
  }

 private:
  static std::size_t claim_slot();
  std::atomic<std::uint64_t>* make_shard(std::size_t slot);
  std::atomic<std::uint64_t>* allocate_shard() const;

  const std::size_t cells_;
  // One per slot, then the shared shard (made up front). A slot's shard is
  // made by its own thread and read by scrapes, hence the atomic pointers.
  std::unique_ptr<std::array<std::atomic<std::atomic<std::uint64_t>*>, max_thread_slots + 1>> shards_;
};

}  // namespace sharded_cells
