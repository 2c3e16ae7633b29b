#include "trace/tracer.hpp"

#include "span_records.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <variant>
#include <vector>

namespace trace {

namespace span_records {
namespace {
// Destroyed with its thread, records and all.
thread_local std::vector<std::unique_ptr<SpanData>> cache;
}  // namespace

std::unique_ptr<SpanData> take() {
  if (cache.empty()) return std::make_unique<SpanData>();
  auto record = std::move(cache.back());
  cache.pop_back();
  return record;
}

bool cache_empty() { return cache.empty(); }

void refill(std::vector<std::unique_ptr<SpanData>>& from, std::size_t count) {
  count = std::min(count, from.size());
  if (cache.capacity() < cache.size() + count) cache.reserve(cache.size() + count);
  for (std::size_t i = 0; i < count; ++i) {
    cache.push_back(std::move(from.back()));
    from.pop_back();
  }
}

std::size_t cached() { return cache.size(); }

}  // namespace span_records

AttributeKey AttributeKey::intern(std::string_view name) {
  static std::mutex mutex;
  // Never destroyed: a key may be read by exporters while statics go away.
  static auto* names = new std::unordered_set<std::string>;
  std::lock_guard lock(mutex);
  const auto found = names->emplace(name).first;
  return AttributeKey(Interned{}, *found);
}

SharedAttributes::SharedAttributes(const Attributes& attributes, std::size_t id) : id_(id) {
  for (const auto& attribute : attributes) {
    const std::size_t slot = attributes_.find(attribute.key);
    attributes_.set(slot == attributes_.size() ? attributes_.append(attribute.key) : slot, attribute.value);
  }
}

const SharedAttributes& SharedAttributes::intern(const Attributes& attributes) {
  static std::mutex mutex;
  // Never destroyed, as interned keys: spans refer to the sets while statics go away.
  static auto* sets = new std::vector<std::unique_ptr<const SharedAttributes>>;
  auto candidate = std::unique_ptr<SharedAttributes>(new SharedAttributes(attributes, 0));
  const auto same = [&](const SharedAttributes& set) {
    if (set.size() != candidate->size()) return false;
    for (std::size_t i = 0; i < set.size(); ++i) {
      const AttributeView held = set.attributes()[i];
      const AttributeView asked = candidate->attributes()[i];
      if (held.key.view() != asked.key.view() || held.value != asked.value) return false;
    }
    return true;
  };
  std::lock_guard lock(mutex);
  for (const auto& set : *sets)
    if (same(*set)) return *set;
  candidate->id_ = sets->size();
  sets->push_back(std::move(candidate));
  return *sets->back();
}

void SpanData::clear_for_reuse() {
  parent_span_id = SpanId{};
  trace_state.clear();
  trace_flags = 0;
  name.clear();
  kind = SpanKind::internal;
  start_unix_nano = 0;
  end_unix_nano = 0;
  shared_attributes = nullptr;
  attributes.clear();
  events.clear();
  links.clear();
  status = StatusCode::unset;
  status_message.clear();
  dropped_attributes = 0;
  dropped_events = 0;
  dropped_links = 0;
}

std::uint64_t unix_nanos_now() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

namespace {
std::int64_t steady_nanos(SteadyTime at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}
}  // namespace

Span::Span(Span&& other) noexcept
    : context_(std::move(other.context_)),
      data_(std::move(other.data_)),
      tracer_(other.tracer_),
      wall_minus_steady_ns_(other.wall_minus_steady_ns_) {}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    end();
    context_ = std::move(other.context_);
    data_ = std::move(other.data_);
    tracer_ = other.tracer_;
    wall_minus_steady_ns_ = other.wall_minus_steady_ns_;
  }
  return *this;
}

std::uint64_t Span::unix_nanos(SteadyTime at) const {
  if (wall_minus_steady_ns_ == 0) return 0;
  return static_cast<std::uint64_t>(wall_minus_steady_ns_ + steady_nanos(at));
}

namespace {

void append_attribute(SpanAttributes& attributes, const AttributeView& attribute) {
  const std::size_t slot = attributes.append(attribute.key);
  std::visit([&](const auto& value) { attributes.set(slot, value); }, attribute.value);
}

// The span's shared set copied into its own attributes, ahead of those it has.
void own_shared_attributes(SpanData& data) {
  SpanAttributes own;
  for (const AttributeView attribute : data.shared_attributes->attributes()) append_attribute(own, attribute);
  for (const AttributeView attribute : data.attributes) append_attribute(own, attribute);
  data.attributes = std::move(own);
  data.shared_attributes = nullptr;
}

// Sets `key` to `value`: its own slot if the span has it, else a new one;
// past the limit only counted.
template <typename Value>
void set_attribute_value(SpanData& data, const AttributeKey& key, const Value& value) {
  std::size_t slot = data.attributes.find(key);
  if (slot == data.attributes.size()) {
    if (data.shared_attributes != nullptr && data.shared_attributes->contains(key)) [[unlikely]] {
      own_shared_attributes(data);
      slot = data.attributes.find(key);
    } else {
      if (data.attribute_count() >= Span::max_attributes) {
        ++data.dropped_attributes;
        return;
      }
      slot = data.attributes.append(key);
    }
  }
  data.attributes.set(slot, value);
}

}  // namespace

Span& Span::set_attributes(const SharedAttributes& shared) {
  if (!data_) return *this;
  SpanData& data = *data_;
  bool disjoint = true;
  for (const AttributeView own : data.attributes) disjoint = disjoint && !shared.contains(own.key);
  if (data.shared_attributes == nullptr && disjoint && data.attribute_count() + shared.size() <= max_attributes) {
    data.shared_attributes = &shared;
    return *this;
  }
  for (const AttributeView attribute : shared.attributes())
    std::visit([&](const auto& value) { set_attribute_value(data, attribute.key, value); }, attribute.value);
  return *this;
}

Span& Span::set_attribute(const AttributeKey& key, std::string_view value) {
  if (data_) set_attribute_value(*data_, key, value);
  return *this;
}

Span& Span::set_attribute(const AttributeKey& key, std::int64_t value) {
  if (data_) set_attribute_value(*data_, key, value);
  return *this;
}

Span& Span::set_attribute(const AttributeKey& key, double value) {
  if (data_) set_attribute_value(*data_, key, value);
  return *this;
}

Span& Span::set_attribute(const AttributeKey& key, bool value) {
  if (data_) set_attribute_value(*data_, key, value);
  return *this;
}

Span& Span::set_attribute(const AttributeKey& key, const AttributeValue& value) {
  if (data_) set_attribute_value(*data_, key, value);
  return *this;
}

Span& Span::add_event(std::string_view name, Attributes attributes) {
  if (!data_) return *this;
  if (data_->events.size() >= max_events) {
    ++data_->dropped_events;
    return *this;
  }
  data_->events.push_back(SpanEvent{std::string(name), unix_nanos(SteadyClock::now()), std::move(attributes)});
  return *this;
}

Span& Span::add_link(const SpanContext& context, Attributes attributes) {
  if (!data_ || !context.valid()) return *this;
  if (data_->links.size() >= max_links) {
    ++data_->dropped_links;
    return *this;
  }
  data_->links.push_back(SpanLink{context, std::move(attributes)});
  return *this;
}

Span& Span::set_status(StatusCode code, std::string_view message) {
  if (!data_) return *this;
  // Ok is final; Unset never overrides a status set before.
  if (data_->status == StatusCode::ok || code == StatusCode::unset) return *this;
  data_->status = code;
  data_->status_message = code == StatusCode::error ? std::string(message) : std::string();
  return *this;
}

Span& Span::set_name(std::string_view name) {
  if (data_) data_->name.assign(name);
  return *this;
}

Span& Span::set_name(std::initializer_list<std::string_view> parts) {
  if (!data_) return *this;
  data_->name.clear();
  for (const auto part : parts) data_->name.append(part);
  return *this;
}

void Span::end(SteadyTime at) {
  if (!data_) return;
  // A reading from before the start (a caller's mistake) ends the span where it began.
  data_->end_unix_nano = std::max(data_->start_unix_nano, unix_nanos(at));
  tracer_->finish(std::move(data_));
}

Tracer::Tracer(Resource resource, InstrumentationScope scope, std::unique_ptr<Sampler> sampler,
               std::unique_ptr<SpanProcessor> processor)
    : resource_(std::move(resource)),
      scope_(std::move(scope)),
      sampler_(std::move(sampler)),
      processor_(std::move(processor)) {}

Tracer::~Tracer() { shutdown(std::chrono::seconds(5)); }

Span Tracer::start_span(std::string_view name, SpanKind kind, const SpanContext* parent,
                        std::optional<SteadyTime> start_at) {
  return start(name, kind, parent, 0, start_at);
}

Span Tracer::start_span(std::string_view name, SpanKind kind, const Span& parent, std::optional<SteadyTime> start_at) {
  return start(name, kind, &parent.context(), parent.wall_minus_steady_ns_, start_at);
}

Span Tracer::start(std::string_view name, SpanKind kind, const SpanContext* parent, std::int64_t wall_minus_steady_ns,
                   std::optional<SteadyTime> start_at) {
  const auto stats = stats_.cells_.writer();
  stats.add(TracerStats::started_cell, 1);
  if (parent && !parent->valid()) parent = nullptr;
  Span span;
  span.tracer_ = this;
  span.context_.trace_id = parent ? parent->trace_id : random_trace_id();
  span.context_.span_id = random_span_id();
  if (parent && !parent->trace_state.empty()) span.context_.trace_state = parent->trace_state;
  const bool sampled = !shut_down_.load(std::memory_order_relaxed) &&
                       sampler_->should_sample(parent, span.context_.trace_id);
  if (!sampled) return span;

  stats.add(TracerStats::sampled_cell, 1);
  span.context_.trace_flags = 0x01;
  auto data = span_records::take();
  data->trace_id = span.context_.trace_id;
  data->span_id = span.context_.span_id;
  if (parent) data->parent_span_id = parent->span_id;
  if (!span.context_.trace_state.empty()) data->trace_state = span.context_.trace_state;
  data->trace_flags = span.context_.trace_flags;
  data->name.assign(name);
  data->kind = kind;
  const SteadyTime at = start_at ? *start_at : SteadyClock::now();  // not value_or: it would read the clock anyway
  // The wall clock read against `at`: a reading moments old places the whole
  // trace that much later on the wall clock, and changes no duration.
  if (wall_minus_steady_ns == 0 || !parent)
    wall_minus_steady_ns = static_cast<std::int64_t>(unix_nanos_now()) - steady_nanos(at);
  span.wall_minus_steady_ns_ = wall_minus_steady_ns;
  data->start_unix_nano = span.unix_nanos(at);
  span.data_ = std::move(data);
  return span;
}

void Tracer::finish(std::unique_ptr<SpanData> span) {
  if (processor_) processor_->on_end(std::move(span));
}

bool Tracer::force_flush(std::chrono::milliseconds timeout) {
  return processor_ ? processor_->force_flush(timeout) : true;
}

bool Tracer::shutdown(std::chrono::milliseconds timeout) {
  if (shut_down_.exchange(true)) return true;
  return processor_ ? processor_->shutdown(timeout) : true;
}

}  // namespace trace
