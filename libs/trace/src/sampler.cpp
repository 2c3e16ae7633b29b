#include "trace/sampler.hpp"

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace trace {
namespace {

class AlwaysOn final : public Sampler {
 public:
  bool should_sample(const SpanContext* /*parent*/, const TraceId& /*trace_id*/) const override { return true; }
  std::string description() const override { return "AlwaysOnSampler"; }
};

class AlwaysOff final : public Sampler {
 public:
  bool should_sample(const SpanContext* /*parent*/, const TraceId& /*trace_id*/) const override { return false; }
  std::string description() const override { return "AlwaysOffSampler"; }
};

class TraceIdRatio final : public Sampler {
 public:
  explicit TraceIdRatio(double ratio)
      : ratio_(ratio),
        // Compare the trace id's last 8 bytes, shifted to 63 bits, against
        // ratio * 2^63, as the Go and Java SDKs do.
        bound_(ratio >= 1.0 ? std::uint64_t{1} << 63 : static_cast<std::uint64_t>(std::ldexp(ratio, 63))) {}

  bool should_sample(const SpanContext* /*parent*/, const TraceId& trace_id) const override {
    std::uint64_t low;  // bytes 8..15, big-endian as the Go and Java SDKs read them
    std::memcpy(&low, trace_id.bytes.data() + 8, 8);
    if constexpr (std::endian::native == std::endian::little) low = __builtin_bswap64(low);
    return (low >> 1) < bound_;
  }
  std::string description() const override { return "TraceIdRatioBased{" + std::to_string(ratio_) + "}"; }

 private:
  double ratio_;
  std::uint64_t bound_;
};

class ParentBased final : public Sampler {
 public:
  explicit ParentBased(std::unique_ptr<Sampler> root) : root_(std::move(root)) {}
  bool should_sample(const SpanContext* parent, const TraceId& trace_id) const override {
    if (parent && parent->valid()) return parent->sampled();
    return root_->should_sample(parent, trace_id);
  }
  std::string description() const override { return "ParentBased{root:" + root_->description() + "}"; }

 private:
  std::unique_ptr<Sampler> root_;
};

double ratio_argument(const std::function<const char*(const char*)>& getenv) {
  const char* text = getenv("OTEL_TRACES_SAMPLER_ARG");
  if (text == nullptr || *text == '\0') return 1.0;
  char* end = nullptr;
  const double ratio = std::strtod(text, &end);
  if (*end != '\0' || !(ratio >= 0.0 && ratio <= 1.0))
    throw std::invalid_argument(std::string("OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, not '") + text + "'");
  return ratio;
}

}  // namespace

std::unique_ptr<Sampler> always_on_sampler() { return std::make_unique<AlwaysOn>(); }
std::unique_ptr<Sampler> always_off_sampler() { return std::make_unique<AlwaysOff>(); }
std::unique_ptr<Sampler> trace_id_ratio_sampler(double ratio) { return std::make_unique<TraceIdRatio>(ratio); }
std::unique_ptr<Sampler> parent_based_sampler(std::unique_ptr<Sampler> root) {
  return std::make_unique<ParentBased>(std::move(root));
}

std::unique_ptr<Sampler> sampler_from_environment(const std::function<const char*(const char*)>& getenv) {
  const char* configured = getenv("OTEL_TRACES_SAMPLER");
  const std::string name = configured != nullptr && *configured != '\0' ? configured : "parentbased_always_on";
  if (name == "always_on") return always_on_sampler();
  if (name == "always_off") return always_off_sampler();
  if (name == "traceidratio") return trace_id_ratio_sampler(ratio_argument(getenv));
  if (name == "parentbased_always_on") return parent_based_sampler(always_on_sampler());
  if (name == "parentbased_always_off") return parent_based_sampler(always_off_sampler());
  if (name == "parentbased_traceidratio") return parent_based_sampler(trace_id_ratio_sampler(ratio_argument(getenv)));
  throw std::invalid_argument("OTEL_TRACES_SAMPLER '" + name +
                              "' is not one of always_on, always_off, traceidratio, parentbased_always_on, "
                              "parentbased_always_off, parentbased_traceidratio");
}

}  // namespace trace
