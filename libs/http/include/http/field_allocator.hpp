#pragma once
// The allocator of requests' and responses' fields. Beast allocates every
// field (its name and value together) and a request's start line on its own,
// so each request and its response took about five trips through malloc and
// free for their fields alone. Blocks of up to field_pool::block_bytes come
// instead from a free list of the thread, refilled by what that thread frees
// (at most field_pool::max_free_blocks kept); larger ones go to the heap.
#include <cstddef>

namespace http {

namespace field_pool {

// Room for a field's bookkeeping (Beast's element, about 80 bytes) and a
// name and value of together about 170 bytes: every field the services set
// and those clients commonly send.
inline constexpr std::size_t block_bytes = 256;
// 16 KiB per thread at most.
inline constexpr std::size_t max_free_blocks = 64;

void* allocate(std::size_t bytes);
void deallocate(void* block, std::size_t bytes) noexcept;
// Blocks waiting on this thread's free list.
std::size_t free_blocks() noexcept;

}  // namespace field_pool

template <class T>
class FieldAllocator {
 public:
  using value_type = T;

  FieldAllocator() noexcept = default;
  template <class U>
  FieldAllocator(const FieldAllocator<U>& /*other*/) noexcept {}  // implicit, as rebinding needs

  T* allocate(std::size_t count) { return static_cast<T*>(field_pool::allocate(count * sizeof(T))); }
  void deallocate(T* pointer, std::size_t count) noexcept { field_pool::deallocate(pointer, count * sizeof(T)); }

  template <class U>
  friend bool operator==(const FieldAllocator& /*a*/, const FieldAllocator<U>& /*b*/) noexcept {
    return true;
  }
};

}  // namespace http
