#include "logging/logging.hpp"

#include <json_writer/json_writer.hpp>
#include <spdlog/sinks/sink.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace logging {
namespace {

thread_local std::string_view current_trace_id;
thread_local std::string_view current_span_id;

// What configure_json_stdout sets up. Never freed: a thread may still log
// while the process exits.
struct Output {
  std::mutex configure_mutex;
  std::string service_json = R"("")";  // the service name, already a JSON string
  std::atomic<LineWriter*> writer{nullptr};
  std::vector<std::unique_ptr<LineWriter>> writers;  // the current one and any it replaced
};
Output& output = *new Output();  // NOLINT(cppcoreguidelines-owning-memory): see Output

// The line this thread is formatting, written through a cursor into a buffer
// that is kept from line to line: a line costs no allocation. Each record
// asks for room for its worst case (every character escaped) up front.
class LineBuffer {
 public:
  char* start(std::size_t worst_case) {
    if (worst_case > bytes_.size()) bytes_.resize(std::max(worst_case, std::size_t{1024}));
    return bytes_.data();
  }
  std::string_view text(const char* end) const {
    return {bytes_.data(), static_cast<std::size_t>(end - bytes_.data())};
  }
  void release_if_large() {
    if (bytes_.size() > std::size_t{64} * 1024) bytes_ = {};  // one huge record keeps no memory
  }

 private:
  std::vector<char> bytes_;
};

thread_local LineBuffer line_buffer;

// Room for the fixed parts of a record: time, level, keys, ids and numbers.
constexpr std::size_t record_overhead = 512;
constexpr std::size_t escaped_worst_case(std::string_view text) { return json_writer::escaped_size_bound(text.size()); }

void write_directly(std::string_view line) {
  while (!line.empty()) {
    const auto written = ::write(STDOUT_FILENO, line.data(), line.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    line.remove_prefix(static_cast<std::size_t>(written));
  }
}

using json_writer::write_raw;

char* put_integer(char* out, std::uint64_t number) { return std::to_chars(out, out + 24, number).ptr; }

char* put_three_digits(char* out, unsigned value) {
  *out++ = static_cast<char>('0' + value / 100);
  *out++ = static_cast<char>('0' + value / 10 % 10);
  *out++ = static_cast<char>('0' + value % 10);
  return out;
}

// "2026-11-24T20:19:00.123Z": the text up to the second is formatted once a
// second per thread, then only the milliseconds change.
char* put_time(char* out, std::chrono::system_clock::time_point when) {
  struct Second {
    std::int64_t since_epoch = std::numeric_limits<std::int64_t>::min();
    std::array<char, 32> text{};
    std::size_t length = 0;
  };
  thread_local Second cached;
  const auto millis = std::chrono::floor<std::chrono::milliseconds>(when.time_since_epoch()).count();
  const std::int64_t second = millis >= 0 ? millis / 1000 : (millis - 999) / 1000;
  if (second != cached.since_epoch) {
    const auto seconds = static_cast<std::time_t>(second);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    cached.length = std::strftime(cached.text.data(), cached.text.size(), "%Y-%m-%dT%H:%M:%S", &utc);
    cached.since_epoch = second;
  }
  out = write_raw(out, std::string_view(cached.text.data(), cached.length));
  *out++ = '.';
  out = put_three_digits(out, static_cast<unsigned>(millis - (second * 1000)));
  *out++ = 'Z';
  return out;
}

// Opens a record: time, level, service and message.
char* begin_record(char* out, std::chrono::system_clock::time_point when, std::string_view level,
                   std::string_view message) {
  out = write_raw(out, R"({"time":")");
  out = put_time(out, when);
  out = write_raw(out, R"(","level":")");
  out = write_raw(out, level);
  out = write_raw(out, R"(","service":)");
  out = write_raw(out, output.service_json);
  out = write_raw(out, R"(,"message":)");
  return json_writer::write_escaped(out, message);
}

char* put_hex(char* out, std::span<const std::uint8_t> bytes) {
  static constexpr std::string_view digits = "0123456789abcdef";
  *out++ = '"';
  for (const auto byte : bytes) {
    *out++ = digits[byte >> 4];
    *out++ = digits[byte & 0xF];
  }
  *out++ = '"';
  return out;
}

// Milliseconds with three decimals, as "%.3f" would write them.
char* put_milliseconds(char* out, double seconds) {
  const double micros = seconds * 1e6;
  const auto whole = micros > 0 && micros < 1e15 ? static_cast<std::uint64_t>(std::llround(micros)) : 0;
  out = put_integer(out, whole / 1000);
  *out++ = '.';
  return put_three_digits(out, static_cast<unsigned>(whole % 1000));
}

// Ends the object and the line and hands it over; `urgent` has it written
// now rather than at the end of the flush interval.
void finish_line(char* out, std::chrono::system_clock::time_point logged, bool urgent) {
  out = write_raw(out, "}\n");
  const auto line = line_buffer.text(out);
  if (LineWriter* writer = output.writer.load(std::memory_order_acquire)) {
    writer->write(line, logged);
    if (urgent) writer->wake();
  } else {
    write_directly(line);
  }
  line_buffer.release_if_large();
}

std::string_view level_name(spdlog::level::level_enum level) {
  const auto name = spdlog::level::to_string_view(level);
  return {name.data(), name.size()};
}

// spdlog's records as JSON lines through the line writer. Each thread formats
// its own records in its own buffer, so the sink needs no lock; spdlog's
// patterns do not apply.
class JsonLinesSink final : public spdlog::sinks::sink {
 public:
  void log(const spdlog::details::log_msg& message) override {
    const std::string_view payload(message.payload.data(), message.payload.size());
    char* out = line_buffer.start(record_overhead + output.service_json.size() + escaped_worst_case(payload) +
                                  escaped_worst_case(current_trace_id) + escaped_worst_case(current_span_id));
    out = begin_record(out, message.time, level_name(message.level), payload);
    if (!current_trace_id.empty()) {
      out = write_raw(out, R"(,"trace_id":)");
      out = json_writer::write_escaped(out, current_trace_id);
      out = write_raw(out, R"(,"span_id":)");
      out = json_writer::write_escaped(out, current_span_id);
    }
    // Records are events (a start, a stop, a failure), few beside the access
    // log's lines: each is written as soon as the writer thread gets to it.
    finish_line(out, message.time, message.level >= spdlog::level::info);
  }
  void flush() override {
    if (LineWriter* writer = output.writer.load(std::memory_order_acquire)) writer->wake();
  }
  void set_pattern(const std::string& /*pattern*/) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter> /*formatter*/) override {}
};

}  // namespace

TraceFields::TraceFields(std::string_view trace_id, std::string_view span_id) {
  current_trace_id = trace_id;
  current_span_id = span_id;
}

TraceFields::~TraceFields() {
  current_trace_id = {};
  current_span_id = {};
}

void configure_json_stdout(std::string_view service_name, std::string_view level,
                           const LineWriterOptions& output_options) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off")
    throw std::invalid_argument("unknown log level: " + std::string(level));

  const std::lock_guard guard(output.configure_mutex);
  output.service_json.clear();
  json_writer::append_escaped(output.service_json, service_name);
  auto writer = std::make_unique<LineWriter>(output_options);
  if (LineWriter* previous = output.writer.exchange(writer.get(), std::memory_order_acq_rel))
    previous->stop(std::chrono::seconds(5));
  output.writers.push_back(std::move(writer));

  auto logger = std::make_shared<spdlog::logger>(std::string(service_name), std::make_shared<JsonLinesSink>());
  logger->set_level(parsed);
  spdlog::set_default_logger(std::move(logger));
  // Anything else printed with stdio stays whole lines beside the log's.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit([] { stop_output(std::chrono::seconds(5)); }); });
}

bool stop_output(std::chrono::milliseconds timeout) {
  const std::lock_guard guard(output.configure_mutex);
  LineWriter* writer = output.writer.load(std::memory_order_acquire);
  return writer == nullptr || writer->stop(timeout);
}

std::uint64_t dropped_records() {
  const std::lock_guard guard(output.configure_mutex);
  std::uint64_t total = 0;
  for (const auto& writer : output.writers) total += writer->dropped();
  return total;
}

void access_log(const AccessRecord& request) {
  const auto now = std::chrono::system_clock::now();
  char* out = line_buffer.start(record_overhead + output.service_json.size() + escaped_worst_case(request.method) +
                                escaped_worst_case(request.route) + escaped_worst_case(request.target) +
                                (2 * (request.trace_id.size() + request.span_id.size())));
  out = begin_record(out, now, "info", "request");
  out = write_raw(out, R"(,"http.request.method":)");
  out = json_writer::write_escaped(out, request.method);
  out = write_raw(out, R"(,"http.route":)");
  out = json_writer::write_escaped(out, request.route);
  out = write_raw(out, R"(,"url.path":)");
  out = json_writer::write_escaped(out, request.target);
  out = write_raw(out, R"(,"http.response.status_code":)");
  out = put_integer(out, request.status);
  out = write_raw(out, R"(,"duration_ms":)");
  out = put_milliseconds(out, request.duration_seconds);
  out = write_raw(out, R"(,"response_bytes":)");
  out = put_integer(out, request.response_bytes);
  if (!request.trace_id.empty()) {
    out = write_raw(out, R"(,"trace_id":)");
    out = put_hex(out, request.trace_id);
    out = write_raw(out, R"(,"span_id":)");
    out = put_hex(out, request.span_id);
  }
  finish_line(out, now, false);
}

void log_fields(spdlog::level::level_enum level, std::string_view message, std::string_view members) {
  if (!spdlog::should_log(level)) return;
  const auto now = std::chrono::system_clock::now();
  char* out = line_buffer.start(record_overhead + output.service_json.size() + escaped_worst_case(message) +
                                members.size());
  out = begin_record(out, now, level_name(level), message);
  if (!members.empty()) {
    *out++ = ',';
    out = write_raw(out, members);
  }
  finish_line(out, now, level >= spdlog::level::warn);
}

}  // namespace logging
