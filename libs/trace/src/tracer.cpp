#include "trace/tracer.hpp"

namespace trace {

std::uint64_t unix_nanos_now() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

Span::Span(Span&& other) noexcept
    : context_(std::move(other.context_)), data_(std::move(other.data_)), tracer_(other.tracer_) {}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    end();
    context_ = std::move(other.context_);
    data_ = std::move(other.data_);
    tracer_ = other.tracer_;
  }
  return *this;
}

Span& Span::set_attribute(std::string_view key, AttributeValue value) {
  if (!data_) return *this;
  for (auto& attribute : data_->attributes) {
    if (attribute.first == key) {
      attribute.second = std::move(value);
      return *this;
    }
  }
  if (data_->attributes.size() >= max_attributes) {
    ++data_->dropped_attributes;
    return *this;
  }
  // Room for a typical span's attributes at once (a server span, by the HTTP
  // semantic conventions, grows once more) instead of regrowing from one.
  if (data_->attributes.empty()) data_->attributes.reserve(8);
  data_->attributes.emplace_back(std::string(key), std::move(value));
  return *this;
}

Span& Span::add_event(std::string_view name, Attributes attributes) {
  if (!data_) return *this;
  if (data_->events.size() >= max_events) {
    ++data_->dropped_events;
    return *this;
  }
  data_->events.push_back(SpanEvent{std::string(name), unix_nanos_now(), std::move(attributes)});
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
  if (data_) data_->name = name;
  return *this;
}

void Span::end() {
  if (!data_) return;
  data_->end_unix_nano = unix_nanos_now();
  tracer_->finish(std::move(data_));
}

Tracer::Tracer(Resource resource, InstrumentationScope scope, std::unique_ptr<Sampler> sampler,
               std::unique_ptr<SpanProcessor> processor)
    : resource_(std::move(resource)),
      scope_(std::move(scope)),
      sampler_(std::move(sampler)),
      processor_(std::move(processor)) {}

Tracer::~Tracer() { shutdown(std::chrono::seconds(5)); }

Span Tracer::start_span(std::string_view name, SpanKind kind, const SpanContext* parent) {
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
  auto data = std::make_unique<SpanData>();
  data->trace_id = span.context_.trace_id;
  data->span_id = span.context_.span_id;
  if (parent) data->parent_span_id = parent->span_id;
  data->trace_state = span.context_.trace_state;
  data->trace_flags = span.context_.trace_flags;
  data->name = name;
  data->kind = kind;
  data->start_unix_nano = unix_nanos_now();
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
