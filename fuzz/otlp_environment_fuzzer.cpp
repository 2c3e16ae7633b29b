// The OTEL_EXPORTER_OTLP_* variables the exporter reads at start, one per
// line of the input (an empty line leaves the variable unset): refused with
// std::invalid_argument naming a variable, or options whose endpoint parses,
// whose headers are valid header names and values, and whose timeout is positive.
#include "fuzz_input.hpp"

#include "endpoint_url.hpp"
#include "header_syntax.hpp"

#include <otlp/exporter_options.hpp>

#include <spdlog/spdlog.h>

#include <array>
#include <stdexcept>
#include <string>

namespace {

constexpr std::array<const char*, 8> variables = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT",
                                                  "OTEL_EXPORTER_OTLP_TRACES_HEADERS",  "OTEL_EXPORTER_OTLP_HEADERS",
                                                  "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",  "OTEL_EXPORTER_OTLP_TIMEOUT",
                                                  "OTEL_EXPORTER_OTLP_COMPRESSION",     "OTEL_EXPORTER_OTLP_PROTOCOL"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  spdlog::set_level(spdlog::level::off);  // a warning per malformed header entry
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = fuzz::as_text(data, size);
  std::array<std::string, variables.size()> values;
  for (auto& value : values) value = std::string(fuzz::take_field(input));
  const auto getenv = [&](const char* name) -> const char* {
    for (std::size_t i = 0; i < variables.size(); ++i) {
      // A NUL ends an environment variable's value.
      if (std::string_view(name) == variables[i] && !values[i].empty()) return values[i].c_str();
    }
    return nullptr;
  };

  otlp::OtlpHttpExporterOptions options;
  try {
    options = otlp::otlp_options_from_environment(getenv);
  } catch (const std::invalid_argument& error) {
    FUZZ_CHECK(std::string_view(error.what()).starts_with("OTEL_EXPORTER_OTLP_"));
    return 0;
  }
  const auto endpoint = otlp::parse_endpoint_url(options.endpoint);
  FUZZ_CHECK(endpoint.url.has_value());
  // The generic variable is a base URL: the signal's path goes onto its path.
  const bool generic = getenv(variables[0]) == nullptr ||
                       std::string_view(getenv(variables[0])).find_first_not_of(" \t\r\n\f\v") ==
                           std::string_view::npos;
  if (generic && getenv(variables[1]) != nullptr) {
    const auto& target = endpoint.url->target;
    FUZZ_CHECK(target.substr(0, target.find('?')).ends_with("/v1/traces"));
  }
  for (const auto& [name, value] : options.headers) {
    FUZZ_CHECK(otlp::is_token(name));
    FUZZ_CHECK(otlp::is_safe_header_value(value));
  }
  FUZZ_CHECK(options.timeout.count() > 0);
  return 0;
}
