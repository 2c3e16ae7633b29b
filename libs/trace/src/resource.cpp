#include "trace/resource.hpp"
#include "text/text.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <optional>

namespace trace {
namespace {

void put(Attributes& attributes, std::string_view key, std::string value) {
  const auto found = std::find_if(attributes.begin(), attributes.end(), [&](auto& a) { return a.key == key; });
  if (found != attributes.end())
    found->value = std::move(value);
  else
    attributes.push_back(Attribute{AttributeKey::intern(key), std::move(value)});
}

std::string random_instance_id() {
  // A UUID v4 from the trace id generator's randomness.
  auto bytes = random_trace_id().bytes;
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);
  TraceId as_id{bytes};
  const std::string hex = as_id.hex();
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

}  // namespace

Resource resource_from_environment(std::string_view default_service_name, std::string_view service_version,
                                   const std::function<const char*(const char*)>& getenv) {
  Resource resource;
  auto& attributes = resource.attributes;
  put(attributes, "service.name", std::string(default_service_name));
  put(attributes, "service.version", std::string(service_version));
  put(attributes, "service.instance.id", random_instance_id());
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) == 0) put(attributes, "host.name", host.data());
  put(attributes, "telemetry.sdk.name", std::string(sdk_name));
  put(attributes, "telemetry.sdk.language", "cpp");
  put(attributes, "telemetry.sdk.version", std::string(sdk_version));

  if (const char* configured = getenv("OTEL_RESOURCE_ATTRIBUTES")) {
    std::string_view rest(configured);
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const auto entry = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      const auto eq = entry.find('=');
      if (eq == std::string_view::npos) continue;
      const auto key = text::trim(entry.substr(0, eq));
      auto value = text::percent_decode(text::trim(entry.substr(eq + 1)));
      if (key.empty() || !value) continue;
      put(attributes, std::string(key), std::move(*value));
    }
  }
  if (const char* name = getenv("OTEL_SERVICE_NAME"); name != nullptr && *name != '\0')
    put(attributes, "service.name", name);
  return resource;
}

std::string_view resource_string(const Resource& resource, std::string_view key) {
  for (const auto& [name, value] : resource.attributes)
    if (name == key)
      if (const auto* text = std::get_if<std::string>(&value)) return *text;
  return {};
}

}  // namespace trace
