#include "capturing_span_processor.hpp"

#include <http/http_date.hpp>
#include <http/problem.hpp>
#include <http/server.hpp>
#include <http/server_metrics.hpp>
#include <metrics/exposition.hpp>
#include <metrics/registry.hpp>
#include <trace/batch_span_processor.hpp>
#include <trace/sampler.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <regex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

http::Response text(const http::RequestContext& context, std::string body) {
  http::Response response{http::status::ok, context.request.version()};
  response.set(bhttp::field::content_type, "text/plain");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

// Far more than a socket's buffers hold while the client reads nothing.
constexpr std::size_t large_body_bytes = std::size_t{1} << 20;

// A server on an ephemeral loopback port, run on its own thread.
class RunningServer {
 public:
  explicit RunningServer(http::ServerLimits limits = {}) {
    http::Router router;
    router.get("/echo/{word}", [](http::RequestContext& context) -> asio::awaitable<http::Response> {
      co_return text(context, std::string(context.params.get("word")) + "|" + std::string(context.route));
    });
    // Answers once the test opens the gate (or after a minute), so that a
    // request is in flight for exactly as long as the test needs it.
    router.get("/gated", [this](http::RequestContext& context) -> asio::awaitable<http::Response> {
      gate_entered_ = true;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      for (int polls = 0; polls < 12'000 && !gate_open_; ++polls) {
        timer.expires_after(5ms);
        co_await timer.async_wait(asio::use_awaitable);
      }
      co_return text(context, "finished");
    });
    router.get("/fail", [](http::RequestContext&) -> asio::awaitable<http::Response> {
      throw std::runtime_error("SELECT secret FROM internals");
      co_return http::Response{};
    });
    router.get("/teapot", [](http::RequestContext&) -> asio::awaitable<http::Response> {
      throw http::ProblemError(http::status::bad_request, "Bad teapot.");
      co_return http::Response{};
    });
    // Sets the two fields the server writes itself on every response.
    router.get("/self-described", [](http::RequestContext& context) -> asio::awaitable<http::Response> {
      http::Response response = text(context, "mine");
      response.set(bhttp::field::server, "the-handler");
      response.set(bhttp::field::date, "Thu, 01 Jan 1970 00:00:00 GMT");
      co_return response;
    });
    router.get("/large", [](http::RequestContext& context) -> asio::awaitable<http::Response> {
      co_return text(context, std::string(large_body_bytes, 'p'));
    });
    http::ServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.limits = limits;
    server_ = std::make_unique<http::Server>(options, std::move(router));
    server_->listen();
    thread_ = std::thread([this] { drained_ = server_->run(); });
  }
  ~RunningServer() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
  }
  bool drained() const { return drained_; }
  // True once a /gated request has reached its handler; bounded wait.
  bool wait_until_gate_entered() const {
    for (int polls = 0; polls < 6'000 && !gate_entered_; ++polls) std::this_thread::sleep_for(5ms);
    return gate_entered_;
  }
  void open_gate() { gate_open_ = true; }
  std::uint16_t port() const { return server_->port(); }
  http::Server& server() { return *server_; }

 private:
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  bool drained_ = false;
  std::atomic<bool> gate_entered_{false};
  std::atomic<bool> gate_open_{false};
};

class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(context_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }

  void send(std::string_view raw) { asio::write(socket_, asio::buffer(raw)); }

  bhttp::response<bhttp::string_body> receive() {
    bhttp::response<bhttp::string_body> response;
    bhttp::read(socket_, buffer_, response);
    return response;
  }

  // Every byte the server sends until it closes the connection.
  std::string receive_until_closed() {
    std::string raw = boost::beast::buffers_to_string(buffer_.data());
    boost::system::error_code ec;
    std::array<char, 4096> chunk;
    while (!ec) raw.append(chunk.data(), socket_.read_some(asio::buffer(chunk), ec));
    return raw;
  }

  // True when the server has closed the connection (a read returns EOF).
  bool closed_by_server() {
    boost::system::error_code ec;
    char byte;
    socket_.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context context_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

TEST(Server, ServesRoutesAndPassesTheTemplate) {
  RunningServer server;
  Client client(server.port());
  client.send("GET /echo/hi HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto response = client.receive();
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response.body(), "hi|/echo/{word}");
  EXPECT_FALSE(response[bhttp::field::date].empty());
}

TEST(Server, KeepsConnectionsAliveAndAnswersPipelinedRequestsInOrder) {
  RunningServer server;
  Client client(server.port());
  client.send("GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/two HTTP/1.1\r\nHost: x\r\n\r\n"
              "GET /echo/three HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(client.receive().body(), "one|/echo/{word}");
  EXPECT_EQ(client.receive().body(), "two|/echo/{word}");
  EXPECT_EQ(client.receive().body(), "three|/echo/{word}");
  client.send("GET /echo/four HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(client.receive().body(), "four|/echo/{word}");
  EXPECT_TRUE(client.closed_by_server());
}

TEST(Server, AnswersProblemsForUnknownRoutesAndMethods) {
  RunningServer server;
  Client client(server.port());
  client.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto missing = client.receive();
  EXPECT_EQ(missing.result(), http::status::not_found);
  EXPECT_EQ(missing[bhttp::field::content_type], "application/problem+json");
  client.send("DELETE /echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto wrong_method = client.receive();
  EXPECT_EQ(wrong_method.result(), http::status::method_not_allowed);
  EXPECT_EQ(wrong_method[bhttp::field::allow], "GET");
}

TEST(Server, HandlerErrorsNeverLeakInternals) {
  RunningServer server;
  Client client(server.port());
  client.send("GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto failed = client.receive();
  EXPECT_EQ(failed.result(), http::status::internal_server_error);
  EXPECT_EQ(failed.body().find("SELECT"), std::string::npos);
  client.send("GET /teapot HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto refused = client.receive();
  EXPECT_EQ(refused.result(), http::status::bad_request);
  EXPECT_NE(refused.body().find("Bad teapot."), std::string::npos);
}

TEST(Server, OversizeHeadersGet431AndOversizeBodies413) {
  http::ServerLimits limits;
  limits.max_header_bytes = 1024;
  limits.max_body_bytes = 16;
  RunningServer server(limits);
  {
    Client client(server.port());
    client.send("GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
    EXPECT_EQ(client.receive().result(), http::status::request_header_fields_too_large);
    EXPECT_TRUE(client.closed_by_server());
  }
  {
    Client client(server.port());
    client.send("GET /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n" + std::string(17, 'b'));
    EXPECT_EQ(client.receive().result(), http::status::payload_too_large);
  }
}

TEST(Server, MalformedRequestsGet400) {
  RunningServer server;
  Client client(server.port());
  client.send("THIS IS NOT HTTP\r\n\r\n");
  const auto response = client.receive();
  EXPECT_EQ(response.result(), http::status::bad_request);
  EXPECT_EQ(response[bhttp::field::server], "http");
  EXPECT_TRUE(http::parse_http_date(response[bhttp::field::date]).has_value());
  EXPECT_TRUE(client.closed_by_server());
}

// Every response carries the server's one Server field and one Date field
// of now; a handler's own are replaced, not repeated.
TEST(Server, EveryResponseHasTheServersNameAndDateOnce) {
  RunningServer server;
  Client client(server.port());
  for (const std::string_view path : {"/echo/hi", "/self-described", "/nowhere"}) {
    client.send("GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto before = std::time(nullptr);
    const auto response = client.receive();
    EXPECT_EQ(response.count(bhttp::field::server), 1U) << path;
    EXPECT_EQ(response[bhttp::field::server], "http") << path;
    ASSERT_EQ(response.count(bhttp::field::date), 1U) << path;
    const auto date = http::parse_http_date(response[bhttp::field::date]);
    ASSERT_TRUE(date.has_value()) << path;
    EXPECT_LE(std::abs(*date - before), 2) << path;
  }
}

// The bytes on the wire, exactly: the status line, the handler's fields in
// their order (its own Server and Date left out), the server's Server and
// Date, the body, and nothing after it, for two responses on one connection.
TEST(Server, WritesEachResponseByteForByte) {
  RunningServer server;
  Client client(server.port());
  client.send("GET /self-described HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/bye HTTP/1.0\r\n\r\n");
  const std::string raw = client.receive_until_closed();
  const std::regex date("Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT\r\n");
  EXPECT_EQ(std::regex_replace(raw, date, "Date: <now>\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n"
            "Server: http\r\nDate: <now>\r\n\r\nmine"
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
            "Server: http\r\nDate: <now>\r\n\r\nbye|/echo/{word}");
}

TEST(Server, ClosesIdleConnections) {
  http::ServerLimits limits;
  limits.idle_timeout = 200ms;
  RunningServer server(limits);
  Client client(server.port());
  client.send("GET /echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
  client.receive();
  EXPECT_TRUE(client.closed_by_server());  // returns once the idle timer fires
}

TEST(Server, RefusesConnectionsBeyondTheLimit) {
  http::ServerLimits limits;
  limits.max_connections = 1;
  RunningServer server(limits);
  Client first(server.port());
  first.send("GET /echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
  first.receive();
  Client second(server.port());
  EXPECT_TRUE(second.closed_by_server());
}

TEST(Server, ShutdownFinishesInFlightRequestsThenStops) {
  RunningServer server;
  Client busy(server.port());
  Client idle(server.port());
  idle.send("GET /echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
  idle.receive();
  busy.send("GET /gated HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(server.wait_until_gate_entered());  // the request is in flight
  std::thread stopper([&] { server.stop(); });
  EXPECT_TRUE(idle.closed_by_server());  // the shutdown has begun: idle connections go first
  server.open_gate();                    // and only then does the request in flight finish
  const auto response = busy.receive();
  EXPECT_EQ(response.body(), "finished");
  EXPECT_FALSE(response.keep_alive());
  stopper.join();
  EXPECT_TRUE(server.drained());
  boost::system::error_code ec;
  asio::io_context context;
  tcp::socket late(context);
  late.connect({asio::ip::make_address("127.0.0.1"), server.port()}, ec);
  // With no listener, the kernel can pick the freed port as the socket's own
  // and connect it to itself (TCP simultaneous open): that is no listener either.
  const bool connected_to_itself = !ec && late.local_endpoint() == late.remote_endpoint();
  EXPECT_TRUE(ec || connected_to_itself) << "the listener should be closed";
}

// A slowloris sends the first bytes of a request at once and the rest never:
// the I/O timeout, not the much longer idle timeout, ends it.
TEST(Server, ARequestThatTricklesInIsCutOffAfterTheIoTimeout) {
  http::ServerLimits limits;
  limits.idle_timeout = 60s;
  limits.io_timeout = 200ms;
  RunningServer server(limits);
  Client client(server.port());
  const auto started = std::chrono::steady_clock::now();
  client.send("GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_LT(std::chrono::steady_clock::now() - started, limits.idle_timeout / 2);
}

// A client that asks for a large response and never reads it: the write waits
// once the unsent bytes pass their bound, the I/O timeout ends it, and the
// connection is reset rather than left to trickle its queued bytes out.
TEST(Server, AClientThatStopsReadingIsResetAfterTheIoTimeout) {
  http::ServerLimits limits;
  limits.idle_timeout = 60s;
  limits.io_timeout = 200ms;
  RunningServer server(limits);
  asio::io_context context;
  tcp::socket socket(context);
  socket.open(tcp::v4());
  socket.set_option(asio::socket_base::receive_buffer_size(4096));
  socket.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  for (int polls = 0; polls < 4'000 && server.server().open_connections() == 0; ++polls)
    std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server.server().open_connections(), 1U) << "the server did not take the connection";
  asio::write(socket, asio::buffer(std::string_view("GET /large HTTP/1.1\r\nHost: x\r\n\r\n")));
  for (int polls = 0; polls < 4'000 && server.server().open_connections() > 0; ++polls)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(server.server().open_connections(), 0U) << "the server still holds the connection";

  std::size_t received = 0;
  boost::system::error_code ec;
  std::array<char, 4096> chunk{};
  while (!ec) received += socket.read_some(asio::buffer(chunk), ec);
  EXPECT_EQ(ec, asio::error::connection_reset);
  EXPECT_LT(received, large_body_bytes);
}

// Counts what the batch processor's thread hands it.
class CountingExporter final : public trace::SpanExporter {
 public:
  explicit CountingExporter(std::atomic<std::size_t>& exported) : exported_(exported) {}
  trace::ExportResult export_spans(trace::SpanBatch spans) override {
    exported_ += spans.size();
    return trace::ExportResult::success;
  }

 private:
  std::atomic<std::size_t>& exported_;
};

std::string text_attribute(const trace::SpanData& span, const trace::AttributeKey& key) {
  const std::size_t slot = span.attributes.find(key);
  if (slot == span.attributes.size()) return "(absent)";
  const trace::AttributeView attribute = span.attributes[slot];
  const auto* text = std::get_if<std::string_view>(&attribute.value);
  return text != nullptr ? std::string(*text) : "(not text)";
}

// The SERVER span reads the caller's trace context and its user agent from
// the request's fields, whatever their names' case; of a repeated field,
// the first counts.
TEST(Server, TheServerSpanContinuesTheCallersTraceAndNamesItsUserAgent) {
  std::vector<trace::SpanData> spans;  // filled on the server's thread, read after it ends
  trace::Tracer tracer({}, {"server_test", "1"}, trace::always_on_sampler(),
                       std::make_unique<CapturingProcessor>(spans));
  http::Router router;
  router.get("/echo/{word}", [](http::RequestContext& context) -> asio::awaitable<http::Response> {
    co_return text(context, std::string(context.params.get("word")));
  });
  http::ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  options.telemetry.tracer = &tracer;
  http::Server server(options, std::move(router));
  server.listen();
  std::thread loop([&] { server.run(); });

  Client client(server.port());
  client.send("GET /echo/child HTTP/1.1\r\nHost: x\r\nUser-Agent: probe/1\r\n"
              "TraceParent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
              "TRACESTATE: congo=t61rcWkgMzE\r\nuser-agent: second\r\n"
              "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
              "tracestate: rojo=00f067aa0ba902b7\r\n\r\n");
  EXPECT_EQ(client.receive().body(), "child");
  client.send("GET /echo/root HTTP/1.1\r\nHost: x\r\ntracestate: congo=t61rcWkgMzE\r\n\r\n");
  EXPECT_EQ(client.receive().body(), "root");
  server.stop();
  loop.join();

  ASSERT_EQ(spans.size(), 2U);
  const trace::SpanData& child = spans[0];
  EXPECT_EQ(child.trace_id.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(child.parent_span_id.hex(), "00f067aa0ba902b7");
  EXPECT_EQ(child.trace_state, "congo=t61rcWkgMzE");
  EXPECT_EQ(text_attribute(child, "user_agent.original"), "probe/1");
  const trace::SpanData& root = spans[1];
  EXPECT_NE(root.trace_id.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_FALSE(root.parent_span_id.valid());
  EXPECT_EQ(root.trace_state, "");  // a tracestate without a traceparent is ignored
  EXPECT_EQ(text_attribute(root, "user_agent.original"), "(absent)");
}

// Keep-alive as each version has it: HTTP/1.1 unless the client says close,
// HTTP/1.0 only when it asks, and the response says which.
TEST(Server, KeepsAliveAsTheClientsVersionAndConnectionFieldSay) {
  RunningServer server;
  {
    Client client(server.port());
    client.send("GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto kept = client.receive();
    EXPECT_EQ(kept.count(bhttp::field::connection), 0U);
    EXPECT_TRUE(kept.keep_alive());
    client.send("GET /echo/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto closing = client.receive();
    EXPECT_EQ(closing.body(), "b|/echo/{word}");
    EXPECT_EQ(closing[bhttp::field::connection], "close");
    EXPECT_TRUE(client.closed_by_server());
  }
  {
    Client client(server.port());
    client.send("GET /echo/c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const auto kept = client.receive();
    EXPECT_EQ(kept.version(), 10U);
    EXPECT_EQ(kept[bhttp::field::connection], "keep-alive");
    client.send("GET /echo/d HTTP/1.0\r\n\r\n");
    const auto closing = client.receive();
    EXPECT_EQ(closing.body(), "d|/echo/{word}");
    EXPECT_EQ(closing.count(bhttp::field::connection), 0U);
    EXPECT_TRUE(client.closed_by_server());
  }
}

// Several event loops serving several clients at once, each request touching
// the state the loops share: the SERVER span queued for the batch processor's
// thread, the RED metrics' per-thread cells, read by a scrape meanwhile.
TEST(Server, ServesConcurrentClientsOnSeveralEventLoops) {
  constexpr int clients = 8;
  constexpr int requests_per_client = 25;
  std::atomic<std::size_t> exported{0};
  metrics::MetricsRegistry registry;
  http::ServerMetrics server_metrics(registry);
  trace::BatchSpanProcessorOptions batching;
  batching.schedule_delay = 10ms;
  trace::Tracer tracer({}, {"server_test", "1"}, trace::always_on_sampler(),
                       std::make_unique<trace::BatchSpanProcessor>(std::make_unique<CountingExporter>(exported),
                                                                   batching));
  http::Router router;
  router.get("/echo/{word}", [](http::RequestContext& context) -> asio::awaitable<http::Response> {
    co_return text(context, std::string(context.params.get("word")) + "|" + std::string(context.route));
  });
  http::ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.threads = 4;
  options.telemetry.tracer = &tracer;
  options.telemetry.metrics = &server_metrics;
  http::Server server(options, std::move(router));
  server.listen();
  std::thread loops([&] { server.run(); });

  std::atomic<int> answered{0};
  std::atomic<int> running{clients};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      try {
        Client client(server.port());
        for (int i = 0; i < requests_per_client; ++i) {
          const std::string word = std::to_string(c) + "-" + std::to_string(i);
          client.send("GET /echo/" + word + " HTTP/1.1\r\nHost: x\r\n\r\n");
          const auto response = client.receive();
          if (response.result() == http::status::ok && response.body() == word + "|/echo/{word}") ++answered;
        }
      } catch (const std::exception&) {  // counted as unanswered
      }
      --running;
    });
  }
  int scrapes = 0;
  while (running > 0) {
    EXPECT_FALSE(metrics::serialize(registry, metrics::ExpositionFormat::prometheus_text_0_0_4).empty());
    ++scrapes;
  }
  for (auto& thread : threads) thread.join();
  server.stop();
  loops.join();

  EXPECT_EQ(answered, clients * requests_per_client);
  EXPECT_GT(scrapes, 0);
  EXPECT_TRUE(tracer.force_flush(10s));
  EXPECT_EQ(exported, static_cast<std::size_t>(clients * requests_per_client));
  EXPECT_THAT(metrics::serialize(registry, metrics::ExpositionFormat::prometheus_text_0_0_4),
              testing::HasSubstr("http_server_request_duration_seconds_count{http_request_method=\"GET\","
                                 "http_response_status_code=\"200\",http_route=\"/echo/{word}\"} " +
                                 std::to_string(clients * requests_per_client) + "\n"));
}

}  // namespace
