#include "endpoint_url.hpp"

#include "text/text.hpp"

#include <boost/asio/ip/address_v6.hpp>

#include <algorithm>
#include <charconv>

namespace otlp {
namespace {

bool is_host_name_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// An authority's host (without an IPv6 address's brackets), the host as
// written, and the port as written, if any.
struct Authority {
  std::string_view host;
  std::string_view written_host;
  std::optional<std::string_view> port;
};

// The problem with `authority`, or nothing once `parts` holds its pieces.
std::optional<std::string> split_authority(std::string_view authority, Authority& parts) {
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "an IPv6 address without its closing ']'";
    parts.host = authority.substr(1, close - 1);
    parts.written_host = authority.substr(0, close + 1);
    if (const auto after = authority.substr(close + 1); !after.empty()) {
      if (after.front() != ':') return "unexpected characters after the IPv6 address";
      parts.port = after.substr(1);
    }
    // Hex digits, colons, dots (an embedded IPv4 address) and a zone after
    // '%': anything else (a NUL byte, which would end the text the address
    // parser reads, or a space in a zone) is no IPv6 address.
    const bool address_chars = std::all_of(parts.host.begin(), parts.host.end(),
                                           [](char c) { return is_host_name_char(c) || c == ':' || c == '%'; });
    boost::system::error_code error;
    boost::asio::ip::make_address_v6(std::string(parts.host), error);
    if (!address_chars || error) return "the brackets do not hold an IPv6 address";
    return std::nullopt;
  }
  const auto colon = authority.find(':');
  parts.host = authority.substr(0, colon);
  parts.written_host = parts.host;
  if (colon != std::string_view::npos) parts.port = authority.substr(colon + 1);
  if (!std::all_of(parts.host.begin(), parts.host.end(), is_host_name_char))
    return "the host has characters a host name cannot have";
  return std::nullopt;
}

// 1 to 65535, all digits; nothing otherwise.
std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [ptr, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || ptr != text.data() + text.size() || value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

ParsedEndpointUrl parse_endpoint_url(std::string_view url) {
  constexpr std::string_view http = "http://";
  constexpr std::string_view https = "https://";
  const auto fail = [](std::string problem) { return ParsedEndpointUrl{std::nullopt, std::move(problem)}; };
  if (url.size() >= https.size() && text::iequals(url.substr(0, https.size()), https))
    return fail(
        "only http:// endpoints are supported (this build has no TLS: send to a collector sidecar, or over plain "
        "http inside the stack's network)");
  if (url.size() < http.size() || !text::iequals(url.substr(0, http.size()), http))
    return fail("expected an http:// URL");

  const std::string_view rest = url.substr(http.size());
  const auto authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos)
    return fail("credentials in the URL are not supported (send an Authorization header instead)");

  Authority parts;
  if (auto problem = split_authority(authority, parts)) return fail(std::move(*problem));
  if (parts.host.empty()) return fail("no host");
  EndpointUrl result;
  if (parts.port && !parts.port->empty()) {  // "host:" is the default port, as RFC 3986 has it
    const auto port = parse_port(*parts.port);
    if (!port) return fail("the port is not a number from 1 to 65535");
    result.port = *port;
  }
  result.host = std::string(parts.host);
  result.authority = std::string(parts.written_host);
  if (result.port != 80) result.authority += ":" + std::to_string(result.port);

  tail = tail.substr(0, tail.find('#'));
  if (!std::all_of(tail.begin(), tail.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
    return fail("the path has spaces, control or non-ASCII characters (percent-encode them)");
  if (tail.starts_with('?'))
    result.target = "/" + std::string(tail);
  else if (!tail.empty())
    result.target = std::string(tail);
  return {std::move(result), {}};
}

}  // namespace otlp
