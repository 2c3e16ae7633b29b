#pragma once
// A small blocking HTTP/1.1 client on Boost.Beast that POSTs request bodies to
// one endpoint: its own io_context, run only by the calling thread until the
// operation at hand completes, and one connection kept for the next request
// while the server leaves it open.
#include "endpoint_url.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace otlp {

// What one attempt came to.
struct AttemptOutcome {
  bool success = false;    // a 2xx
  bool retryable = false;  // worth another attempt (retry_policy.hpp, and connection failures and timeouts)
  std::optional<std::chrono::seconds> retry_after;  // the server's Retry-After, on a retryable status
  std::string problem;  // for the log: what failed, with the start of an error response's body
};

class HttpTransport {
 public:
  // Every request carries Content-Type: application/x-protobuf, with
  // Content-Encoding: gzip when `gzip`, and `headers` but for those that are
  // not a valid header name and value, and Content-Type, Content-Encoding,
  // Content-Length, Transfer-Encoding and Expect (each left out with a
  // warning). A Host or User-Agent among them replaces the transport's own.
  HttpTransport(EndpointUrl url, const std::vector<std::pair<std::string, std::string>>& headers, bool gzip);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // POSTs `payload` once, connecting first when there is no open connection,
  // and gives up when `budget` has passed. A kept connection that the server
  // closed as the request went out is replaced and the request sent again,
  // within the same attempt.
  AttemptOutcome post(const std::string& payload, std::chrono::milliseconds budget);

 private:
  struct Connection;
  std::unique_ptr<Connection> connection_;
};

}  // namespace otlp
