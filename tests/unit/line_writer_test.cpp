// The asynchronous line writer: every line written once and whole whatever
// the threads, drops counted when a buffer is full, and the output reached on
// stop, on the timer and when woken. No assertion depends on the machine's
// speed: waits are bounded only by limits a hang breaks.
#include <logging/line_writer.hpp>

#include <boost/json/parse.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr auto hang_limit = 60s;  // only a hang takes this long

// An in-memory file: writes never block.
class MemoryFile {
 public:
  MemoryFile() : fd_(::memfd_create("line_writer_test", 0)) { EXPECT_GE(fd_, 0); }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  int fd() const { return fd_; }
  std::string contents() const {
    std::string text;
    std::array<char, 65536> chunk;
    for (off_t offset = 0;;) {
      const auto got = ::pread(fd_, chunk.data(), chunk.size(), offset);
      if (got <= 0) return text;
      text.append(chunk.data(), static_cast<std::size_t>(got));
      offset += got;
    }
  }

 private:
  int fd_;
};

// A pipe whose reading end nobody reads until drain() starts a reader.
class Pipe {
 public:
  Pipe() {
    EXPECT_EQ(::pipe(fds_.data()), 0);
    ::fcntl(fds_[1], F_SETPIPE_SZ, 4096);  // fills after a page
  }
  ~Pipe() {
    ::close(fds_[1]);
    if (reader_.joinable()) reader_.join();
    ::close(fds_[0]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  int write_end() const { return fds_[1]; }
  void drain() {
    reader_ = std::thread([this] {
      std::array<char, 65536> chunk;
      for (;;) {
        const auto got = ::read(fds_[0], chunk.data(), chunk.size());
        if (got <= 0) return;
        read_.append(chunk.data(), static_cast<std::size_t>(got));
      }
    });
  }
  // Everything read, once the writing end is closed.
  std::string finish() {
    ::close(fds_[1]);
    fds_[1] = -1;
    reader_.join();
    return read_;
  }

 private:
  std::array<int, 2> fds_{};
  std::thread reader_;
  std::string read_;
};

std::string line_for(int thread, int sequence) {
  // Lengths vary, so lines straddle the ring's end at every offset.
  return R"({"thread":)" + std::to_string(thread) + R"(,"seq":)" + std::to_string(sequence) + R"(,"pad":")" +
         std::string(static_cast<std::size_t>(sequence % 97), 'x') + "\"}\n";
}

// Each line parsed as JSON, by (thread, seq); fails on a torn or repeated line.
std::map<std::pair<int, int>, int> parse_lines(const std::string& text) {
  std::map<std::pair<int, int>, int> seen;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    EXPECT_NE(end, std::string::npos) << "the output ends in the middle of a line";
    if (end == std::string::npos) break;
    boost::system::error_code error;
    const auto value = boost::json::parse(std::string_view(text).substr(start, end - start), error);
    EXPECT_FALSE(error) << "not a whole JSON line: " << text.substr(start, end - start);
    if (!error) {
      const auto& object = value.as_object();
      ++seen[{static_cast<int>(object.at("thread").as_int64()), static_cast<int>(object.at("seq").as_int64())}];
    }
    start = end + 1;
  }
  return seen;
}

// The sequence numbers of each thread's lines, in the order they were written.
std::map<int, std::vector<int>> sequences_by_thread(const std::string& text) {
  std::map<int, std::vector<int>> sequences;
  for (std::size_t start = 0, end = 0; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    boost::system::error_code error;
    const auto value = boost::json::parse(std::string_view(text).substr(start, end - start), error);
    if (error) continue;  // parse_lines reports it
    const auto& object = value.as_object();
    sequences[static_cast<int>(object.at("thread").as_int64())].push_back(
        static_cast<int>(object.at("seq").as_int64()));
  }
  return sequences;
}

template <class Predicate>
bool wait_until(Predicate ready) {
  const auto deadline = std::chrono::steady_clock::now() + hang_limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(LineWriter, ManyThreadsWriteEveryLineExactlyOnceAndWhole) {
  MemoryFile file;
  constexpr int threads = 8;
  constexpr int lines = 20000;
  std::atomic<std::uint64_t> refused{0};
  {
    logging::LineWriter writer({.fd = file.fd(), .flush_interval = 10ms, .buffer_bytes = 64 * 1024});
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t)
      writers.emplace_back([&, t] {
        for (int i = 0; i < lines; ++i) {
          const auto line = line_for(t, i);
          // A busy machine may leave the writer thread behind: what is
          // refused is counted, and offered again until it fits.
          while (!writer.write(line)) {
            refused.fetch_add(1);
            std::this_thread::yield();
          }
        }
      });
    for (auto& thread : writers) thread.join();
    EXPECT_TRUE(writer.stop(hang_limit));
    EXPECT_EQ(writer.dropped(), refused.load());
  }
  const auto text = file.contents();
  const auto seen = parse_lines(text);
  EXPECT_EQ(seen.size(), std::size_t{threads} * lines);
  for (const auto& [key, count] : seen) ASSERT_EQ(count, 1) << "thread " << key.first << " line " << key.second;
  // Each thread's lines, all of them, in the order that thread wrote them.
  const auto sequences = sequences_by_thread(text);
  ASSERT_EQ(sequences.size(), std::size_t{threads});
  for (const auto& [thread, sequence] : sequences) {
    ASSERT_EQ(sequence.size(), std::size_t{lines}) << "thread " << thread;
    for (int i = 0; i < lines; ++i) ASSERT_EQ(sequence[static_cast<std::size_t>(i)], i) << "thread " << thread;
  }
}

TEST(LineWriter, LinesOfAThreadThatExitedAreWritten) {
  MemoryFile file;
  logging::LineWriter writer({.fd = file.fd(), .flush_interval = std::chrono::hours(1)});
  std::thread([&] {
    for (int i = 0; i < 100; ++i) writer.write(line_for(1, i));
  }).join();
  ASSERT_TRUE(writer.flush(hang_limit));
  EXPECT_EQ(parse_lines(file.contents()).size(), 100U);
  EXPECT_EQ(writer.dropped(), 0U);
}

TEST(LineWriter, LinesOfDifferentThreadsAreWrittenInTheOrderTheyWereLogged) {
  MemoryFile file;
  logging::LineWriter writer({.fd = file.fd(), .flush_interval = std::chrono::hours(1)});
  const auto start = std::chrono::system_clock::now();
  // Thread 0 logs at 0, 2 and 4 ms, thread 1 at 1, 3 and 5 ms; thread 0's
  // lines are all in the buffers first.
  for (int thread = 0; thread < 2; ++thread)
    std::thread([&, thread] {
      for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(
            writer.write(line_for(thread, (2 * i) + thread), start + std::chrono::milliseconds((2 * i) + thread)));
    }).join();
  ASSERT_TRUE(writer.flush(hang_limit));
  const auto text = file.contents();
  std::vector<int> order;
  for (std::size_t at = text.find(R"("seq":)"); at != std::string::npos; at = text.find(R"("seq":)", at + 1))
    order.push_back(text[at + 6] - '0');
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(LineWriter, AFullBufferDropsWholeLinesCountsThemAndNeverBlocksTheWriters) {
  Pipe pipe;  // nobody reads it yet: the writer thread blocks in write(2)
  constexpr std::size_t buffer = 64 * 1024;
  constexpr int lines = 5000;  // many times what the pipe and the buffer hold
  logging::LineWriter writer({.fd = pipe.write_end(), .flush_interval = 1ms, .buffer_bytes = buffer});
  auto written = std::async(std::launch::async, [&] {
    int accepted = 0;
    for (int i = 0; i < lines; ++i) accepted += writer.write(line_for(0, i)) ? 1 : 0;
    return accepted;
  });
  ASSERT_EQ(written.wait_for(hang_limit), std::future_status::ready) << "a blocked output blocked the writers";
  const int accepted = written.get();
  EXPECT_GT(writer.dropped(), 0U);
  EXPECT_EQ(writer.dropped(), static_cast<std::uint64_t>(lines - accepted));

  pipe.drain();
  ASSERT_TRUE(writer.stop(hang_limit));
  // Every accepted line arrives, whole; the refused ones left no part behind.
  const auto seen = parse_lines(pipe.finish());
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(accepted));
  for (const auto& [key, count] : seen) ASSERT_EQ(count, 1);
}

TEST(LineWriter, StopWritesWhatIsBuffered) {
  MemoryFile file;
  logging::LineWriter writer({.fd = file.fd(), .flush_interval = std::chrono::hours(1)});
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(writer.write(line_for(0, i)));
  ASSERT_TRUE(writer.stop(hang_limit));
  EXPECT_EQ(parse_lines(file.contents()).size(), 1000U);
  // After the stop, lines are written at once by their own thread.
  EXPECT_TRUE(writer.write(line_for(0, 1000)));
  EXPECT_EQ(parse_lines(file.contents()).size(), 1001U);
}

TEST(LineWriter, DestructionWritesWhatIsBuffered) {
  MemoryFile file;
  {
    logging::LineWriter writer({.fd = file.fd(), .flush_interval = std::chrono::hours(1)});
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer.write(line_for(0, i)));
  }
  EXPECT_EQ(parse_lines(file.contents()).size(), 10U);
}

TEST(LineWriter, TheTimerWritesLinesWithoutBeingAsked) {
  MemoryFile file;
  logging::LineWriter writer({.fd = file.fd(), .flush_interval = 20ms});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer.write(line_for(0, i)));
  EXPECT_TRUE(wait_until([&] { return parse_lines(file.contents()).size() == 3; }));
}

TEST(LineWriter, WakeWritesBeforeTheIntervalEnds) {
  MemoryFile file;
  logging::LineWriter writer({.fd = file.fd(), .flush_interval = std::chrono::hours(1)});
  ASSERT_TRUE(writer.write(line_for(0, 0)));
  writer.wake();
  EXPECT_TRUE(wait_until([&] { return parse_lines(file.contents()).size() == 1; }));
}

TEST(LineWriter, ABufferPastHalfFullIsWrittenBeforeTheIntervalEnds) {
  MemoryFile file;
  constexpr std::size_t buffer = 64 * 1024;
  logging::LineWriter writer({.fd = file.fd(), .flush_interval = std::chrono::hours(1), .buffer_bytes = buffer});
  std::size_t bytes = 0;
  int count = 0;
  while (bytes < buffer / 2) {
    const auto line = line_for(0, count++);
    ASSERT_TRUE(writer.write(line));
    bytes += line.size();
  }
  // The lines up to the one that took the buffer past half are written; any
  // after it wait for the interval.
  EXPECT_TRUE(wait_until([&] { return !parse_lines(file.contents()).empty(); }));
  ASSERT_TRUE(writer.stop(hang_limit));
  EXPECT_EQ(parse_lines(file.contents()).size(), static_cast<std::size_t>(count));
}

TEST(LineWriter, StopGivesUpOnAnOutputThatNeverTakesTheLines) {
  Pipe pipe;
  logging::LineWriter writer({.fd = pipe.write_end(), .flush_interval = 1ms, .buffer_bytes = 64 * 1024});
  int accepted = 0;
  for (int i = 0; i < 2000; ++i) accepted += writer.write(line_for(0, i)) ? 1 : 0;
  EXPECT_FALSE(writer.stop(50ms));
  // Later lines are dropped, not left to block their thread.
  const auto before = writer.dropped();
  EXPECT_FALSE(writer.write(line_for(0, 2000)));
  EXPECT_EQ(writer.dropped(), before + 1);
  pipe.drain();  // lets the abandoned writer thread finish
  EXPECT_TRUE(writer.flush(hang_limit));
  // Whatever reached the output after giving up is whole lines, each once,
  // none of them the refused one.
  const auto seen = parse_lines(pipe.finish());
  EXPECT_LE(seen.size(), static_cast<std::size_t>(accepted));
  EXPECT_EQ(seen.count({0, 2000}), 0U);
  for (const auto& [key, count] : seen) ASSERT_EQ(count, 1) << "line " << key.second;
}

}  // namespace
