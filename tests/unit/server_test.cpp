#include <http/problem.hpp>
#include <http/server.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

#include <thread>

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

// A server on an ephemeral loopback port, run on its own thread.
class RunningServer {
 public:
  explicit RunningServer(http::ServerLimits limits = {}) {
    http::Router router;
    router.get("/echo/{word}", [](http::RequestContext& context) -> asio::awaitable<http::Response> {
      co_return text(context, std::string(context.params.get("word")) + "|" + std::string(context.route));
    });
    router.get("/slow", [](http::RequestContext& context) -> asio::awaitable<http::Response> {
      asio::steady_timer timer(co_await asio::this_coro::executor, 300ms);
      co_await timer.async_wait(asio::use_awaitable);
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
  std::uint16_t port() const { return server_->port(); }
  http::Server& server() { return *server_; }

 private:
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  bool drained_ = false;
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
  EXPECT_EQ(client.receive().result(), http::status::bad_request);
  EXPECT_TRUE(client.closed_by_server());
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
  busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(50ms);  // the request is in flight
  std::thread stopper([&] { server.stop(); });
  const auto response = busy.receive();
  EXPECT_EQ(response.body(), "finished");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(idle.closed_by_server());
  stopper.join();
  EXPECT_TRUE(server.drained());
  boost::system::error_code ec;
  asio::io_context context;
  tcp::socket late(context);
  late.connect({asio::ip::make_address("127.0.0.1"), server.port()}, ec);
  EXPECT_TRUE(ec) << "the listener should be closed";
}

}  // namespace
