// "http://host:port" settings (pokeload --target, api-prometheus
// --apimon-url): refused with std::invalid_argument, or a host and a port
// from 1 to 65535 that print back to a URL naming the same place.
#include "fuzz_input.hpp"

#include <http/url.hpp>

#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = fuzz::as_text(data, size);
  http::HostPort parsed;
  try {
    parsed = http::parse_host_port_url(input);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  FUZZ_CHECK(!parsed.host.empty() && parsed.port != 0);
  FUZZ_CHECK(parsed.host.find('/') == std::string::npos);
  const auto again = http::parse_host_port_url("http://" + parsed.host + ":" + std::to_string(parsed.port));
  FUZZ_CHECK(again.host == parsed.host && again.port == parsed.port);
  return 0;
}
