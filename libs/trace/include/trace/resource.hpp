#pragma once
#include "trace/span_data.hpp"

#include <cstdlib>
#include <functional>
#include <string_view>

namespace trace {

inline constexpr std::string_view sdk_name = "pokedex-telemetry";
inline constexpr std::string_view sdk_version = "0.1.0";

// The resource every span of this process carries: service.name from
// OTEL_SERVICE_NAME (else service.name in OTEL_RESOURCE_ATTRIBUTES, else
// `default_service_name`), the other OTEL_RESOURCE_ATTRIBUTES entries
// (key=value pairs, comma-separated, values percent-decoded), service.version,
// a random service.instance.id per process, host.name and telemetry.sdk.*.
// Malformed entries are skipped, as the specification allows.
Resource resource_from_environment(
    std::string_view default_service_name, std::string_view service_version,
    const std::function<const char*(const char*)>& getenv = [](const char* name) { return std::getenv(name); });

// The value of `key` in `resource`, or "" when it has none or it is not a string.
std::string_view resource_string(const Resource& resource, std::string_view key);

}  // namespace trace
