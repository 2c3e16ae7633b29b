#pragma once
// What the OTLP/HTTP exporter is told: where to send, with which headers,
// within what time, compressed or not, and how often to retry; and how the
// OpenTelemetry environment variables set it.
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace otlp {

struct OtlpHttpExporterOptions {
  std::string endpoint = "http://localhost:4318/v1/traces";  // the full URL, path included
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
  std::chrono::milliseconds timeout{10000};                  // one export_spans call, every attempt and wait included
  bool gzip = false;                                // Content-Encoding: gzip (the specification's default: none)
  int gzip_level = 1;                               // with gzip: zlib's level, 1 (fastest) to 9 (smallest)
  int max_attempts = 5;                             // first attempt included
  std::chrono::milliseconds initial_backoff{1000};  // before the second attempt; doubles each time
  std::chrono::milliseconds max_backoff{5000};      // cap of the doubling (a Retry-After may exceed it)
};

// The OpenTelemetry specification's exporter variables, each
// OTEL_EXPORTER_OTLP_TRACES_<X> taking precedence over OTEL_EXPORTER_OTLP_<X>
// (the generic one is then not read at all). An empty variable counts as unset.
//   ENDPOINT     TRACES_ENDPOINT is used as is; the generic one is a base URL
//                whose path gets "/v1/traces" appended (a trailing '/' is not
//                doubled, a query stays after it); default
//                http://localhost:4318/v1/traces.
//   HEADERS      comma-separated key=value; whitespace around keys and values
//                trimmed, values percent-decoded ('+' stays '+'); a malformed
//                entry is left out with a warning that names the variable but
//                never shows a value. TRACES_HEADERS replaces HEADERS entirely.
//   TIMEOUT      a positive whole number of milliseconds.
//   COMPRESSION  gzip or none.
// Throws std::invalid_argument naming the variable for a timeout that is not a
// positive number, an unknown compression, or an endpoint that is not an
// http://host[:port][/path] URL (an https:// one included: only http is
// supported). The retry settings keep their defaults.
OtlpHttpExporterOptions otlp_options_from_environment(const std::function<const char*(const char*)>& getenv = ::getenv);

}  // namespace otlp
