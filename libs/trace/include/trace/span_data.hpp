#pragma once
// A finished span as processors and exporters see it, in OpenTelemetry's model.
#include "trace/trace_context.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace trace {

using AttributeValue = std::variant<std::string, std::int64_t, double, bool>;
using Attribute = std::pair<std::string, AttributeValue>;
using Attributes = std::vector<Attribute>;

// Values as in opentelemetry-proto's Span.SpanKind.
enum class SpanKind : std::uint8_t { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

// Values as in opentelemetry-proto's Status.StatusCode.
enum class StatusCode : std::uint8_t { unset = 0, ok = 1, error = 2 };

struct SpanEvent {
  std::string name;
  std::uint64_t time_unix_nano = 0;
  Attributes attributes;
};

struct SpanData {
  TraceId trace_id;
  SpanId span_id;
  SpanId parent_span_id;  // all zero for a root span
  std::string trace_state;
  std::uint8_t trace_flags = 0;
  std::string name;
  SpanKind kind = SpanKind::internal;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  Attributes attributes;
  std::vector<SpanEvent> events;
  StatusCode status = StatusCode::unset;
  std::string status_message;  // only with StatusCode::error
  std::uint32_t dropped_attributes = 0;
  std::uint32_t dropped_events = 0;
};

// Who produced the spans: service.name and friends.
struct Resource {
  Attributes attributes;
};

struct InstrumentationScope {
  std::string name;
  std::string version;
};

}  // namespace trace
