#include "otlp/exporter_options.hpp"

#include "endpoint_url.hpp"
#include "header_syntax.hpp"
#include "text/text.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <stdexcept>
#include <string_view>

namespace otlp {
namespace {

// One variable as read: its name and trimmed value; an empty name when neither
// the signal-specific nor the generic variable is set to something non-empty.
struct Setting {
  std::string name;
  std::string value;
  bool generic = false;
};

Setting lookup(const std::function<const char*(const char*)>& getenv, std::string_view suffix) {
  for (const bool generic : {false, true}) {
    std::string name = generic ? "OTEL_EXPORTER_OTLP_" : "OTEL_EXPORTER_OTLP_TRACES_";
    name += suffix;
    if (const char* raw = getenv(name.c_str())) {
      const auto value = text::trim(raw, text::ascii_whitespace);
      if (!value.empty()) return {std::move(name), std::string(value), generic};
    }
  }
  return {};
}

// A base URL (the generic ENDPOINT) with the traces path appended to its
// path, before any query or fragment: http://c:4318/otlp?tenant=a becomes
// http://c:4318/otlp/v1/traces?tenant=a. `base` is a URL parse_endpoint_url accepted.
std::string with_signal_path(std::string_view base) {
  constexpr std::string_view scheme_end = "://";
  const auto authority = base.find(scheme_end) + scheme_end.size();
  const auto path_end = std::min(base.size(), base.find_first_of("?#", authority));
  std::string url(base.substr(0, path_end));
  url += url.ends_with('/') ? "v1/traces" : "/v1/traces";
  url += base.substr(path_end);
  return url;
}

std::vector<std::pair<std::string, std::string>> parse_headers(std::string_view list, const std::string& variable) {
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t position = 0;
  // Never log an entry itself: header values are usually credentials.
  const auto ignore = [&](std::string_view reason) {
    spdlog::warn("{}: ignoring entry {}: {}", variable, position, reason);
  };
  while (true) {
    const auto comma = list.find(',');
    const auto entry = text::trim(list.substr(0, comma), text::ascii_whitespace);
    ++position;
    if (!entry.empty()) {
      const auto equals = entry.find('=');
      if (equals == std::string_view::npos) {
        ignore("expected key=value");
      } else if (const auto key = text::trim(entry.substr(0, equals), text::ascii_whitespace); !is_token(key)) {
        ignore("the key is not a valid header name");
      } else if (auto value = text::percent_decode(text::trim(entry.substr(equals + 1), text::ascii_whitespace));
                 !value) {
        ignore("the value has a malformed percent-encoding");
      } else if (!is_safe_header_value(*value)) {
        ignore("the value contains a line break or NUL");
      } else {
        headers.emplace_back(std::string(key), std::move(*value));
      }
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return headers;
}

std::chrono::milliseconds parse_timeout(const Setting& setting) {
  long long value = 0;
  const auto* const end = setting.value.data() + setting.value.size();
  const auto [ptr, error] = std::from_chars(setting.value.data(), end, value);
  if (error != std::errc{} || ptr != end || value <= 0 || value > std::numeric_limits<int>::max())
    throw std::invalid_argument(setting.name + ": expected a positive number of milliseconds, got '" + setting.value +
                                "'");
  return std::chrono::milliseconds(value);
}

bool parse_compression(const Setting& setting) {
  if (text::iequals(setting.value, "gzip")) return true;
  if (text::iequals(setting.value, "none")) return false;
  throw std::invalid_argument(setting.name + ": expected 'gzip' or 'none', got '" + setting.value + "'");
}

}  // namespace

OtlpHttpExporterOptions otlp_options_from_environment(const std::function<const char*(const char*)>& getenv) {
  OtlpHttpExporterOptions options;

  if (auto endpoint = lookup(getenv, "ENDPOINT"); !endpoint.name.empty()) {
    if (const auto parsed = parse_endpoint_url(endpoint.value); !parsed.url)
      throw std::invalid_argument(endpoint.name + ": " + parsed.problem + ", got '" + endpoint.value + "'");
    options.endpoint = endpoint.generic ? with_signal_path(endpoint.value) : endpoint.value;
  }
  if (const auto headers = lookup(getenv, "HEADERS"); !headers.name.empty())
    options.headers = parse_headers(headers.value, headers.name);
  if (const auto timeout = lookup(getenv, "TIMEOUT"); !timeout.name.empty()) options.timeout = parse_timeout(timeout);
  if (const auto compression = lookup(getenv, "COMPRESSION"); !compression.name.empty())
    options.gzip = parse_compression(compression);
  if (const auto protocol = lookup(getenv, "PROTOCOL"); !protocol.name.empty() && protocol.value != "http/protobuf")
    spdlog::warn("{} is '{}' but this exporter only speaks http/protobuf; using that", protocol.name, protocol.value);

  return options;
}

}  // namespace otlp
