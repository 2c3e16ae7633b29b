#include "http_transport.hpp"

#include "header_syntax.hpp"
#include "retry_policy.hpp"
#include "text/text.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <string_view>

namespace otlp {
namespace {

using Clock = std::chrono::steady_clock;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Only for logging the start of an error response; a larger one fails the attempt.
constexpr std::uint64_t max_response_body = std::uint64_t{8} * 1024 * 1024;
constexpr std::uint32_t max_response_header = 64 * 1024;

// Connection failures and timeouts are worth another attempt; so is a response
// cut short (or not even begun), but not one that is not HTTP.
bool is_retryable(const error_code& error) {
  if (error.category() == make_error_code(bhttp::error::end_of_stream).category())
    return error == bhttp::error::end_of_stream || error == bhttp::error::partial_message;
  return true;
}

bool is_reserved_header(std::string_view name) {
  static constexpr std::array<std::string_view, 5> reserved{"content-type", "content-encoding", "content-length",
                                                            "transfer-encoding", "expect"};
  return std::ranges::any_of(reserved, [&](std::string_view header) { return text::iequals(name, header); });
}

std::string describe(const error_code& error) {
  return error == beast::error::timeout ? std::string("timed out") : error.message();
}

}  // namespace

// The stream's expiry bounds every operation on it, so each completes by the
// attempt's deadline.
struct HttpTransport::Connection {
  EndpointUrl url;
  std::optional<asio::ip::address> address;  // the host when it is an IP address, which needs no resolving

  asio::io_context io{1};
  tcp::resolver resolver{io};
  beast::tcp_stream stream{io};
  bool connected = false;
  beast::flat_buffer buffer;
  bhttp::request<bhttp::span_body<const char>> request;

  // Starts an operation on `stream` with a completion handler, then runs the
  // io_context until that handler has run. The stream's expiry ends the
  // operation at the latest. (The handler shares what it sets, so that even an
  // exception out of run_one leaves it nothing dangling.)
  template <class Initiation>
  error_code run(Initiation&& initiate) {
    auto result = std::make_shared<std::optional<error_code>>();
    std::forward<Initiation>(initiate)([result](const error_code& error, auto&&...) { *result = error; });
    while (!*result) {
      if (io.stopped()) io.restart();
      if (io.run_one() == 0 && !*result) return asio::error::operation_aborted;  // cannot happen: nothing pending
    }
    return **result;
  }

  // The host's addresses, waiting until the deadline at most. A lookup that
  // outlives it is cancelled and left to finish on its own (the resolver runs
  // getaddrinfo on a thread of its own); its handler owns what it touches.
  error_code resolve(Clock::time_point deadline, std::vector<tcp::endpoint>& endpoints) {
    struct Lookup {
      bool done = false;
      error_code error;
      std::vector<tcp::endpoint> endpoints;
    };
    auto lookup = std::make_shared<Lookup>();
    resolver.async_resolve(url.host, std::to_string(url.port),
                           [lookup](const error_code& error, const tcp::resolver::results_type& results) {
                             lookup->done = true;
                             lookup->error = error;
                             for (const auto& entry : results) lookup->endpoints.push_back(entry.endpoint());
                           });
    while (!lookup->done) {
      if (Clock::now() >= deadline) {
        resolver.cancel();
        return beast::error::timeout;
      }
      if (io.stopped()) io.restart();
      io.run_one_until(deadline);
    }
    endpoints = std::move(lookup->endpoints);
    return lookup->error;
  }

  void disconnect() {
    stream.close();
    connected = false;
    buffer.clear();
  }

  // Whether the kept connection still looks usable: the server has not closed
  // it (nor sent anything, which an idle HTTP/1.1 connection never should).
  bool still_open() {
    if (!stream.socket().is_open()) return false;
    char byte = 0;
    const auto received = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  std::optional<AttemptOutcome> connect(Clock::time_point deadline) {
    std::vector<tcp::endpoint> endpoints;
    if (address) {
      endpoints.emplace_back(*address, url.port);
    } else if (const auto error = resolve(deadline, endpoints)) {
      return AttemptOutcome{false, true, std::nullopt, "cannot resolve " + url.host + ": " + describe(error)};
    }
    stream.expires_at(deadline);
    if (const auto error = run([&](auto handler) { stream.async_connect(endpoints, std::move(handler)); })) {
      disconnect();
      return AttemptOutcome{false, true, std::nullopt, "cannot connect to " + url.authority + ": " + describe(error)};
    }
    error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    stream.socket().set_option(asio::socket_base::keep_alive(true), ignored);
    connected = true;
    buffer.clear();
    return std::nullopt;
  }

  // One request and its response on the open connection. `stale` when it
  // failed before a byte of response came back in a way that means the server
  // had closed the connection: on a reused one, worth sending again at once.
  struct Exchange {
    AttemptOutcome outcome;
    bool stale = false;
  };

  Exchange exchange(Clock::time_point deadline) {
    Exchange result;
    stream.expires_at(deadline);
    if (const auto error = run([&](auto handler) { bhttp::async_write(stream, request, std::move(handler)); })) {
      disconnect();
      result.stale = error != beast::error::timeout;
      result.outcome = {false, true, std::nullopt, "sending the request failed: " + describe(error)};
      return result;
    }
    std::optional<bhttp::response_parser<bhttp::string_body>> parser;
    do {  // an interim 1xx response is followed by the real one
      parser.emplace();
      parser->header_limit(max_response_header);
      parser->body_limit(max_response_body);
      const auto error = run([&](auto handler) { bhttp::async_read(stream, buffer, *parser, std::move(handler)); });
      if (error) {
        disconnect();
        result.stale = !parser->got_some() && (error == bhttp::error::end_of_stream ||
                                               error == asio::error::connection_reset || error == asio::error::eof);
        result.outcome = {false, is_retryable(error), std::nullopt, "reading the response failed: " + describe(error)};
        return result;
      }
    } while (parser->get().result_int() >= 100 && parser->get().result_int() < 200 &&
             parser->get().result_int() != 101);
    stream.expires_never();

    const auto& response = parser->get();
    const unsigned status = response.result_int();
    if (!response.keep_alive() || status == 101) disconnect();
    if (status >= 200 && status < 300) {
      result.outcome.success = true;
      return result;
    }
    result.outcome.retryable = is_retryable_status(status);
    if (result.outcome.retryable) {
      if (const auto retry_after = response.find(bhttp::field::retry_after); retry_after != response.end())
        result.outcome.retry_after = parse_retry_after(text::trim(retry_after->value(), text::ascii_whitespace),
                                                       std::time(nullptr));
    }
    result.outcome.problem = "HTTP " + std::to_string(status);
    // Keep the start of an error response for the log, printable characters only.
    std::string excerpt;
    for (const char c : response.body()) {
      if (excerpt.size() >= 200) break;
      if (c >= 0x20 && c < 0x7f) excerpt.push_back(c);
    }
    if (!excerpt.empty()) result.outcome.problem += " (" + excerpt + ")";
    return result;
  }
};

HttpTransport::HttpTransport(EndpointUrl url, const std::vector<std::pair<std::string, std::string>>& headers,
                             bool gzip)
    : connection_(std::make_unique<Connection>()) {
  auto& connection = *connection_;
  connection.url = std::move(url);
  error_code not_an_address;
  const auto literal = asio::ip::make_address(connection.url.host, not_an_address);
  if (!not_an_address) connection.address = literal;

  auto& request = connection.request;
  request.method(bhttp::verb::post);
  request.target(connection.url.target);
  request.version(11);
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const auto& [name, raw_value] = headers[i];
    const auto value = text::trim(raw_value, text::ascii_whitespace);
    if (!is_token(name) || !is_safe_header_value(value)) {
      spdlog::warn("OTLP exporter: leaving out header {}: not a valid header name or value", i + 1);
      continue;
    }
    if (is_reserved_header(name)) {
      spdlog::warn("OTLP exporter: leaving out header '{}': the exporter sets it", name);
      continue;
    }
    request.insert(name, value);
  }
  // A Host or User-Agent among the headers replaces the exporter's own.
  if (request.find(bhttp::field::host) == request.end()) request.set(bhttp::field::host, connection.url.authority);
  if (request.find(bhttp::field::user_agent) == request.end())
    request.set(bhttp::field::user_agent, "OTel-OTLP-Exporter-Cpp (pokedex-stack telemetry)");
  request.set(bhttp::field::content_type, "application/x-protobuf");
  if (gzip) request.set(bhttp::field::content_encoding, "gzip");
}

HttpTransport::~HttpTransport() = default;

AttemptOutcome HttpTransport::post(const std::string& payload, std::chrono::milliseconds budget) {
  auto& connection = *connection_;
  const auto deadline = Clock::now() + budget;
  connection.request.body() = {payload.data(), payload.size()};
  connection.request.prepare_payload();
  bool reused = connection.connected;
  if (reused && !connection.still_open()) {
    connection.disconnect();
    reused = false;
  }
  while (true) {
    if (!connection.connected) {
      if (auto failure = connection.connect(deadline)) return std::move(*failure);
    }
    auto result = connection.exchange(deadline);
    if (!(result.stale && reused)) return std::move(result.outcome);
    // The server closed the kept connection as the request went out: once
    // more on a new one, within the same attempt.
    reused = false;
  }
}

}  // namespace otlp
