#include "logging/line_writer.hpp"

#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

namespace logging {
namespace {

std::atomic<std::uint64_t> next_writer_id{1};

// One thread's lines waiting to be written. Its thread moves `head`, the
// writer thread moves `tail`; both count bytes since the start and only grow,
// so head - tail bytes are waiting, at offset tail % capacity.
struct Ring {
  // Left uninitialised: a page is touched only once lines reach it.
  // NOLINTNEXTLINE(modernize-avoid-c-arrays)
  explicit Ring(std::size_t size) : capacity(size), bytes(std::make_unique_for_overwrite<char[]>(size)) {}

  const std::size_t capacity;
  const std::unique_ptr<char[]> bytes;  // NOLINT(modernize-avoid-c-arrays): see the constructor

  // The producer's side.
  alignas(64) std::atomic<std::uint64_t> head{0};
  std::uint64_t known_tail = 0;           // tail when the producer last looked
  std::atomic<std::uint64_t> dropped{0};  // stored by the producer only: no read-modify-write

  // The writer thread's side.
  alignas(64) std::atomic<std::uint64_t> tail{0};

  std::atomic<bool> abandoned{false};    // its thread has exited: no line will come
  std::atomic<bool> writer_gone{false};  // the writer has stopped: its thread may forget it
};

// Each line sits in its ring behind a header: when it was logged, which
// orders lines across threads, and its length. The header is not written out.
struct LineHeader {
  std::int64_t logged_ns;
  std::uint32_t size;
};
constexpr std::size_t header_bytes = sizeof(std::int64_t) + sizeof(std::uint32_t);

void copy_into(Ring& ring, std::uint64_t position, const char* from, std::size_t size) {
  const auto offset = static_cast<std::size_t>(position % ring.capacity);
  const auto first = std::min(size, ring.capacity - offset);
  std::memcpy(ring.bytes.get() + offset, from, first);
  std::memcpy(ring.bytes.get(), from + first, size - first);
}

void copy_out(const Ring& ring, std::uint64_t position, char* to, std::size_t size) {
  const auto offset = static_cast<std::size_t>(position % ring.capacity);
  const auto first = std::min(size, ring.capacity - offset);
  std::memcpy(to, ring.bytes.get() + offset, first);
  std::memcpy(to + first, ring.bytes.get(), size - first);
}

LineHeader read_header(const Ring& ring, std::uint64_t position) {
  std::array<char, header_bytes> bytes;
  copy_out(ring, position, bytes.data(), bytes.size());
  LineHeader header{};
  std::memcpy(&header.logged_ns, bytes.data(), sizeof header.logged_ns);
  std::memcpy(&header.size, bytes.data() + sizeof header.logged_ns, sizeof header.size);
  return header;
}

// The writer thread's place in one ring during a pass.
struct Cursor {
  Ring* ring;
  std::uint64_t position;
  std::uint64_t end;
  LineHeader next;
};

// The rings of the calling thread, one per live writer (there is one in a
// service; tests make several).
struct ThreadRings {
  struct Entry {
    std::uint64_t writer_id;
    std::shared_ptr<Ring> ring;
  };
  std::vector<Entry> entries;
  bool alive = true;

  ThreadRings() = default;
  ThreadRings(const ThreadRings&) = delete;
  ThreadRings& operator=(const ThreadRings&) = delete;
  ~ThreadRings() {
    for (const auto& entry : entries) entry.ring->abandoned.store(true, std::memory_order_release);
    alive = false;
  }

  Ring* find(std::uint64_t writer_id) const {
    for (const auto& entry : entries)
      if (entry.writer_id == writer_id) return entry.ring.get();
    return nullptr;
  }
};

thread_local ThreadRings thread_rings;

// Writes all of `buffers`, resuming after partial writes and interruptions and
// waiting out a non-blocking descriptor that is full. Returns the number of
// buffers left unwritten (the first possibly in part) after an error.
std::size_t write_all(int fd, iovec* buffers, std::size_t count) {
  while (count > 0) {
    const auto written = ::writev(fd, buffers, static_cast<int>(std::min<std::size_t>(count, IOV_MAX)));
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd ready{fd, POLLOUT, 0};
        ::poll(&ready, 1, 100);
        continue;
      }
      return count;
    }
    auto left = static_cast<std::size_t>(written);
    while (count > 0 && left >= buffers->iov_len) {
      left -= buffers->iov_len;
      ++buffers;
      --count;
    }
    if (count > 0) {
      buffers->iov_base = static_cast<char*>(buffers->iov_base) + left;
      buffers->iov_len -= left;
    }
  }
  return 0;
}

// Writes `text`; returns the number of lines lost to an output error.
std::uint64_t write_lines(int fd, std::string_view text) {
  iovec buffer{const_cast<char*>(text.data()), text.size()};
  if (write_all(fd, &buffer, 1) == 0) return 0;
  const auto* left = static_cast<const char*>(buffer.iov_base);
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::count(left, left + buffer.iov_len, '\n')));
}

// What the writer thread writes at once at most; beyond, a pass writes in parts.
constexpr std::size_t output_chunk_bytes = std::size_t{128} * 1024;

}  // namespace

struct LineWriter::State {
  explicit State(LineWriterOptions writer_options) : options(writer_options) {}

  const LineWriterOptions options;
  std::atomic<bool> stopping{false};  // lines go straight to the output from now on
  std::atomic<bool> stuck{false};     // stop() gave up waiting for the output: drop instead
  std::atomic<std::uint64_t> output_dropped{0};

  std::mutex mutex;  // guards what follows
  std::condition_variable wakeup;
  std::condition_variable progress;
  bool wake_requested = false;
  std::uint64_t flush_requested = 0;
  std::uint64_t flushed = 0;
  bool finished = false;
  std::vector<std::shared_ptr<Ring>> rings;
  std::uint64_t rings_version = 0;
  std::uint64_t retired_dropped = 0;  // from rings whose thread has exited

  // The writer thread's loop: a pass over every ring each interval, or when
  // woken, until stopped (a last pass then).
  void run() {
    std::vector<std::shared_ptr<Ring>> snapshot;
    std::uint64_t snapshot_version = ~std::uint64_t{0};
    std::string out;
    out.reserve(output_chunk_bytes + 4096);
    std::unique_lock lock(mutex);
    for (;;) {
      wakeup.wait_for(lock, options.flush_interval, [this] { return wake_requested || stopping.load(); });
      const bool last = stopping.load();
      const auto generation = flush_requested;
      wake_requested = false;
      if (snapshot_version != rings_version) {
        snapshot = rings;
        snapshot_version = rings_version;
      }
      lock.unlock();

      const bool any_abandoned = write_pass(snapshot, out);

      lock.lock();
      if (any_abandoned) retire_abandoned_rings();
      flushed = generation;
      if (last) {
        for (const auto& ring : rings) ring->writer_gone.store(true, std::memory_order_relaxed);
        finished = true;
      }
      progress.notify_all();
      if (last) return;
    }
  }

  // Writes the lines waiting in `snapshot`, in the order they were logged
  // (each ring is in order; the earliest head among them goes next). Returns
  // whether a ring's thread has exited.
  bool write_pass(const std::vector<std::shared_ptr<Ring>>& snapshot, std::string& out) {
    bool any_abandoned = false;
    std::vector<Cursor>& cursors = cursors_;
    cursors.clear();
    for (const auto& ring : snapshot) {
      // Read before head: once set, the head read after it is the last.
      any_abandoned |= ring->abandoned.load(std::memory_order_acquire);
      const auto head = ring->head.load(std::memory_order_acquire);
      const auto tail = ring->tail.load(std::memory_order_relaxed);
      if (head != tail) cursors.push_back({ring.get(), tail, head, read_header(*ring, tail)});
    }
    const auto release = [&] {
      for (const auto& cursor : cursors) cursor.ring->tail.store(cursor.position, std::memory_order_release);
    };
    const auto write_out = [&] {
      release();  // what was copied out may be overwritten while the output takes it
      if (const auto lost = write_lines(options.fd, out); lost > 0)
        output_dropped.fetch_add(lost, std::memory_order_relaxed);
      out.clear();
    };
    while (!cursors.empty()) {
      auto earliest = cursors.begin();
      for (auto cursor = cursors.begin() + 1; cursor != cursors.end(); ++cursor)
        if (cursor->next.logged_ns < earliest->next.logged_ns) earliest = cursor;
      const auto at = out.size();
      out.resize(at + earliest->next.size);
      copy_out(*earliest->ring, earliest->position + header_bytes, out.data() + at, earliest->next.size);
      earliest->position += header_bytes + earliest->next.size;
      if (earliest->position != earliest->end) {
        earliest->next = read_header(*earliest->ring, earliest->position);
      } else {
        earliest->ring->tail.store(earliest->position, std::memory_order_release);
        cursors.erase(earliest);
      }
      if (out.size() >= output_chunk_bytes) write_out();
    }
    if (!out.empty()) write_out();
    return any_abandoned;
  }

  std::vector<Cursor> cursors_;  // the writer thread's, kept from pass to pass
  // With the mutex held: forgets the rings of exited threads once written out.
  void retire_abandoned_rings() {
    const auto before = rings.size();
    std::erase_if(rings, [this](const std::shared_ptr<Ring>& ring) {
      if (!ring->abandoned.load(std::memory_order_acquire)) return false;
      if (ring->head.load(std::memory_order_acquire) != ring->tail.load(std::memory_order_relaxed)) return false;
      retired_dropped += ring->dropped.load(std::memory_order_relaxed);
      return true;
    });
    if (rings.size() != before) ++rings_version;
  }

  void request_wake() {
    {
      const std::lock_guard guard(mutex);
      wake_requested = true;
    }
    wakeup.notify_one();
  }
};

LineWriter::LineWriter(LineWriterOptions options)
    : options_(options),
      id_(next_writer_id.fetch_add(1, std::memory_order_relaxed)),
      state_(std::make_shared<State>(options)) {
  thread_ = std::thread([state = state_] { state->run(); });
}

LineWriter::~LineWriter() { stop(std::chrono::hours(24)); }

bool LineWriter::write(std::string_view line) { return write(line, std::chrono::system_clock::now()); }

bool LineWriter::write(std::string_view line, std::chrono::system_clock::time_point logged) {
  State& state = *state_;
  if (state.stopping.load(std::memory_order_acquire) || !thread_rings.alive) {
    if (state.stuck.load(std::memory_order_relaxed)) {
      state.output_dropped.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    const auto lost = write_lines(options_.fd, line);
    if (lost == 0) return true;
    state.output_dropped.fetch_add(lost, std::memory_order_relaxed);
    return false;
  }

  Ring* ring = thread_rings.find(id_);
  if (ring == nullptr) {
    auto made = std::make_shared<Ring>(options_.buffer_bytes);
    {
      const std::lock_guard guard(state.mutex);
      state.rings.push_back(made);
      ++state.rings_version;
    }
    std::erase_if(thread_rings.entries, [](const ThreadRings::Entry& entry) {
      return entry.ring->writer_gone.load(std::memory_order_relaxed);
    });
    thread_rings.entries.push_back({id_, made});
    ring = made.get();
  }

  const std::uint64_t size = header_bytes + line.size();
  const std::uint64_t half = ring->capacity / 2;
  const auto head = ring->head.load(std::memory_order_relaxed);
  auto waiting = head - ring->known_tail;
  // The writer's progress is looked at only when it matters: when the line
  // would not fit, or would take the ring past half full.
  if (waiting + size > ring->capacity || waiting + size >= half) {
    ring->known_tail = ring->tail.load(std::memory_order_acquire);
    waiting = head - ring->known_tail;
    if (waiting + size > ring->capacity || line.size() > std::numeric_limits<std::uint32_t>::max()) {
      ring->dropped.store(ring->dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return false;
    }
  }
  std::array<char, header_bytes> header;
  const std::int64_t logged_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(logged.time_since_epoch()).count();
  const auto line_size = static_cast<std::uint32_t>(line.size());
  std::memcpy(header.data(), &logged_ns, sizeof logged_ns);
  std::memcpy(header.data() + sizeof logged_ns, &line_size, sizeof line_size);
  copy_into(*ring, head, header.data(), header.size());
  copy_into(*ring, head + header_bytes, line.data(), line.size());
  ring->head.store(head + size, std::memory_order_release);
  if (waiting < half && waiting + size >= half) state.request_wake();
  return true;
}

void LineWriter::wake() { state_->request_wake(); }

bool LineWriter::flush(std::chrono::milliseconds timeout) {
  State& state = *state_;
  std::unique_lock lock(state.mutex);
  if (state.finished) return true;
  const auto target = ++state.flush_requested;
  state.wake_requested = true;
  state.wakeup.notify_one();
  return state.progress.wait_for(lock, timeout, [&] { return state.flushed >= target || state.finished; });
}

bool LineWriter::stop(std::chrono::milliseconds timeout) {
  State& state = *state_;
  if (!thread_.joinable()) return !state.stuck.load();
  std::unique_lock lock(state.mutex);
  state.stopping.store(true, std::memory_order_release);
  state.wakeup.notify_one();
  const bool finished = state.progress.wait_for(lock, timeout, [&] { return state.finished; });
  lock.unlock();
  if (finished) {
    thread_.join();
  } else {
    state.stuck.store(true, std::memory_order_relaxed);
    thread_.detach();  // it owns a share of the state, so it may finish later safely
  }
  return finished;
}

std::uint64_t LineWriter::dropped() const {
  State& state = *state_;
  const std::lock_guard guard(state.mutex);
  std::uint64_t total = state.retired_dropped + state.output_dropped.load(std::memory_order_relaxed);
  for (const auto& ring : state.rings) total += ring->dropped.load(std::memory_order_relaxed);
  return total;
}

}  // namespace logging
