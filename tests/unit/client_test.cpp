#include <http/client.hpp>
#include <http/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class Capture final : public trace::SpanProcessor {
 public:
  void on_end(std::unique_ptr<trace::SpanData> span) override {
    std::lock_guard lock(mutex);
    spans.push_back(std::move(*span));
  }
  bool force_flush(std::chrono::milliseconds) override { return true; }
  bool shutdown(std::chrono::milliseconds) override { return true; }
  std::mutex mutex;
  std::vector<trace::SpanData> spans;
};

// A server whose routes echo the traceparent they received, or answer late.
class EchoServer {
 public:
  explicit EchoServer(trace::Tracer* tracer) {
    http::Router router;
    router.get("/echo", [](http::RequestContext& context) -> asio::awaitable<http::Response> {
      http::Response response{http::status::ok, 11};
      response.body() = std::string(context.request["traceparent"]);
      response.prepare_payload();
      co_return response;
    });
    // Far longer than any deadline a test gives the client.
    router.get("/slow", [](http::RequestContext&) -> asio::awaitable<http::Response> {
      asio::steady_timer timer(co_await asio::this_coro::executor, 30s);
      co_await timer.async_wait(asio::use_awaitable);
      co_return http::Response{http::status::ok, 11};
    });
    http::ServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.limits.idle_timeout = 150ms;    // closes kept-alive connections quickly, for the retry test
    options.limits.shutdown_grace = 100ms;  // a /slow request left behind does not hold the stop up
    options.telemetry.tracer = tracer;
    server_ = std::make_unique<http::Server>(options, std::move(router));
    server_->listen();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~EchoServer() {
    server_->stop();
    thread_.join();
  }
  std::uint16_t port() const { return server_->port(); }

 private:
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

http::Request get(std::string_view target) { return http::Request{http::verb::get, target, 11}; }

template <class F>
auto run(asio::io_context& context, F f) {
  auto future = asio::co_spawn(context, f(), asio::use_future);
  context.run();
  context.restart();
  return future.get();
}

TEST(Client, PropagatesTheTraceAndRecordsAClientSpan) {
  auto capture = std::make_unique<Capture>();
  auto* captured = capture.get();
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::move(capture));
  EchoServer server(&tracer);
  asio::io_context context;
  metrics::MetricsRegistry metrics;
  http::Client client(context.get_executor(), {}, &tracer, &metrics);
  const auto parent = *trace::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

  const auto response = run(context, [&]() -> asio::awaitable<http::Response> {
    co_return co_await client.send("127.0.0.1", server.port(), get("/echo"), &parent);
  });
  ASSERT_EQ(response.result(), http::status::ok);
  const auto sent = trace::parse_traceparent(response.body());
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->trace_id.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");

  std::lock_guard lock(captured->mutex);
  const auto client_span = std::find_if(captured->spans.begin(), captured->spans.end(),
                                        [](auto& s) { return s.kind == trace::SpanKind::client; });
  const auto server_span = std::find_if(captured->spans.begin(), captured->spans.end(),
                                        [](auto& s) { return s.kind == trace::SpanKind::server; });
  ASSERT_NE(client_span, captured->spans.end());
  ASSERT_NE(server_span, captured->spans.end());
  EXPECT_EQ(client_span->parent_span_id.hex(), "00f067aa0ba902b7");
  EXPECT_EQ(sent->span_id, client_span->span_id);                // the header carried the client span
  EXPECT_EQ(server_span->parent_span_id, client_span->span_id);  // and the server continued it
  EXPECT_EQ(server_span->name, "GET /echo");
  EXPECT_NE(metrics.find_histogram_family("http_client_request_duration_seconds"), nullptr);
}

TEST(Client, ReplacesAKeptAliveConnectionTheServerClosed) {
  EchoServer server(nullptr);
  asio::io_context context;
  http::Client client(context.get_executor(), {}, nullptr, nullptr);
  const auto first = run(context, [&]() -> asio::awaitable<http::Response> {
    co_return co_await client.send("127.0.0.1", server.port(), get("/echo"), nullptr);
  });
  EXPECT_EQ(first.result(), http::status::ok);
  std::this_thread::sleep_for(400ms);  // past the server's idle timeout: it closes the pooled connection
  const auto second = run(context, [&]() -> asio::awaitable<http::Response> {
    co_return co_await client.send("127.0.0.1", server.port(), get("/echo"), nullptr);
  });
  EXPECT_EQ(second.result(), http::status::ok);
}

TEST(Client, GivesUpAtItsDeadline) {
  EchoServer server(nullptr);
  asio::io_context context;
  http::ClientOptions options;
  options.timeout = 100ms;
  http::Client client(context.get_executor(), options, nullptr, nullptr);
  const auto started = std::chrono::steady_clock::now();
  bool timed_out = false;
  run(context, [&]() -> asio::awaitable<void> {
    try {
      co_await client.send("127.0.0.1", server.port(), get("/slow"), nullptr);
    } catch (const http::ClientError& error) {
      timed_out = error.timed_out();
    }
  });
  EXPECT_TRUE(timed_out);
  // /slow answers after 30 s: a client that waited for the answer would not
  // have timed out, nor come back this early on any machine, however busy.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST(Client, RefusedConnectionsAreClientErrors) {
  asio::io_context context;
  http::Client client(context.get_executor(), {}, nullptr, nullptr);
  bool failed = false;
  run(context, [&]() -> asio::awaitable<void> {
    try {
      co_await client.send("127.0.0.1", 1, get("/"), nullptr);
    } catch (const http::ClientError& error) {
      failed = !error.timed_out();
    }
  });
  EXPECT_TRUE(failed);
}

}  // namespace
