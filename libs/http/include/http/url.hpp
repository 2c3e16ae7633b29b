#pragma once
// Where a peer answers plain HTTP, given as a setting: "http://host:port".
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace http {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// Parses "http://host:port" (a trailing slash allowed, no path). Throws
// std::invalid_argument saying what is wrong, for a message naming the setting.
inline HostPort parse_host_port_url(std::string_view url) {
  constexpr std::string_view prefix = "http://";
  if (!url.starts_with(prefix)) throw std::invalid_argument("must be http://host:port");
  std::string_view rest = url.substr(prefix.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || rest.find('/') != std::string_view::npos)
    throw std::invalid_argument("must be http://host:port");
  const std::string_view port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
    throw std::invalid_argument("has an invalid port");
  unsigned long number = 0;
  for (const char digit : port) number = number * 10 + static_cast<unsigned long>(digit - '0');
  if (number == 0 || number > 65535) throw std::invalid_argument("has an invalid port");
  return {std::string(rest.substr(0, colon)), static_cast<std::uint16_t>(number)};
}

}  // namespace http
