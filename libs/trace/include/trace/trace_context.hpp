#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): identifiers, the
// traceparent and tracestate headers, and random identifiers.
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace trace {

namespace detail {
// Eight bytes at a time: every span start asks this of one or two ids.
template <std::size_t N>
bool all_zero(const std::array<std::uint8_t, N>& bytes) {
  static_assert(N % 8 == 0);
  std::uint64_t any = 0;
  for (std::size_t i = 0; i < N; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    any |= word;
  }
  return any == 0;
}
}  // namespace detail

struct TraceId {
  std::array<std::uint8_t, 16> bytes{};
  bool valid() const { return !detail::all_zero(bytes); }
  std::string hex() const;  // 32 lower-case hex digits
};

struct SpanId {
  std::array<std::uint8_t, 8> bytes{};
  bool valid() const { return !detail::all_zero(bytes); }
  std::string hex() const;  // 16 lower-case hex digits
};

bool operator==(const TraceId& left, const TraceId& right);
bool operator==(const SpanId& left, const SpanId& right);

// The part of a span that crosses process boundaries.
struct SpanContext {
  TraceId trace_id;
  SpanId span_id;
  std::uint8_t trace_flags = 0;  // bit 0: sampled
  std::string trace_state;       // the tracestate header, already validated
  bool remote = false;

  bool valid() const { return trace_id.valid() && span_id.valid(); }
  bool sampled() const { return (trace_flags & 0x01) != 0; }
};

// Parses a traceparent header (version 00, or a later version read as 00 as
// the specification asks). An invalid header yields nullopt: the caller starts
// a new trace, never fails the request.
std::optional<SpanContext> parse_traceparent(std::string_view header);

// Keeps a tracestate header only if it is valid (one to 32 list members of
// key=value with the specification's character sets, besides empty ones),
// else returns "".
std::string validate_tracestate(std::string_view header);

// "00-<trace id>-<span id>-<flags>"
std::string format_traceparent(const SpanContext& context);

// Random identifiers from a per-thread generator seeded from std::random_device;
// never all zero.
TraceId random_trace_id();
SpanId random_span_id();

}  // namespace trace
