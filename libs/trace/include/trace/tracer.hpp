#pragma once
// Spans and the tracer that starts them, after OpenTelemetry's SDK: a span
// that is not sampled records nothing and costs next to nothing, and a
// finished sampled span goes to the span processor.
//
// There is no implicit "current span": code that starts a child passes its
// parent explicitly (a request carries its server span with it), so nothing
// depends on thread-local state that a coroutine could outlive.
//
// Span times are steady-clock readings placed on the wall clock through their
// trace's anchor: the wall clock read once, when the trace's first span in
// this process starts. No wall-clock step can make a span's duration negative
// or a child stick out of its parent, and a trace reads the wall clock once
// however many spans it has (OpenTelemetry Java's anchored clock does the
// same). A caller that has just read the steady clock for a metric passes the
// reading on, so the span and the metric agree and the clock is read once.
#include "sharded_cells/thread_sharded_cells.hpp"
#include "trace/sampler.hpp"
#include "trace/span_data.hpp"

#include <atomic>
#include <chrono>
#include <concepts>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>

namespace trace {

class SpanProcessor {
 public:
  virtual ~SpanProcessor() = default;
  // Must not block: the request path calls it.
  virtual void on_end(std::unique_ptr<SpanData> span) = 0;
  virtual bool force_flush(std::chrono::milliseconds timeout) = 0;
  virtual bool shutdown(std::chrono::milliseconds timeout) = 0;
};

class Tracer;

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

class Span {
 public:
  Span() = default;  // records nothing, propagates nothing
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span() { end(); }

  // False when not sampled: setters then do nothing, so callers need no checks.
  bool recording() const { return data_ != nullptr; }
  const SpanContext& context() const { return context_; }

  // Keys are string literals (see AttributeKey). A string value is copied into
  // the capacity the record's last span left; numbers and flags never allocate.
  Span& set_attribute(const AttributeKey& key, std::string_view value);
  Span& set_attribute(const AttributeKey& key, const std::string& value) {
    return set_attribute(key, std::string_view(value));
  }
  Span& set_attribute(const AttributeKey& key, const char* value) {
    return set_attribute(key, std::string_view(value));
  }
  Span& set_attribute(const AttributeKey& key, std::int64_t value);
  template <std::integral Integer>
  requires(!std::same_as<Integer, bool> &&
           !std::same_as<Integer, std::int64_t>) Span& set_attribute(const AttributeKey& key, Integer value) {
    return set_attribute(key, static_cast<std::int64_t>(value));
  }
  Span& set_attribute(const AttributeKey& key, double value);
  Span& set_attribute(const AttributeKey& key, bool value);
  Span& set_attribute(const AttributeKey& key, const AttributeValue& value);
  // Every attribute of `shared`, by reference: nothing is copied when the span
  // has none of their keys yet and no other shared set (a span's own value
  // of a shared key, set before or after, takes the key's place).
  Span& set_attributes(const SharedAttributes& shared);
  Span& add_event(std::string_view name, Attributes attributes = {});
  // An invalid context is ignored; beyond max_links a link is only counted.
  Span& add_link(const SpanContext& context, Attributes attributes = {});
  // `message` is kept only with StatusCode::error, as the specification asks.
  Span& set_status(StatusCode code, std::string_view message = {});
  Span& set_name(std::string_view name);
  // The parts joined, written into the record's name without a temporary.
  Span& set_name(std::initializer_list<std::string_view> parts);
  // Idempotent; the destructor ends a span that was not ended.
  void end() {
    if (data_) end(SteadyClock::now());
  }
  // Ends the span at `at`, a steady-clock reading taken by the caller.
  void end(SteadyTime at);
  // `at` on the wall clock through the span's trace anchor, in Unix
  // nanoseconds; 0 for a span that records nothing.
  std::uint64_t unix_nanos(SteadyTime at) const;

  static constexpr std::size_t max_attributes = 128;
  static constexpr std::size_t max_events = 128;
  static constexpr std::size_t max_links = 128;

 private:
  friend class Tracer;
  SpanContext context_;
  std::unique_ptr<SpanData> data_;
  Tracer* tracer_ = nullptr;
  std::int64_t wall_minus_steady_ns_ = 0;  // the trace's clock anchor; 0 when the span records nothing
};

// Spans started, in per-thread cells: every span bumps one, so a locked
// increment per span would be a cost of its own.
class TracerStats {
 public:
  std::uint64_t started() const { return cells_.total(started_cell); }  // every span, sampled or not
  std::uint64_t sampled() const { return cells_.total(sampled_cell); }

 private:
  friend class Tracer;
  static constexpr std::size_t started_cell = 0;
  static constexpr std::size_t sampled_cell = 1;
  sharded_cells::ThreadShardedCells cells_{2};
};

class Tracer {
 public:
  Tracer(Resource resource, InstrumentationScope scope, std::unique_ptr<Sampler> sampler,
         std::unique_ptr<SpanProcessor> processor);
  ~Tracer();

  // `parent` null or invalid: a new trace. A child of a sampled parent is
  // sampled per the sampler (parent-based by default). The span starts at
  // `start`, a steady-clock reading, or now; with a parent from another
  // process (or none) it anchors its trace's times here.
  Span start_span(std::string_view name, SpanKind kind, const SpanContext* parent = nullptr,
                  std::optional<SteadyTime> start = std::nullopt);
  // A child of a span of this process, on its trace's clock anchor.
  Span start_span(std::string_view name, SpanKind kind, const Span& parent,
                  std::optional<SteadyTime> start = std::nullopt);

  // Flushes every finished span within `timeout`, then stops exporting.
  bool shutdown(std::chrono::milliseconds timeout);
  bool force_flush(std::chrono::milliseconds timeout);

  const Resource& resource() const { return resource_; }
  const InstrumentationScope& scope() const { return scope_; }
  const Sampler& sampler() const { return *sampler_; }
  const TracerStats& stats() const { return stats_; }

 private:
  friend class Span;
  Span start(std::string_view name, SpanKind kind, const SpanContext* parent, std::int64_t wall_minus_steady_ns,
             std::optional<SteadyTime> start);
  void finish(std::unique_ptr<SpanData> span);

  Resource resource_;
  InstrumentationScope scope_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<SpanProcessor> processor_;
  TracerStats stats_;
  std::atomic<bool> shut_down_{false};
};

std::uint64_t unix_nanos_now();

}  // namespace trace
