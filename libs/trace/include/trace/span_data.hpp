#pragma once
// A finished span as processors and exporters see it, in OpenTelemetry's model.
#include "trace/trace_context.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

// A span attribute's value as its record holds it: a string is a view of the
// record's own text, valid while the record is neither changed nor reused.
using AttributeValueView = std::variant<std::string_view, std::int64_t, double, bool>;

struct AttributeView {
  AttributeKey key;
  AttributeValueView value;
};

// A span's own attributes, compact: a slot per attribute holds its key and a
// number, a flag, or where its string lies in one text buffer the record owns.
// No slot owns memory, so setting an attribute never allocates once the
// record's buffers have grown, whatever type the slot held in its last span;
// clear() keeps both buffers' capacity for the record's next span.
class SpanAttributes {
 public:
  SpanAttributes() = default;
  SpanAttributes(std::initializer_list<Attribute> attributes) {
    for (const auto& attribute : attributes) push_back(attribute);
  }

  class Iterator {
   public:
    using value_type = AttributeView;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    Iterator(const SpanAttributes* owner, std::size_t index) : owner_(owner), index_(index) {}
    AttributeView operator*() const { return (*owner_)[index_]; }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++index_;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.index_ == b.index_; }

   private:
    const SpanAttributes* owner_ = nullptr;
    std::size_t index_ = 0;
  };

  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, slots_.size()}; }
  std::size_t size() const { return slots_.size(); }
  bool empty() const { return slots_.empty(); }
  AttributeView operator[](std::size_t i) const {
    const Slot& slot = slots_[i];
    switch (slot.type) {
      case Type::text: return {slot.key, std::string_view(text_.data() + slot.text.offset, slot.text.length)};
      case Type::integer: return {slot.key, slot.integer};
      case Type::floating: return {slot.key, slot.floating};
      default: return {slot.key, slot.flag};
    }
  }

  // Calls visit(key, value) for every attribute in order, `value` a
  // std::string_view, std::int64_t, double or bool: a view of each without
  // building a variant.
  template <class Visitor>
  void for_each(Visitor&& visit) const {
    for (const Slot& slot : slots_) {
      switch (slot.type) {
        case Type::text:
          visit(slot.key.view(), std::string_view(text_.data() + slot.text.offset, slot.text.length));
          break;
        case Type::integer: visit(slot.key.view(), slot.integer); break;
        case Type::floating: visit(slot.key.view(), slot.floating); break;
        case Type::flag: visit(slot.key.view(), slot.flag); break;
      }
    }
  }

  // The index of `key`'s slot, or size() when the span does not have it. A
  // key whose summary bit is clear is new without comparing it to any.
  std::size_t find(const AttributeKey& key) const {
    if ((seen_keys_ & summary_bit(key)) == 0) return slots_.size();
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (same_key(slots_[i].key, key)) return i;
    return slots_.size();
  }
  // Appends a slot for `key` (a number until set), returning its index.
  std::size_t append(const AttributeKey& key) {
    if (slots_.size() == slots_.capacity()) grow();
    seen_keys_ |= summary_bit(key);
    slots_.emplace_back(key);
    return slots_.size() - 1;
  }

  void set(std::size_t i, std::string_view value) {
    // Offsets are 32-bit: text past 4 GiB in one span is cut, never wrapped
    // (text_ never holds more, so the subtraction cannot wrap).
    constexpr std::size_t max_text_bytes = 0xffffffff;
    if (value.size() > max_text_bytes - text_.size()) [[unlikely]]
      value = value.substr(0, max_text_bytes - text_.size());
    Slot& slot = slots_[i];
    // Replaced in place when it fits or is the last text; else the old bytes
    // stay unused until the record is cleared.
    if (slot.type == Type::text &&
        (value.size() <= slot.text.length || slot.text.offset + slot.text.length == text_.size())) {
      if (slot.text.offset + slot.text.length == text_.size()) text_.resize(slot.text.offset + value.size());
      if (!value.empty()) std::memcpy(text_.data() + slot.text.offset, value.data(), value.size());
      slot.text.length = static_cast<std::uint32_t>(value.size());
      return;
    }
    slot.type = Type::text;
    slot.text.offset = static_cast<std::uint32_t>(text_.size());
    slot.text.length = static_cast<std::uint32_t>(value.size());
    text_.append(value);
  }
  void set(std::size_t i, std::int64_t value) {
    slots_[i].type = Type::integer;
    slots_[i].integer = value;
  }
  void set(std::size_t i, double value) {
    slots_[i].type = Type::floating;
    slots_[i].floating = value;
  }
  void set(std::size_t i, bool value) {
    slots_[i].type = Type::flag;
    slots_[i].flag = value;
  }
  void set(std::size_t i, const AttributeValue& value) {
    std::visit([this, i](const auto& v) { this->set(i, v); }, value);
  }
  void set(std::size_t i, const std::string& value) { set(i, std::string_view(value)); }

  void push_back(const Attribute& attribute) { set(append(attribute.key), attribute.value); }
  // Bytes the string values can take before the text buffer grows.
  std::size_t text_capacity() const { return text_.capacity(); }
  void clear() {
    slots_.clear();
    text_.clear();
    seen_keys_ = 0;
  }

 private:
  enum class Type : std::uint8_t { integer, text, floating, flag };
  struct Text {
    std::uint32_t offset;
    std::uint32_t length;
  };
  struct Slot {
    explicit Slot(const AttributeKey& key_) : key(key_) {}
    AttributeKey key;
    Type type = Type::integer;
    union {
      std::int64_t integer = 0;
      double floating;
      bool flag;
      Text text;
    };
  };

  // Keys are mostly the same literal, so the same pointer: compared by
  // pointer first, by content only when the lengths match.
  static bool same_key(const AttributeKey& a, const AttributeKey& b) {
    const std::string_view x = a.view();
    const std::string_view y = b.view();
    return x.size() == y.size() && (x.data() == y.data() || x == y);
  }

  // One of 64 bits for a key, from its length and last character: equal keys
  // always share it, so a clear bit in seen_keys_ proves a key new.
  static std::uint64_t summary_bit(const AttributeKey& key) {
    const std::string_view name = key.view();
    const std::size_t last = name.empty() ? 0 : static_cast<unsigned char>(name.back());
    return std::uint64_t{1} << ((name.size() * 7 + last) & 63);
  }
  // Room for a typical span's attributes at once instead of regrowing from one.
  void grow() { slots_.reserve(std::max<std::size_t>(16, 2 * slots_.capacity())); }

  std::vector<Slot> slots_;
  std::string text_;
  std::uint64_t seen_keys_ = 0;  // the summary bits of every key in slots_
};

// Attributes that are the same on every span carrying them and known when
// the process starts: a database's name and address, a query's text, a
// server's port. Interned like keys from configuration: one immutable copy of
// each distinct set, kept until the process exits, so a span refers to it by
// pointer instead of copying it, and an exporter can keep its encoded form
// (the OTLP encoder does). For sets from configuration, never per-request data.
class SharedAttributes {
 public:
  static const SharedAttributes& intern(const Attributes& attributes);

  const SpanAttributes& attributes() const { return attributes_; }
  std::size_t size() const { return attributes_.size(); }
  bool contains(const AttributeKey& key) const { return attributes_.find(key) != attributes_.size(); }
  // 0, 1, 2... in the order the sets were first interned: an index for an
  // exporter's cache of encoded sets.
  std::size_t id() const { return id_; }

  SharedAttributes(const SharedAttributes&) = delete;
  SharedAttributes& operator=(const SharedAttributes&) = delete;

 private:
  SharedAttributes(const Attributes& attributes, std::size_t id);
  SpanAttributes attributes_;
  std::size_t id_;
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
  // A span's attributes are the shared set's (if any) and its own; the two
  // never hold the same key (setting a shared key copies the set into the
  // span's own first).
  const SharedAttributes* shared_attributes = nullptr;
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

  // Every attribute, the shared ones first: visit(key, value) as in SpanAttributes::for_each.
  template <class Visitor>
  void for_each_attribute(Visitor&& visit) const {
    if (shared_attributes != nullptr) shared_attributes->attributes().for_each(visit);
    attributes.for_each(visit);
  }
  std::size_t attribute_count() const {
    return (shared_attributes != nullptr ? shared_attributes->size() : 0) + attributes.size();
  }
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
