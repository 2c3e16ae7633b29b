#pragma once
#include <spdlog/spdlog.h>

#include <string_view>

namespace logging {

// Sends every spdlog record to stdout as one JSON object per line:
// {"time":"2026-11-24T20:19:00.123Z","level":"info","service":"apimon","message":"...",
//  "trace_id":"...","span_id":"..."}  (the last two only when logged with a trace).
// Throws std::invalid_argument for an unknown level name.
void configure_json_stdout(std::string_view service_name, std::string_view level);

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

// Access log lines: one JSON object per request with its own fields, no free text.
void access_log(std::string_view method, std::string_view route, std::string_view target, unsigned status,
                double duration_seconds, std::size_t response_bytes, std::string_view trace_id,
                std::string_view span_id);

// A record that carries data rather than prose: the usual time, level,
// service and message, then `members`, further members of the object already
// in JSON form (`"sent":10,"latency_ms":{"p99":1.5}`). Nothing below the
// configured level is written.
void log_fields(spdlog::level::level_enum level, std::string_view message, std::string_view members);

}  // namespace logging
