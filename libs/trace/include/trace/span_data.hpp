#pragma once
// A finished span as processors and exporters see it, in OpenTelemetry's model.
#include "trace/trace_context.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace trace {

using AttributeValue = std::variant<std::string, std::int64_t, double, bool>;

// An attribute's name, a view of static storage: it is never copied. The
// constructor is consteval, so a string literal (or any other compile-time
// constant) converts implicitly and a key computed at run time does not
// compile. A name known only at run time (read from configuration) goes
// through AttributeKey::intern, which keeps one copy of each distinct name
// until the process exits: for names from configuration, never per-request data.
class AttributeKey {
 public:
  consteval AttributeKey(const char* literal) : view_(literal) {}
  consteval AttributeKey(std::string_view literal) : view_(literal) {}

  static AttributeKey intern(std::string_view name);

  std::string_view view() const { return view_; }
  operator std::string_view() const { return view_; }
  std::size_t size() const { return view_.size(); }

  friend bool operator==(const AttributeKey& a, std::string_view b) { return a.view_ == b; }

 private:
  struct Interned {};
  AttributeKey(Interned /*tag*/, std::string_view name) : view_(name) {}
  std::string_view view_;
};

struct Attribute {
  AttributeKey key;
  AttributeValue value;
};

using Attributes = std::vector<Attribute>;

// A span's own attributes. clear() keeps the slots, so a record reused for
// another span writes string values into the capacity the last one left.
class SpanAttributes {
 public:
  SpanAttributes() = default;
  SpanAttributes(std::initializer_list<Attribute> attributes) : slots_(attributes), size_(slots_.size()) {}

  const Attribute* begin() const { return slots_.data(); }
  const Attribute* end() const { return slots_.data() + size_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Attribute& operator[](std::size_t i) const { return slots_[i]; }

  // The value of `key`, or null.
  AttributeValue* find(std::string_view key) {
    for (std::size_t i = 0; i < size_; ++i)
      if (slots_[i].key == key) return &slots_[i].value;
    return nullptr;
  }
  // A new attribute's slot, its value as the slot's last use left it: the caller assigns it.
  AttributeValue& append(const AttributeKey& key) {
    if (size_ == slots_.size()) {
      // Room for a typical span's attributes at once instead of regrowing from one.
      if (slots_.empty()) slots_.reserve(8);
      slots_.push_back(Attribute{key, std::int64_t{0}});
    } else {
      slots_[size_].key = key;
    }
    return slots_[size_++].value;
  }
  void push_back(Attribute attribute) { append(attribute.key) = std::move(attribute.value); }
  void clear() { size_ = 0; }

 private:
  std::vector<Attribute> slots_;
  std::size_t size_ = 0;
};

// Values as in opentelemetry-proto's Span.SpanKind.
enum class SpanKind : std::uint8_t { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

// Values as in opentelemetry-proto's Status.StatusCode.
enum class StatusCode : std::uint8_t { unset = 0, ok = 1, error = 2 };

struct SpanEvent {
  std::string name;
  std::uint64_t time_unix_nano = 0;
  Attributes attributes;
};

// A reference from one span to another, in this trace or another: the span
// was caused by, or did work for, the linked one without being its child
// (one query answering several requests).
struct SpanLink {
  SpanContext context;
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
  SpanAttributes attributes;
  std::vector<SpanEvent> events;
  std::vector<SpanLink> links;
  StatusCode status = StatusCode::unset;
  std::string status_message;  // only with StatusCode::error
  std::uint32_t dropped_attributes = 0;
  std::uint32_t dropped_events = 0;
  std::uint32_t dropped_links = 0;

  // Back to a new record's state, keeping the capacity of its strings and vectors.
  void clear_for_reuse();
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
