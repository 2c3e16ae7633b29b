#pragma once
#include <logging/line_writer.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

namespace logging {

// Sends every spdlog record, access log line and log_fields record to
// `output.fd` (stdout by default) as one JSON object per line:
// {"time":"2026-11-24T20:19:00.123Z","level":"info","service":"apimon","message":"...",
//  "trace_id":"...","span_id":"..."}  (the last two only when logged with a trace).
// Lines go through a LineWriter: formatted on the calling thread, written by
// a thread of their own every `output.flush_interval`, sooner when a thread's
// buffer passes half full, when spdlog logs a record at info or above (events
// such as a start or a failure, few beside the access log's lines), or when
// log_fields logs one at warn or above. Lines that
// do not fit in their thread's buffer are dropped and counted
// (dropped_records()). Call it once, before other threads log; at exit,
// what is buffered is written (std::atexit), as stop_output does.
// Throws std::invalid_argument for an unknown level name.
void configure_json_stdout(std::string_view service_name, std::string_view level, const LineWriterOptions& output = {});

// Writes every buffered line and ends the writer thread, waiting at most
// `timeout` for the output to take them; later lines are written at once by
// the thread that logs them. For the end of main, once the threads that log
// are done. False if the output did not take everything in time.
bool stop_output(std::chrono::milliseconds timeout);

// Lines not written since the start: their thread's buffer was full (the
// output was slower than the lines came, or blocked), or the output failed.
std::uint64_t dropped_records();

// Trace identifiers (hex) for the log line written while it is alive. The
// logging call is synchronous, so a scope around it is exact even in a
// coroutine: it never spans a suspension.
class TraceFields {
 public:
  TraceFields(std::string_view trace_id, std::string_view span_id);
  ~TraceFields();
  TraceFields(const TraceFields&) = delete;
  TraceFields& operator=(const TraceFields&) = delete;
};

// Logs one line carrying the given trace and span ids.
template <class... Args>
void log_traced(spdlog::level::level_enum level, std::string_view trace_id, std::string_view span_id,
                spdlog::format_string_t<Args...> format, Args&&... args) {
  if (!spdlog::should_log(level)) return;
  TraceFields fields(trace_id, span_id);
  spdlog::log(level, format, std::forward<Args>(args)...);
}

// One request as the access log tells it.
struct AccessRecord {
  std::string_view method{};
  std::string_view route{};
  std::string_view target{};  // the path, without the query
  unsigned status = 0;
  double duration_seconds = 0;
  std::size_t response_bytes = 0;
  std::span<const std::uint8_t> trace_id{};  // the raw ids; empty when the request is not traced
  std::span<const std::uint8_t> span_id{};
};

// Access log lines: one JSON object per request with its own fields, no free text.
void access_log(const AccessRecord& request);

// A record that carries data rather than prose: the usual time, level,
// service and message, then `members`, further members of the object already
// in JSON form (`"sent":10,"latency_ms":{"p99":1.5}`). Nothing below the
// configured level is written.
void log_fields(spdlog::level::level_enum level, std::string_view message, std::string_view members);

}  // namespace logging
