#include "logging/logging.hpp"

#include <json_writer/json_writer.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <array>
#include <cstdio>
#include <stdexcept>

namespace logging {
namespace {

thread_local std::string_view current_trace_id;
thread_local std::string_view current_span_id;

// %j: the message as a JSON string, quotes included.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& message, const std::tm& /*time*/,
              spdlog::memory_buf_t& destination) override {
    std::string escaped;
    json_writer::append_escaped(escaped, std::string_view(message.payload.data(), message.payload.size()));
    destination.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

// %J: ,"trace_id":"…","span_id":"…" when the line is logged with a trace, else nothing.
class TraceFieldsFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& /*message*/, const std::tm& /*time*/,
              spdlog::memory_buf_t& destination) override {
    if (current_trace_id.empty()) return;
    std::string fields;
    fields.append(R"(,"trace_id":)");
    json_writer::append_escaped(fields, current_trace_id);
    fields.append(R"(,"span_id":)");
    json_writer::append_escaped(fields, current_span_id);
    destination.append(fields.data(), fields.data() + fields.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<TraceFieldsFlag>(); }
};

std::string service_json;  // the service name, already a JSON string

}  // namespace

TraceFields::TraceFields(std::string_view trace_id, std::string_view span_id) {
  current_trace_id = trace_id;
  current_span_id = span_id;
}

TraceFields::~TraceFields() {
  current_trace_id = {};
  current_span_id = {};
}

void configure_json_stdout(std::string_view service_name, std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off")
    throw std::invalid_argument("unknown log level: " + std::string(level));

  service_json.clear();
  json_writer::append_escaped(service_json, service_name);
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<JsonMessageFlag>('j').add_flag<TraceFieldsFlag>('J').set_pattern(
      R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","service":)" + service_json + R"(,"message":%j%J})");

  auto logger = std::make_shared<spdlog::logger>(std::string(service_name),
                                                 std::make_shared<spdlog::sinks::stdout_sink_mt>());
  logger->set_formatter(std::move(formatter));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  // One line is one record: flush each as it completes, so a collector sees it at once.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
}

namespace {

// Opens a record written directly rather than through spdlog's formatter (it
// has fields, not just a message): time, level, service and message.
void begin_record(json_writer::Writer& json, std::string_view level, std::string_view message) {
  std::array<char, 32> time_text;
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const auto length = std::strftime(time_text.data(), time_text.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(time_text.data() + length, time_text.size() - length, ".%03dZ", static_cast<int>(millis));
  json.begin_object()
      .member("time", std::string_view(time_text.data()))
      .member("level", level)
      .key("service")
      .raw(service_json.empty() ? std::string_view("\"\"") : std::string_view(service_json))
      .member("message", message);
}

void end_record(json_writer::Writer& json, std::string& line) {
  json.end_object();
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
}

}  // namespace

void access_log(std::string_view method, std::string_view route, std::string_view target, unsigned status,
                double duration_seconds, std::size_t response_bytes, std::string_view trace_id,
                std::string_view span_id) {
  std::array<char, 32> duration;
  std::snprintf(duration.data(), duration.size(), "%.3f", duration_seconds * 1000.0);

  std::string line;
  line.reserve(320);
  json_writer::Writer json(line);
  begin_record(json, "info", "request");
  json.member("http.request.method", method)
      .member("http.route", route)
      .member("url.path", target)
      .member("http.response.status_code", static_cast<int>(status))
      .key("duration_ms")
      .raw(duration.data())
      .member("response_bytes", static_cast<std::int64_t>(response_bytes));
  if (!trace_id.empty()) json.member("trace_id", trace_id).member("span_id", span_id);
  end_record(json, line);
}

void log_fields(spdlog::level::level_enum level, std::string_view message, std::string_view members) {
  if (!spdlog::should_log(level)) return;
  std::string line;
  line.reserve(members.size() + 160);
  json_writer::Writer json(line);
  const auto level_name = spdlog::level::to_string_view(level);
  begin_record(json, std::string_view(level_name.data(), level_name.size()), message);
  if (!members.empty()) line.append(",").append(members);
  end_record(json, line);
}

}  // namespace logging
