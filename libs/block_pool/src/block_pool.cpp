#include "block_pool/block_pool.hpp"

#include <new>
#include <utility>

namespace block_pool {
namespace {

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so that it stays usable for the whole life of its
// thread: a block freed after the thread's thread_local destructors ran (by
// a static destructor on the main thread, say) goes to the heap instead.
struct FreeList {
  FreeBlock* head = nullptr;
  std::size_t size = 0;
  bool closed = false;  // the thread is ending: no more keeping
};

constinit thread_local FreeList free_list;

// Frees what the list holds when its thread ends, then closes it.
struct Drain {
  Drain() = default;
  Drain(const Drain&) = delete;
  Drain& operator=(const Drain&) = delete;
  ~Drain() {
    free_list.closed = true;
    while (free_list.head != nullptr) ::operator delete(std::exchange(free_list.head, free_list.head->next));
    free_list.size = 0;
  }
};

void keep(void* block) noexcept {
  FreeList& list = free_list;
  if (list.closed || list.size == max_free_blocks) {
    ::operator delete(block);
    return;
  }
  thread_local Drain drain;  // constructed on the thread's first kept block
  static_cast<void>(drain);
  list.head = new (block) FreeBlock{list.head};
  ++list.size;
}

}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes > block_bytes) return ::operator new(bytes);
  FreeList& list = free_list;
  if (list.head == nullptr) return ::operator new(block_bytes);
  --list.size;
  return std::exchange(list.head, list.head->next);
}

void deallocate(void* block, std::size_t bytes) noexcept {
  if (bytes <= block_bytes)
    keep(block);
  else
    ::operator delete(block);
}

std::size_t free_blocks() noexcept { return free_list.size; }

}  // namespace block_pool
