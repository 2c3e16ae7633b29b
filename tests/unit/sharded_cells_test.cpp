#include "sharded_cells/thread_sharded_cells.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

using sharded_cells::ThreadShardedCells;

TEST(ThreadShardedCells, StartAtZeroAndCountExactlyOnOneThread) {
  ThreadShardedCells cells(3);
  EXPECT_EQ(cells.cell_count(), 3u);
  for (std::size_t cell = 0; cell < 3; ++cell) EXPECT_EQ(cells.total(cell), 0u);
  const auto writer = cells.writer();
  for (int i = 0; i < 1000; ++i) writer.add(0, 1);
  writer.add(1, 5);
  writer.add_double(2, 0.25);
  writer.add_double(2, 1.5);
  EXPECT_EQ(cells.total(0), 1000u);
  EXPECT_EQ(cells.total(1), 5u);
  EXPECT_DOUBLE_EQ(cells.total_double(2), 1.75);
}

TEST(ThreadShardedCells, AGaugeCellGoesDownAcrossThreads) {
  ThreadShardedCells cells(1);
  std::thread up([&] { cells.writer().add(0, 5); });
  up.join();
  std::thread down([&] {
    for (int i = 0; i < 7; ++i) cells.writer().add(0, static_cast<std::uint64_t>(-1));
  });
  down.join();
  EXPECT_EQ(cells.total_signed(0), -2);
}

TEST(ThreadShardedCells, AShardOutlivesItsThread) {
  ThreadShardedCells cells(1);
  for (int round = 0; round < 3; ++round) {
    std::thread writer([&] { cells.writer().add(0, 10); });
    writer.join();
  }
  EXPECT_EQ(cells.total(0), 30u);
}

// More threads than slots: the late ones share one shard through atomic
// read-modify-writes, and nothing is lost either way, while scrapes read.
TEST(ThreadShardedCells, ThreadsBeyondTheSlotsShareAShardAndLoseNothing) {
  constexpr int thread_count = static_cast<int>(ThreadShardedCells::max_thread_slots) + 8;
  constexpr int adds = 20000;
  ThreadShardedCells cells(2);
  std::atomic<int> without_slot{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      if (ThreadShardedCells::thread_slot() == ThreadShardedCells::max_thread_slots) ++without_slot;
      for (int i = 0; i < adds; ++i) {
        const auto writer = cells.writer();
        writer.add(0, 1);
        writer.add_double(1, 0.5);
      }
    });
  }
  go = true;
  std::uint64_t last = 0;
  for (int scrape = 0; scrape < 200; ++scrape) {
    const std::uint64_t now = cells.total(0);
    EXPECT_GE(now, last) << "a count went back";
    last = now;
  }
  for (auto& thread : threads) thread.join();
  // Slots are never reused, so at least the last eight of these threads came too late for one.
  EXPECT_GE(without_slot.load(), 8);
  EXPECT_EQ(cells.total(0), static_cast<std::uint64_t>(thread_count) * adds);
  EXPECT_DOUBLE_EQ(cells.total_double(1), thread_count * adds * 0.5);
}

}  // namespace
