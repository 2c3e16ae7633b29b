#include "sharded_cells/thread_sharded_cells.hpp"

#include <new>

namespace sharded_cells {
namespace {

// Shards start and end on cache-line boundaries: two threads writing their
// own shards never write the same line.
constexpr std::size_t cache_line = 64;

std::atomic<std::size_t> next_slot{0};

}  // namespace

ThreadShardedCells::ThreadShardedCells(std::size_t cells)
    : cells_(cells),
      shards_(std::make_unique<std::array<std::atomic<std::atomic<std::uint64_t>*>, max_thread_slots + 1>>()) {
  for (std::size_t slot = 0; slot < max_thread_slots; ++slot)
    (*shards_)[slot].store(nullptr, std::memory_order_relaxed);
  (*shards_)[max_thread_slots].store(allocate_shard(), std::memory_order_release);
}

ThreadShardedCells::~ThreadShardedCells() {
  for (std::size_t slot = 0; slot <= max_thread_slots; ++slot) {
    if (auto* shard = (*shards_)[slot].load(std::memory_order_acquire))
      ::operator delete[](shard, std::align_val_t{cache_line});
  }
}

std::size_t ThreadShardedCells::claim_slot() {
  const std::size_t slot = next_slot.fetch_add(1, std::memory_order_relaxed);
  return slot < max_thread_slots ? slot : max_thread_slots;
}

std::atomic<std::uint64_t>* ThreadShardedCells::allocate_shard() const {
  static_assert(sizeof(std::atomic<std::uint64_t>) == sizeof(std::uint64_t));
  const std::size_t bytes = (cells_ * sizeof(std::uint64_t) + cache_line - 1) / cache_line * cache_line;
  void* memory = ::operator new[](bytes == 0 ? cache_line : bytes, std::align_val_t{cache_line});
  auto* cells = static_cast<std::atomic<std::uint64_t>*>(memory);
  for (std::size_t i = 0; i < cells_; ++i) new (&cells[i]) std::atomic<std::uint64_t>(0);
  return cells;
}

std::atomic<std::uint64_t>* ThreadShardedCells::make_shard(std::size_t slot) {
  // Only the slot's own thread gets here, and only once: no race to publish.
  auto* shard = allocate_shard();
  (*shards_)[slot].store(shard, std::memory_order_release);
  return shard;
}

std::uint64_t ThreadShardedCells::total(std::size_t cell) const {
  std::uint64_t sum = 0;
  for (std::size_t slot = 0; slot <= max_thread_slots; ++slot)
    if (const auto* shard = (*shards_)[slot].load(std::memory_order_acquire))
      sum += shard[cell].load(std::memory_order_relaxed);
  return sum;
}

double ThreadShardedCells::total_double(std::size_t cell) const {
  double sum = 0;
  for (std::size_t slot = 0; slot <= max_thread_slots; ++slot)
    if (const auto* shard = (*shards_)[slot].load(std::memory_order_acquire))
      sum += std::bit_cast<double>(shard[cell].load(std::memory_order_relaxed));
  return sum;
}

}  // namespace sharded_cells
