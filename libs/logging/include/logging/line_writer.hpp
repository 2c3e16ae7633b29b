#pragma once
// Log lines written off the calling thread. Each thread that writes gets its
// own byte ring of `buffer_bytes` (one producer, one consumer: appending a line
// is a copy and a release store, no lock); one writer thread empties every
// ring into a file descriptor with writev(2), every `flush_interval`, sooner
// when a ring passes half full or when asked. Only whole lines are published
// and written, so lines from different threads interleave at line boundaries.
// A line that does not fit in its thread's ring (the output is slower than the
// lines come, or blocked) is dropped whole and counted; a slow or blocked
// output blocks the writer thread, never the threads that log.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>

namespace logging {

struct LineWriterOptions {
  int fd = 1;  // written to, never closed
  std::chrono::milliseconds flush_interval{200};
  std::size_t buffer_bytes = std::size_t{256} * 1024;  // per thread that writes; the writer thread holds 128 KiB more
};

class LineWriter {
 public:
  explicit LineWriter(LineWriterOptions options);
  // Writes what is buffered (waiting as long as the output takes) and stops.
  ~LineWriter();
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // Appends `line`, which ends in '\n', to the calling thread's ring, with
  // the time it was logged: the writer thread writes the lines of all threads
  // in that order. False if it did not fit (with its 12-byte header): it is
  // dropped and counted. After stop(), the line is written at once, on the
  // calling thread. Lines appended while stop() runs may be lost: stop once
  // the threads that log are done.
  bool write(std::string_view line, std::chrono::system_clock::time_point logged);
  bool write(std::string_view line);  // logged now

  // Has the writer thread write what is buffered now rather than at the end
  // of the interval. Never blocks.
  void wake();

  // Waits until every line appended before the call has been handed to the
  // output, or `timeout` passes (false then).
  bool flush(std::chrono::milliseconds timeout);

  // Writes what is buffered and ends the writer thread. If the output does
  // not take it within `timeout` (a pipe nobody reads), the thread is left to
  // finish on its own and false is returned; lines written afterwards are
  // then dropped rather than block their thread.
  bool stop(std::chrono::milliseconds timeout);

  // Lines dropped since the start: rings full, or the output failed.
  std::uint64_t dropped() const;

  const LineWriterOptions& options() const { return options_; }

  struct State;  // shared with the writer thread

 private:
  LineWriterOptions options_;
  std::uint64_t id_;  // tells apart the rings of writers that lived at the same address
  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace logging
