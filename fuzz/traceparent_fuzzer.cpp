// The W3C traceparent header, as the server reads it from every request: what
// parses renders back to a header that parses to the same context, and a
// version-00 header renders back to itself.
#include "fuzz_input.hpp"

#include <text/text.hpp>
#include <trace/trace_context.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = fuzz::as_text(data, size);
  const auto context = trace::parse_traceparent(input);
  if (!context) return 0;
  FUZZ_CHECK(context->valid() && context->remote);
  FUZZ_CHECK(context->trace_state.empty());

  const auto rendered = trace::format_traceparent(*context);
  FUZZ_CHECK(rendered.size() == 55);
  const auto again = trace::parse_traceparent(rendered);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->trace_id == context->trace_id && again->span_id == context->span_id);
  FUZZ_CHECK(again->trace_flags == context->trace_flags);
  FUZZ_CHECK(again->sampled() == context->sampled());

  const auto header = text::trim(input);
  if (header.starts_with("00-")) FUZZ_CHECK(rendered == header);
  FUZZ_CHECK(header.substr(3, 32) == context->trace_id.hex() && header.substr(36, 16) == context->span_id.hex());
  return 0;
}
