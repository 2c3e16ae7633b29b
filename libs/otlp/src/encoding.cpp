#include "otlp/encoding.hpp"

#include "protobuf_writer.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

namespace otlp {
namespace {

using protobuf::Writer;

// Field numbers from opentelemetry-proto: collector/trace/v1/trace_service.proto,
// trace/v1/trace.proto, resource/v1/resource.proto and common/v1/common.proto.
namespace export_trace_service_request {
constexpr std::uint32_t resource_spans = 1;
}
namespace resource_spans {
constexpr std::uint32_t resource = 1;
constexpr std::uint32_t scope_spans = 2;
}  // namespace resource_spans
namespace resource_fields {
constexpr std::uint32_t attributes = 1;
}
namespace scope_spans {
constexpr std::uint32_t scope = 1;
constexpr std::uint32_t spans = 2;
}  // namespace scope_spans
namespace instrumentation_scope {
constexpr std::uint32_t name = 1;
constexpr std::uint32_t version = 2;
}  // namespace instrumentation_scope
namespace span {
constexpr std::uint32_t trace_id = 1;
constexpr std::uint32_t span_id = 2;
constexpr std::uint32_t trace_state = 3;
constexpr std::uint32_t parent_span_id = 4;
constexpr std::uint32_t name = 5;
constexpr std::uint32_t kind = 6;
constexpr std::uint32_t start_time_unix_nano = 7;  // fixed64
constexpr std::uint32_t end_time_unix_nano = 8;    // fixed64
constexpr std::uint32_t attributes = 9;
constexpr std::uint32_t dropped_attributes_count = 10;
constexpr std::uint32_t events = 11;
constexpr std::uint32_t dropped_events_count = 12;
constexpr std::uint32_t links = 13;
constexpr std::uint32_t dropped_links_count = 14;
constexpr std::uint32_t status = 15;
constexpr std::uint32_t flags = 16;  // fixed32
}  // namespace span
namespace event {
constexpr std::uint32_t time_unix_nano = 1;  // fixed64
constexpr std::uint32_t name = 2;
constexpr std::uint32_t attributes = 3;
}  // namespace event
namespace link {
constexpr std::uint32_t trace_id = 1;
constexpr std::uint32_t span_id = 2;
constexpr std::uint32_t trace_state = 3;
constexpr std::uint32_t attributes = 4;
constexpr std::uint32_t flags = 6;  // fixed32
// SpanFlags: the linked context says whether it came from another process.
constexpr std::uint32_t has_is_remote = 0x100;
constexpr std::uint32_t is_remote = 0x200;
}  // namespace link
namespace status {
constexpr std::uint32_t message = 2;
constexpr std::uint32_t code = 3;
}  // namespace status
namespace key_value {
constexpr std::uint32_t key = 1;
constexpr std::uint32_t value = 2;
}  // namespace key_value
namespace any_value {
constexpr std::uint32_t string_value = 1;
constexpr std::uint32_t bool_value = 2;
constexpr std::uint32_t int_value = 3;
constexpr std::uint32_t double_value = 4;
}  // namespace any_value

bool all_zero(std::span<const std::uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

template <typename AttributeRange>
void write_attributes(Writer& writer, std::uint32_t field, const AttributeRange& attributes) {
  for (const auto& attribute : attributes) {
    const std::string_view key = attribute.key;
    const auto& value = attribute.value;
    const auto* text = std::get_if<std::string>(&value);
    const std::size_t value_estimate = text ? text->size() + 4 : 11;
    writer.message(field, key.size() + value_estimate + 4, [&] {
      writer.string_field(key_value::key, key);
      writer.message(key_value::value, value_estimate, [&] {
        std::visit(
            [&](const auto& v) {
              using T = std::decay_t<decltype(v)>;
              if constexpr (std::is_same_v<T, std::string>)
                writer.string_field(any_value::string_value, v);
              else if constexpr (std::is_same_v<T, bool>)
                writer.bool_field(any_value::bool_value, v);
              else if constexpr (std::is_same_v<T, std::int64_t>)
                writer.int64_field(any_value::int_value, v);
              else
                writer.double_field(any_value::double_value, v);
            },
            value);
      });
    });
  }
}

void write_link(Writer& writer, const trace::SpanLink& l) {
  writer.bytes_field(link::trace_id, std::span<const std::uint8_t>(l.context.trace_id.bytes));
  writer.bytes_field(link::span_id, std::span<const std::uint8_t>(l.context.span_id.bytes));
  if (!l.context.trace_state.empty()) writer.string_field(link::trace_state, l.context.trace_state);
  write_attributes(writer, link::attributes, l.attributes);
  writer.fixed32_field(link::flags,
                       l.context.trace_flags | link::has_is_remote | (l.context.remote ? link::is_remote : 0U));
}

void write_span(Writer& writer, const trace::SpanData& data) {
  writer.bytes_field(span::trace_id, std::span<const std::uint8_t>(data.trace_id.bytes));
  writer.bytes_field(span::span_id, std::span<const std::uint8_t>(data.span_id.bytes));
  if (!data.trace_state.empty()) writer.string_field(span::trace_state, data.trace_state);
  if (!all_zero(data.parent_span_id.bytes))
    writer.bytes_field(span::parent_span_id, std::span<const std::uint8_t>(data.parent_span_id.bytes));
  if (!data.name.empty()) writer.string_field(span::name, data.name);
  writer.uint64_field(span::kind, static_cast<std::uint64_t>(data.kind));
  if (data.start_unix_nano != 0) writer.fixed64_field(span::start_time_unix_nano, data.start_unix_nano);
  if (data.end_unix_nano != 0) writer.fixed64_field(span::end_time_unix_nano, data.end_unix_nano);
  write_attributes(writer, span::attributes, data.attributes);
  if (data.dropped_attributes != 0) writer.uint64_field(span::dropped_attributes_count, data.dropped_attributes);
  for (const auto& e : data.events) {
    writer.message(span::events, [&] {
      if (e.time_unix_nano != 0) writer.fixed64_field(event::time_unix_nano, e.time_unix_nano);
      if (!e.name.empty()) writer.string_field(event::name, e.name);
      write_attributes(writer, event::attributes, e.attributes);
    });
  }
  if (data.dropped_events != 0) writer.uint64_field(span::dropped_events_count, data.dropped_events);
  for (const auto& l : data.links) writer.message(span::links, [&] { write_link(writer, l); });
  if (data.dropped_links != 0) writer.uint64_field(span::dropped_links_count, data.dropped_links);
  if (data.status != trace::StatusCode::unset) {
    writer.message(span::status, [&] {
      if (data.status == trace::StatusCode::error && !data.status_message.empty())
        writer.string_field(status::message, data.status_message);
      writer.uint64_field(status::code, static_cast<std::uint64_t>(data.status));
    });
  }
  if (data.trace_flags != 0) writer.fixed32_field(span::flags, data.trace_flags);
}

template <typename AttributeRange>
std::size_t attributes_estimate(const AttributeRange& attributes) {
  std::size_t size = 0;
  for (const auto& attribute : attributes) {
    size += attribute.key.size() + 16;
    if (const auto* text = std::get_if<std::string>(&attribute.value)) size += text->size();
  }
  return size;
}

// Generous guesses of encoded sizes: the output grows at most once or twice,
// and a nested message's length rarely needs more room than was kept for it.
std::size_t span_estimate(const trace::SpanData& data) {
  std::size_t size = 96 + data.trace_state.size() + data.name.size() + data.status_message.size() +
                     attributes_estimate(data.attributes);
  for (const auto& e : data.events) size += 24 + e.name.size() + attributes_estimate(e.attributes);
  for (const auto& l : data.links) size += 48 + l.context.trace_state.size() + attributes_estimate(l.attributes);
  return size;
}

const trace::SpanData& record(const trace::SpanData& data) { return data; }
const trace::SpanData& record(const trace::SpanData* data) { return *data; }

template <typename Spans>
std::size_t size_estimate(const trace::Resource& resource, const trace::InstrumentationScope& scope, Spans spans) {
  std::size_t size = 32 + attributes_estimate(resource.attributes) + scope.name.size() + scope.version.size();
  for (const auto& data : spans) size += span_estimate(record(data));
  return size;
}

template <typename Spans>
void append_request(std::string& out, const trace::Resource& resource, const trace::InstrumentationScope& scope,
                    Spans spans) {
  const std::size_t estimate = size_estimate(resource, scope, spans);
  out.reserve(out.size() + estimate);
  Writer writer(out);
  writer.message(export_trace_service_request::resource_spans, estimate, [&] {
    writer.message(resource_spans::resource, attributes_estimate(resource.attributes),
                   [&] { write_attributes(writer, resource_fields::attributes, resource.attributes); });
    writer.message(resource_spans::scope_spans, estimate, [&] {
      writer.message(scope_spans::scope, [&] {
        if (!scope.name.empty()) writer.string_field(instrumentation_scope::name, scope.name);
        if (!scope.version.empty()) writer.string_field(instrumentation_scope::version, scope.version);
      });
      for (const auto& data : spans)
        writer.message(scope_spans::spans, span_estimate(record(data)), [&] { write_span(writer, record(data)); });
    });
  });
}

}  // namespace

void append_export_trace_request(std::string& out, const trace::Resource& resource,
                                 const trace::InstrumentationScope& scope, std::span<const trace::SpanData> spans) {
  append_request(out, resource, scope, spans);
}

void append_export_trace_request(std::string& out, const trace::Resource& resource,
                                 const trace::InstrumentationScope& scope, trace::SpanBatch spans) {
  append_request(out, resource, scope, spans);
}

std::string encode_export_trace_request(const trace::Resource& resource, const trace::InstrumentationScope& scope,
                                        std::span<const trace::SpanData> spans) {
  std::string out;
  append_export_trace_request(out, resource, scope, spans);
  return out;
}

}  // namespace otlp
