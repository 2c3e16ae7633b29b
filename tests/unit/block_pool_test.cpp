#include <block_pool/block_pool.hpp>
#include <http/field_allocator.hpp>
#include <http/message.hpp>

#include <boost/beast/http/field.hpp>
#include <gtest/gtest.h>

#include <cstddef>
#include <thread>
#include <vector>

namespace {

namespace pool = block_pool;

TEST(BlockPool, ABlockFreedIsLentAgainOnTheSameThread) {
  void* first = pool::allocate(100);
  const std::size_t before = pool::free_blocks();
  pool::deallocate(first, 100);
  EXPECT_EQ(pool::free_blocks(), before + 1);
  void* again = pool::allocate(pool::block_bytes);
  EXPECT_EQ(again, first);
  EXPECT_EQ(pool::free_blocks(), before);
  pool::deallocate(again, pool::block_bytes);
}

TEST(BlockPool, LargerBlocksComeFromTheHeap) {
  const std::size_t before = pool::free_blocks();
  void* large = pool::allocate(pool::block_bytes + 1);
  EXPECT_EQ(pool::free_blocks(), before);
  pool::deallocate(large, pool::block_bytes + 1);
  EXPECT_EQ(pool::free_blocks(), before);
}

TEST(BlockPool, KeepsAtMostItsLimitOfFreeBlocks) {
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < pool::max_free_blocks + 10; ++i) blocks.push_back(pool::allocate(64));
  for (void* block : blocks) pool::deallocate(block, 64);
  EXPECT_EQ(pool::free_blocks(), pool::max_free_blocks);
}

TEST(BlockPool, ABlockFreedOnAnotherThreadJoinsThatThreadsList) {
  void* block = pool::allocate(64);
  const std::size_t here = pool::free_blocks();
  std::size_t there_before = 0;
  std::size_t there_after = 0;
  std::thread other([&] {
    there_before = pool::free_blocks();
    pool::deallocate(block, 64);
    there_after = pool::free_blocks();
  });
  other.join();
  EXPECT_EQ(there_after, there_before + 1);
  EXPECT_EQ(pool::free_blocks(), here);
}

// A thread's kept blocks are freed when it ends: LeakSanitizer, in the
// sanitize preset, reports them otherwise.
TEST(BlockPool, AThreadsBlocksAreFreedWhenItEnds) {
  std::size_t kept = 0;
  std::thread worker([&kept] {
    std::vector<void*> blocks;
    for (int i = 0; i < 8; ++i) blocks.push_back(pool::allocate(32));
    for (void* block : blocks) pool::deallocate(block, 32);
    kept = pool::free_blocks();
  });
  worker.join();
  EXPECT_EQ(kept, 8U);
}

TEST(FieldAllocator, AResponsesFieldsAreLentFromTheList) {
  void* one = pool::allocate(64);
  void* two = pool::allocate(64);
  pool::deallocate(one, 64);
  pool::deallocate(two, 64);  // at least two blocks waiting
  const std::size_t before = pool::free_blocks();
  {
    http::Response response;
    response.set(boost::beast::http::field::content_type, "application/json");
    response.set(boost::beast::http::field::content_length, "42");
    EXPECT_EQ(pool::free_blocks(), before - 2);
    EXPECT_EQ(response[boost::beast::http::field::content_type], "application/json");
  }
  EXPECT_EQ(pool::free_blocks(), before);
}

}  // namespace
