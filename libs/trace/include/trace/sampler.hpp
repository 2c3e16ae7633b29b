#pragma once
// Samplers as the OpenTelemetry specification names them, configured from
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
#include "trace/trace_context.hpp"

#include <functional>
#include <memory>
#include <string>

namespace trace {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // `parent` is null for a root span. True: record and sample.
  virtual bool should_sample(const SpanContext* parent, const TraceId& trace_id) const = 0;
  virtual std::string description() const = 0;
};

std::unique_ptr<Sampler> always_on_sampler();
std::unique_ptr<Sampler> always_off_sampler();
// Samples a deterministic `ratio` of trace ids (0..1), so that every service
// with the same ratio keeps the same traces.
std::unique_ptr<Sampler> trace_id_ratio_sampler(double ratio);
// Follows the parent's sampled flag; roots go to `root`.
std::unique_ptr<Sampler> parent_based_sampler(std::unique_ptr<Sampler> root);

// always_on, always_off, traceidratio, parentbased_always_on (the default),
// parentbased_always_off, parentbased_traceidratio. Throws
// std::invalid_argument naming the variable for an unknown sampler or a
// ratio outside 0..1.
std::unique_ptr<Sampler> sampler_from_environment(const std::function<const char*(const char*)>& getenv =
                                                      [](const char* name) { return std::getenv(name); });

}  // namespace trace
