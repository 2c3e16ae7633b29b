#pragma once
// The OTLP endpoint taken apart: http://host[:port][/path][?query], the host a
// name, an IPv4 address or an IPv6 address in brackets.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace otlp {

struct EndpointUrl {
  std::string host;  // as resolved: an IPv6 address without its brackets
  std::uint16_t port = 80;
  std::string authority;     // for the Host header: the host as written, ":port" unless 80
  std::string target = "/";  // the request target: the path and the query, no fragment
};

// The URL or, when it is not one the exporter can send to, why.
struct ParsedEndpointUrl {
  std::optional<EndpointUrl> url;
  std::string problem;
};

// Refuses https:// (the build has no TLS), credentials in the URL, a port
// outside 1..65535 and a path with spaces, control or non-ASCII characters.
// The scheme is matched in any case; "host:" means the default port.
ParsedEndpointUrl parse_endpoint_url(std::string_view url);

}  // namespace otlp
