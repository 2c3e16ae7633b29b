#pragma once
// The allocator of requests' and responses' fields. Beast allocates every
// field (its name and value together) and a request's start line on its own,
// so each request and its response took about five trips through malloc and
// free for their fields alone; they come from the thread's block pool instead.
#include <block_pool/block_pool.hpp>

#include <cstddef>

namespace http {

template <class T>
class FieldAllocator {
 public:
  using value_type = T;

  FieldAllocator() noexcept = default;
  template <class U>
  FieldAllocator(const FieldAllocator<U>& /*other*/) noexcept {}  // implicit, as rebinding needs

  T* allocate(std::size_t count) { return static_cast<T*>(block_pool::allocate(count * sizeof(T))); }
  void deallocate(T* pointer, std::size_t count) noexcept { block_pool::deallocate(pointer, count * sizeof(T)); }

  template <class U>
  friend bool operator==(const FieldAllocator& /*a*/, const FieldAllocator<U>& /*b*/) noexcept {
    return true;
  }
};

}  // namespace http
