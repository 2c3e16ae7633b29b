#include "http/client.hpp"
#include "http/server_metrics.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <map>
#include <vector>

namespace http {
namespace {

using tcp = asio::ip::tcp;
namespace bhttp = beast::http;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

const std::vector<double> client_duration_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};

bool idempotent(verb method) {
  return method == verb::get || method == verb::head || method == verb::put || method == verb::delete_ ||
         method == verb::options;
}

// W3C trace context headers, so the server's spans join this trace.
void propagate_trace_context(const trace::SpanContext& context, Request& request) {
  if (!context.valid()) return;
  request.set("traceparent", trace::format_traceparent(context));
  if (!context.trace_state.empty()) request.set("tracestate", context.trace_state);
}

}  // namespace

struct Client::Impl {
  asio::any_io_executor executor;
  ClientOptions options;
  trace::Tracer* tracer;
  metrics::ExemplarHistogramFamily* duration = nullptr;
  std::map<std::string, std::vector<std::unique_ptr<beast::tcp_stream>>, std::less<>> idle;  // by "host:port"

  asio::awaitable<std::unique_ptr<beast::tcp_stream>> connect(const std::string& host, std::uint16_t port) {
    tcp::resolver resolver(executor);
    auto [resolve_error, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), use_tuple);
    if (resolve_error) throw ClientError("cannot resolve " + host + ": " + resolve_error.message(), false);
    auto stream = std::make_unique<beast::tcp_stream>(executor);
    stream->expires_after(options.timeout);
    auto [connect_error, endpoint] = co_await stream->async_connect(endpoints, use_tuple);
    if (connect_error)
      throw ClientError("cannot connect to " + host + ":" + std::to_string(port) + ": " + connect_error.message(),
                        connect_error == beast::error::timeout);
    stream->socket().set_option(tcp::no_delay(true));
    co_return stream;
  }

  // One exchange on `stream`; an empty optional when a reused connection
  // turned out closed before anything was read (safe to retry).
  asio::awaitable<std::optional<Response>> exchange(beast::tcp_stream& stream, Request& request, bool reused) const {
    stream.expires_after(options.timeout);
    auto [write_error, written] = co_await bhttp::async_write(stream, request, use_tuple);
    if (write_error) {
      if (reused && write_error != beast::error::timeout) co_return std::nullopt;
      throw ClientError("sending the request failed: " + write_error.message(), write_error == beast::error::timeout);
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body, FieldAllocator<char>> parser;
    parser.body_limit(options.max_response_body_bytes);
    auto [read_error, read] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    if (read_error) {
      if (reused && (read_error == bhttp::error::end_of_stream || read_error == asio::error::connection_reset))
        co_return std::nullopt;
      throw ClientError("reading the response failed: " + read_error.message(), read_error == beast::error::timeout);
    }
    co_return parser.release();
  }
};

Client::Client(asio::any_io_executor executor, ClientOptions options, trace::Tracer* tracer,
               metrics::MetricsRegistry* metrics)
    : impl_(std::make_shared<Impl>(Impl{std::move(executor), std::move(options), tracer, nullptr, {}})) {
  if (metrics)
    impl_->duration = &metrics->histogram_family(
        "http_client_request_duration_seconds",
        "Duration of outgoing HTTP calls, from connecting or reusing a connection to the response read.",
        client_duration_buckets);
}

Client::~Client() = default;

asio::awaitable<Response> Client::send(std::string host, std::uint16_t port, Request request,
                                       const trace::SpanContext* parent) {
  auto impl = impl_;  // keeps the pool alive while this call runs
  const std::string method(request.method_string());
  trace::Span span = impl->tracer ? impl->tracer->start_span(method, trace::SpanKind::client, parent) : trace::Span{};
  propagate_trace_context(span.context(), request);
  request.set(bhttp::field::host, host + ":" + std::to_string(port));
  request.set(bhttp::field::user_agent, impl->options.user_agent);
  request.keep_alive(true);
  request.prepare_payload();
  if (span.recording()) {
    span.set_attribute("http.request.method", ServerMetrics::normalized_method(method))
        .set_attribute("server.address", host)
        .set_attribute("server.port", static_cast<std::int64_t>(port))
        .set_attribute("url.full", "http://" + host + ":" + std::to_string(port) + std::string(request.target()));
  }

  const std::string key = host + ":" + std::to_string(port);
  const auto started = std::chrono::steady_clock::now();
  unsigned status_code = 0;
  std::exception_ptr failure;
  Response response;
  try {
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<beast::tcp_stream> stream;
      bool reused = false;
      if (auto& pool = impl->idle[key]; !pool.empty() && attempt == 0) {
        stream = std::move(pool.back());
        pool.pop_back();
        reused = true;
      } else {
        stream = co_await impl->connect(host, port);
      }
      auto answer = co_await impl->exchange(*stream, request, reused && idempotent(request.method()));
      if (!answer) continue;  // the server had closed the kept-alive connection: once more, on a new one
      response = std::move(*answer);
      status_code = response.result_int();
      auto& pool = impl->idle[key];
      if (response.keep_alive() && pool.size() < impl->options.max_idle_per_host) pool.push_back(std::move(stream));
      break;
    }
  } catch (const ClientError& error) {
    span.set_status(trace::StatusCode::error, error.what());
    span.set_attribute("error.type", error.timed_out() ? "timeout" : "connection");
    failure = std::current_exception();
  }

  if (impl->duration) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto& series = impl->duration->add({{"http_request_method", std::string(ServerMetrics::normalized_method(method))},
                                        {"server_address", host},
                                        {"http_response_status_code", failure ? "none" : std::to_string(status_code)}});
    series.observe(seconds, span.context());
  }
  if (failure) std::rethrow_exception(failure);
  if (span.recording()) {
    span.set_attribute("http.response.status_code", static_cast<std::int64_t>(status_code));
    if (status_code >= 400) span.set_status(trace::StatusCode::error);
  }
  co_return response;
}

}  // namespace http
