#pragma once
// apimon as api-prometheus sees it: GET calls with a deadline, a bounded
// retry budget, and failures classified the way a gateway answers them
// (502 when apimon cannot be reached or fails, 504 when it is too slow).
#include <faults/fault_injector.hpp>
#include <http/client.hpp>
#include <http/message.hpp>

#include <atomic>
#include <chrono>
#include <string>

namespace api_prometheus {

class UpstreamError : public std::runtime_error {
 public:
  UpstreamError(http::status answer, const std::string& what) : std::runtime_error(what), answer_(answer) {}
  http::status answer() const { return answer_; }  // bad_gateway or gateway_timeout

 private:
  http::status answer_;
};

struct UpstreamResponse {
  unsigned status = 0;
  std::string body;
};

class Upstream {
 public:
  // `faults` (may be null): while upstream_unreachable is on, every call goes
  // to a local port that refuses connections, so the client, its span and its
  // metrics see a real refused connection.
  Upstream(http::Client& client, std::string host, std::uint16_t port, double retry_budget,
           faults::FaultInjector* faults = nullptr);
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  // GET `target` on apimon as a child of the request's span. 5xx answers and
  // unreachable apimon are retried once while the retry budget allows; a
  // timeout is not (a retry would only double the wait). Throws UpstreamError.
  boost::asio::awaitable<UpstreamResponse> get(const http::RequestContext& context, std::string target);

  // Whether apimon answers /readyz with 200 within the deadline.
  boost::asio::awaitable<bool> ready(const http::RequestContext& context);

  const std::string& url() const { return url_; }

 private:
  bool take_retry();
  // Where this call goes: apimon, or the refusing port while the fault is on.
  struct Destination {
    const std::string* host;
    std::uint16_t port;
  };
  Destination destination(const http::RequestContext& context);

  http::Client& client_;
  std::string host_;
  std::uint16_t port_;
  std::string url_;
  double retry_budget_;
  faults::FaultInjector* faults_;
  int refusing_socket_ = -1;  // bound, never listening: connections to it are refused
  std::string refusing_host_ = "127.0.0.1";
  std::uint16_t refusing_port_ = 0;
  std::atomic<std::uint64_t> calls_{0};
  std::atomic<std::uint64_t> retries_{0};
};

}  // namespace api_prometheus
