#pragma once
// Small blocks for what the request path allocates and frees on every
// request: HTTP fields (Beast allocates each field on its own) and SQLite's
// buffers for a row's text. Blocks of up to block_bytes come from a free list
// of the thread, refilled by what that thread frees (at most max_free_blocks
// kept); larger ones go to the heap. A block may be freed on another thread
// than the one it came from: it joins that thread's list.
#include <cstddef>

namespace block_pool {

// Room for an HTTP field's bookkeeping (Beast's element, about 80 bytes) and a
// name and value of together about 170 bytes: every field the services set
// and those clients commonly send.
inline constexpr std::size_t block_bytes = 256;
// 16 KiB per thread at most.
inline constexpr std::size_t max_free_blocks = 64;

void* allocate(std::size_t bytes);
void deallocate(void* block, std::size_t bytes) noexcept;
// Blocks waiting on this thread's free list.
std::size_t free_blocks() noexcept;

}  // namespace block_pool
