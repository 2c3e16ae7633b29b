#include "http/field_allocator.hpp"

#include <new>
#include <utility>

namespace http::field_pool {
namespace {

struct FreeBlock {
  FreeBlock* next;
};

// Blocks are heap blocks of block_bytes; the list lends them out and takes
// them back, and frees what it holds when its thread ends.
class FreeList {
 public:
  FreeList() = default;
  FreeList(const FreeList&) = delete;
  FreeList& operator=(const FreeList&) = delete;
  ~FreeList() {
    while (head_ != nullptr) ::operator delete(std::exchange(head_, head_->next));
  }

  void* take() {
    if (head_ == nullptr) return ::operator new(block_bytes);
    --size_;
    return std::exchange(head_, head_->next);
  }
  void give(void* block) noexcept {
    if (size_ == max_free_blocks) {
      ::operator delete(block);
      return;
    }
    head_ = new (block) FreeBlock{head_};
    ++size_;
  }
  std::size_t size() const noexcept { return size_; }

 private:
  FreeBlock* head_ = nullptr;
  std::size_t size_ = 0;
};

thread_local FreeList free_list;

}  // namespace

void* allocate(std::size_t bytes) { return bytes <= block_bytes ? free_list.take() : ::operator new(bytes); }

void deallocate(void* block, std::size_t bytes) noexcept {
  if (bytes <= block_bytes)
    free_list.give(block);
  else
    ::operator delete(block);
}

std::size_t free_blocks() noexcept { return free_list.size(); }

}  // namespace http::field_pool
