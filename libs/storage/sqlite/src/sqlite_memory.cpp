#include "sqlite_memory.hpp"

#include <block_pool/block_pool.hpp>
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

namespace storage::sqlite_memory {
namespace {

// The size of the whole block, header included, kept in front of what SQLite
// gets; 8 bytes keep SQLite's memory 8-byte aligned, as it requires.
using Header = std::uint64_t;
constexpr std::size_t header_bytes = sizeof(Header);
static_assert(alignof(std::max_align_t) % header_bytes == 0);

Header* header_of(void* memory) { return static_cast<Header*>(memory) - 1; }

// What a block of `block` bytes in all holds for SQLite: a small one all of
// the pool's block, so that SQLite can grow into it without a new one.
std::size_t usable_bytes(std::size_t block) {
  return (block <= block_pool::block_bytes ? block_pool::block_bytes : block) - header_bytes;
}

// The block for `bytes` (> 0) of SQLite's: rounded up to 8, as SQLite's own
// malloc does, and the header.
std::size_t block_for(int bytes) {
  return ((static_cast<std::size_t>(bytes) + header_bytes - 1) / header_bytes * header_bytes) + header_bytes;
}

// SQLite asks for at most SQLITE_MAX_ALLOCATION_SIZE (just under 2^31) bytes
// at once, so every size below, header included, fits an int.
void* allocate(int bytes) {
  if (bytes <= 0) return nullptr;
  const std::size_t block = block_for(bytes);
  try {
    auto* header = static_cast<Header*>(block_pool::allocate(block));
    *header = block;
    return header + 1;
  } catch (const std::bad_alloc&) {
    return nullptr;  // SQLite answers SQLITE_NOMEM
  }
}

void release(void* memory) {
  if (memory == nullptr) return;
  Header* header = header_of(memory);
  block_pool::deallocate(header, *header);
}

int size_of(void* memory) {
  if (memory == nullptr) return 0;
  return static_cast<int>(usable_bytes(*header_of(memory)));
}

void* reallocate(void* memory, int bytes) {
  if (memory == nullptr) return allocate(bytes);
  if (bytes <= 0) return nullptr;
  const auto old_usable = static_cast<std::size_t>(size_of(memory));
  if (static_cast<std::size_t>(bytes) <= old_usable) return memory;
  void* grown = allocate(bytes);
  if (grown == nullptr) return nullptr;  // SQLite keeps the old block
  std::memcpy(grown, memory, old_usable);
  release(memory);
  return grown;
}

int rounded_up(int bytes) {
  if (bytes <= 0) return bytes;
  return static_cast<int>(usable_bytes(block_for(bytes)));
}

int initialise(void* /*unused*/) { return SQLITE_OK; }
void shut_down(void* /*unused*/) {}

}  // namespace

bool use_block_pool() {
  static const sqlite3_mem_methods methods{allocate,   release,    reallocate, size_of,
                                           rounded_up, initialise, shut_down,  nullptr};
  return sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) == SQLITE_OK;
}

}  // namespace storage::sqlite_memory
