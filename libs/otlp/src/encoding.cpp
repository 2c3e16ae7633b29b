#include "otlp/encoding.hpp"

#include "protobuf_writer.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

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

using protobuf::encode_varint;
using protobuf::varint_size;

constexpr char length_delimited_tag(std::uint32_t field) {
  return static_cast<char>((field << 3) | static_cast<std::uint8_t>(protobuf::WireType::length_delimited));
}

// varint_size with a branch for what lengths mostly are: below 128.
std::size_t length_size(std::size_t length) { return length < 0x80 ? 1 : varint_size(length); }

// Eight bytes, little-endian as protobuf's fixed64 is.
void store_little_endian(char* at, std::uint64_t value) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(at, &value, sizeof value);
  } else {
    for (std::size_t i = 0; i < 8; ++i) at[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  }
}

char* copy(char* at, std::string_view bytes) {
  if (!bytes.empty()) std::memcpy(at, bytes.data(), bytes.size());
  return at + bytes.size();
}

// One attribute as a KeyValue field, every length computed before the first
// byte is written, so each is written once and nothing moves. `any_value` is
// the AnyValue body's size; `value` writes that body at the pointer it gets.
// Every field number an attribute list lives in (Span 9, Event 3, Link 4,
// Resource 1) takes a one-byte tag.
template <class WriteValue>
void write_key_value(Writer& writer, std::uint32_t field, std::string_view key, std::size_t any_value,
                     WriteValue&& value) {
  const std::size_t key_value = 1 + length_size(key.size()) + key.size() + 1 + length_size(any_value) + any_value;
  char* at = writer.claim(1 + length_size(key_value) + key_value);
  *at++ = length_delimited_tag(field);
  at += encode_varint(key_value, at);
  *at++ = length_delimited_tag(key_value::key);
  at += encode_varint(key.size(), at);
  at = copy(at, key);
  *at++ = length_delimited_tag(key_value::value);
  at += encode_varint(any_value, at);
  value(at);
}

void write_attribute(Writer& writer, std::uint32_t field, std::string_view key, std::string_view text) {
  write_key_value(writer, field, key, 1 + length_size(text.size()) + text.size(), [&](char* at) {
    *at++ = length_delimited_tag(any_value::string_value);
    at += encode_varint(text.size(), at);
    copy(at, text);
  });
}

void write_attribute(Writer& writer, std::uint32_t field, std::string_view key, std::int64_t integer) {
  const auto bits = static_cast<std::uint64_t>(integer);
  write_key_value(writer, field, key, 1 + varint_size(bits), [&](char* at) {
    *at++ = static_cast<char>(any_value::int_value << 3);
    encode_varint(bits, at);
  });
}

void write_attribute(Writer& writer, std::uint32_t field, std::string_view key, double floating) {
  write_key_value(writer, field, key, 1 + 8, [&](char* at) {
    *at++ = static_cast<char>((any_value::double_value << 3) | static_cast<std::uint8_t>(protobuf::WireType::fixed64));
    store_little_endian(at, std::bit_cast<std::uint64_t>(floating));
  });
}

void write_attribute(Writer& writer, std::uint32_t field, std::string_view key, bool flag) {
  write_key_value(writer, field, key, 1 + 1, [&](char* at) {
    *at++ = static_cast<char>(any_value::bool_value << 3);
    *at = flag ? 1 : 0;
  });
}

void write_attributes(Writer& writer, std::uint32_t field, const trace::SpanAttributes& attributes) {
  attributes.for_each([&](std::string_view key, const auto& value) { write_attribute(writer, field, key, value); });
}

void write_attributes(Writer& writer, std::uint32_t field, const trace::Attributes& attributes) {
  for (const auto& attribute : attributes)
    std::visit(
        [&](const auto& value) {
          if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::string>)
            write_attribute(writer, field, attribute.key, std::string_view(value));
          else
            write_attribute(writer, field, attribute.key, value);
        },
        attribute.value);
}

// A span's shared attributes, encoded once per encoding thread and copied
// after that: the sets never change (trace::SharedAttributes). Sets past the
// first max_cached_sets interned are encoded every time.
void write_shared_attributes(Writer& writer, const trace::SharedAttributes& shared) {
  constexpr std::size_t max_cached_sets = 256;
  thread_local std::vector<std::optional<std::string>> encoded_sets;
  if (shared.id() >= max_cached_sets) {
    write_attributes(writer, span::attributes, shared.attributes());
    return;
  }
  if (encoded_sets.size() <= shared.id()) encoded_sets.resize(shared.id() + 1);
  auto& encoded = encoded_sets[shared.id()];
  if (!encoded) {
    encoded.emplace();
    Writer set_writer(*encoded);
    write_attributes(set_writer, span::attributes, shared.attributes());
  }
  copy(writer.claim(encoded->size()), *encoded);
}

// A guess of attributes' encoded size, generous for short values.
std::size_t attributes_estimate(const trace::Attributes& attributes) {
  std::size_t size = 0;
  for (const auto& attribute : attributes) {
    size += attribute.key.size() + 16;
    if (const auto* text = std::get_if<std::string>(&attribute.value)) size += text->size();
  }
  return size;
}

void write_link(Writer& writer, const trace::SpanLink& l) {
  writer.bytes_field(link::trace_id, std::span<const std::uint8_t>(l.context.trace_id.bytes));
  writer.bytes_field(link::span_id, std::span<const std::uint8_t>(l.context.span_id.bytes));
  if (!l.context.trace_state.empty()) writer.string_field(link::trace_state, l.context.trace_state);
  write_attributes(writer, link::attributes, l.attributes);
  writer.fixed32_field(link::flags,
                       l.context.trace_flags | link::has_is_remote | (l.context.remote ? link::is_remote : 0U));
}

// A fixed-width identifier as a bytes field: tag, one-byte length, the bytes.
template <std::size_t N>
char* write_id(char* at, std::uint32_t field, const std::array<std::uint8_t, N>& bytes) {
  static_assert(N < 0x80);
  *at++ = length_delimited_tag(field);
  *at++ = static_cast<char>(N);
  std::memcpy(at, bytes.data(), N);
  return at + N;
}

char* write_fixed64(char* at, std::uint32_t field, std::uint64_t value) {
  *at++ = static_cast<char>((field << 3) | static_cast<std::uint8_t>(protobuf::WireType::fixed64));
  store_little_endian(at, value);
  return at + 8;
}

void write_span(Writer& writer, const trace::SpanData& data) {
  constexpr std::size_t ids_size = 2 + 16 + 2 + 8;
  write_id(write_id(writer.claim(ids_size), span::trace_id, data.trace_id.bytes), span::span_id, data.span_id.bytes);
  if (!data.trace_state.empty()) writer.string_field(span::trace_state, data.trace_state);
  if (data.parent_span_id.valid()) write_id(writer.claim(2 + 8), span::parent_span_id, data.parent_span_id.bytes);
  if (!data.name.empty()) writer.string_field(span::name, data.name);
  // The kind (below 128: one byte) and both timestamps, in one claim.
  const std::size_t times_size = (data.start_unix_nano != 0 ? 9 : 0) + (data.end_unix_nano != 0 ? 9 : 0);
  char* at = writer.claim(2 + times_size);
  *at++ = static_cast<char>(span::kind << 3);
  *at++ = static_cast<char>(data.kind);
  if (data.start_unix_nano != 0) at = write_fixed64(at, span::start_time_unix_nano, data.start_unix_nano);
  if (data.end_unix_nano != 0) write_fixed64(at, span::end_time_unix_nano, data.end_unix_nano);
  if (data.shared_attributes != nullptr) write_shared_attributes(writer, *data.shared_attributes);
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

const trace::SpanData& record(const trace::SpanData& data) { return data; }
const trace::SpanData& record(const trace::SpanData* data) { return *data; }

// Room kept for a span's length: two bytes, right for spans of 128 bytes to
// 16 KiB (a request's spans mostly); a shorter or longer span costs a move of
// its body. Enclosing messages keep room for about this much per span.
constexpr std::size_t typical_span_bytes = 512;

template <typename Spans>
void append_request(std::string& out, const trace::Resource& resource, const trace::InstrumentationScope& scope,
                    Spans spans) {
  const std::size_t estimate = 64 + attributes_estimate(resource.attributes) + scope.name.size() +
                               scope.version.size() + spans.size() * typical_span_bytes;
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
        writer.message(scope_spans::spans, typical_span_bytes, [&] { write_span(writer, record(data)); });
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
