#pragma once
// An HTTP/1.1 client for calls between services, on the caller's event loop:
// kept-alive connections per host, a deadline per call, and automatic
// instrumentation: a CLIENT span per call whose context travels in the
// traceparent header, and http_client_request_duration_seconds.
#include "http/message.hpp"

#include <metrics/registry.hpp>
#include <trace/tracer.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace http {

struct ClientOptions {
  std::chrono::milliseconds timeout{2'000};  // connecting, sending and receiving one call
  std::size_t max_idle_per_host = 16;        // kept-alive connections waiting for reuse
  std::size_t max_response_body_bytes = 1 << 20;
  std::string user_agent = "pokedex-stack";
};

// The call did not produce a response: refused, reset, timed out, or the
// answer was not HTTP. `timed_out()` tells the last case apart.
class ClientError : public std::runtime_error {
 public:
  ClientError(const std::string& what, bool timed_out) : std::runtime_error(what), timed_out_(timed_out) {}
  bool timed_out() const { return timed_out_; }

 private:
  bool timed_out_;
};

class Client {
 public:
  // `tracer` and `metrics` may be null (no spans, no metrics).
  Client(asio::any_io_executor executor, ClientOptions options, trace::Tracer* tracer,
         metrics::MetricsRegistry* metrics);
  ~Client();

  // Sends `request` to host:port and returns the response. The span is a
  // child of `parent` (null: a new trace). A kept-alive connection the server
  // closed meanwhile is replaced and the call retried once, for idempotent
  // methods only. Throws ClientError.
  asio::awaitable<Response> send(std::string host, std::uint16_t port, Request request,
                                 const trace::SpanContext* parent);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace http
