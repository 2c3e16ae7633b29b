// The OTLP endpoint (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT) taken apart: a URL
// the exporter accepts names a host and a port, a request target that starts
// with '/', and reads back the same from its authority and target.
#include "fuzz_input.hpp"

#include "endpoint_url.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = fuzz::as_text(data, size);
  const auto parsed = otlp::parse_endpoint_url(input);
  FUZZ_CHECK(parsed.url.has_value() == parsed.problem.empty());
  if (!parsed.url) return 0;
  const auto& url = *parsed.url;
  FUZZ_CHECK(!url.host.empty() && url.port != 0);
  FUZZ_CHECK(url.target.starts_with('/'));
  FUZZ_CHECK(url.target.find_first_of(" #\r\n") == std::string::npos);
  FUZZ_CHECK(url.authority.find_first_of("/?#@ ") == std::string::npos);

  const auto again = otlp::parse_endpoint_url("http://" + url.authority + url.target);
  FUZZ_CHECK(again.url.has_value());
  FUZZ_CHECK(again.url->host == url.host && again.url->port == url.port && again.url->authority == url.authority &&
             again.url->target == url.target);
  return 0;
}
