// The Accept header of a scrape, negotiated between the Prometheus text format
// and OpenMetrics: OpenMetrics only when some range names it, and the answer
// does not depend on ranges the server cannot offer.
#include "fuzz_input.hpp"

#include <metrics/exposition.hpp>
#include <text/text.hpp>

#include <algorithm>
#include <string>

namespace {

bool mentions_openmetrics(std::string_view header) {
  constexpr std::string_view name = "openmetrics";
  if (header.size() < name.size()) return false;
  for (std::size_t i = 0; i + name.size() <= header.size(); ++i)
    if (text::iequals(header.substr(i, name.size()), name)) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto header = fuzz::as_text(data, size);
  const auto format = metrics::negotiate_format(header);
  FUZZ_CHECK(format == metrics::ExpositionFormat::prometheus_text_0_0_4 ||
             format == metrics::ExpositionFormat::openmetrics_1_0_0);
  if (!mentions_openmetrics(header)) FUZZ_CHECK(format == metrics::ExpositionFormat::prometheus_text_0_0_4);
  FUZZ_CHECK(!metrics::content_type(format).empty());

  // Ranges of other types, wherever they stand, change nothing.
  FUZZ_CHECK(metrics::negotiate_format("image/png;q=1, " + std::string(header) + ", application/json") == format);
  return 0;
}
