#include "upstream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace api_prometheus {

Upstream::Upstream(http::Client& client, std::string host, std::uint16_t port, double retry_budget,
                   faults::FaultInjector* faults)
    : client_(client),
      host_(std::move(host)),
      port_(port),
      url_("http://" + host_ + ":" + std::to_string(port_)),
      retry_budget_(retry_budget),
      faults_(faults) {
  if (!faults_ || !faults_->supports(faults::Fault::upstream_unreachable)) return;
  refusing_socket_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (refusing_socket_ < 0 || ::bind(refusing_socket_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::getsockname(refusing_socket_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    if (refusing_socket_ >= 0) ::close(refusing_socket_);
    throw std::system_error(error, std::generic_category(), "reserving a refusing port for fault injection");
  }
  refusing_port_ = ntohs(address.sin_port);
}

Upstream::~Upstream() {
  if (refusing_socket_ >= 0) ::close(refusing_socket_);
}

Upstream::Destination Upstream::destination(const http::RequestContext& context) {
  if (!faults_ || !faults_->any_active() || !faults_->upstream_unreachable()) return {&host_, port_};
  context.span.set_attribute("fault_injection.injected", "upstream_unreachable");
  return {&refusing_host_, refusing_port_};
}

bool Upstream::take_retry() {
  // A budget, not a count per call: when apimon is down, retries may add at
  // most `retry_budget` of extra load instead of multiplying it.
  const auto calls = calls_.load(std::memory_order_relaxed);
  const auto retries = retries_.load(std::memory_order_relaxed);
  if (static_cast<double>(retries + 1) > retry_budget_ * static_cast<double>(calls) + 1.0) return false;
  retries_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

boost::asio::awaitable<UpstreamResponse> Upstream::get(const http::RequestContext& context, std::string target) {
  for (int attempt = 0;; ++attempt) {
    calls_.fetch_add(1, std::memory_order_relaxed);
    bool retryable = false;
    std::string failure;
    try {
      http::Request request{http::verb::get, target, 11};
      request.set(boost::beast::http::field::accept, "application/json");
      const Destination to = destination(context);
      auto response = co_await client_.send(*to.host, to.port, std::move(request), &context.span.context());
      const unsigned status = response.result_int();
      if (status < 500) co_return UpstreamResponse{status, std::move(response.body())};
      retryable = true;
      failure = "apimon answered " + std::to_string(status);
    } catch (const http::ClientError& error) {
      if (error.timed_out()) throw UpstreamError(http::status::gateway_timeout, error.what());
      retryable = true;
      failure = error.what();
    }
    if (!(retryable && attempt == 0 && take_retry())) throw UpstreamError(http::status::bad_gateway, failure);
    context.span.add_event("retrying upstream call", {{"reason", failure}});
  }
}

boost::asio::awaitable<bool> Upstream::ready(const http::RequestContext& context) {
  bool ready = false;
  try {
    http::Request request{http::verb::get, "/readyz", 11};
    const Destination to = destination(context);
    const http::Response response = co_await client_.send(*to.host, to.port, std::move(request),
                                                          &context.span.context());
    ready = response.result() == http::status::ok;
  } catch (const http::ClientError&) {
    ready = false;
  }
  co_return ready;
}

}  // namespace api_prometheus
