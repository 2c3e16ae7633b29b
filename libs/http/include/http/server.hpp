#pragma once
#include "http/router.hpp"
#include "http/server_metrics.hpp"

#include <trace/tracer.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace http {

struct ServerLimits {
  std::size_t max_header_bytes = std::size_t{8} * 1024;  // request line and headers → 431 beyond
  std::size_t max_body_bytes = std::size_t{64} * 1024;   // request body → 413 beyond
  std::chrono::milliseconds idle_timeout{60'000};        // a connection waiting for its next request to begin
  std::chrono::milliseconds io_timeout{30'000};          // receiving the rest of a request, or sending a response
  std::size_t max_connections = 10'000;                  // further connections are closed on accept
  std::chrono::milliseconds shutdown_grace{10'000};      // in-flight requests finish within this on shutdown
  // Response bytes the kernel may hold unsent (TCP_NOTSENT_LOWAT): beyond
  // them a write waits for the client to read, within the I/O timeout, so a
  // client that reads slowly or not at all is cut off instead of parking
  // megabytes in the socket's send buffer.
  std::size_t max_unsent_bytes = std::size_t{16} * 1024;
};

// Automatic instrumentation: a SERVER span per request (continuing the
// caller's traceparent), the RED metrics, and an access log line.
struct ServerTelemetry {
  trace::Tracer* tracer = nullptr;   // null: no spans
  ServerMetrics* metrics = nullptr;  // null: no metrics
  bool access_log = false;
};

struct ServerOptions {
  std::string address = "0.0.0.0";
  std::uint16_t port = 5000;
  unsigned threads = 1;  // one io_context and one SO_REUSEPORT listener per thread
  ServerLimits limits;
  std::string server_name = "http";
  ServerTelemetry telemetry;
};

// An HTTP/1.1 server on Boost.Beast with C++20 coroutines: keep-alive,
// pipelining, explicit limits, graceful shutdown.
class Server {
 public:
  Server(ServerOptions options, Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener. Throws std::system_error naming the address on failure.
  void listen();
  // The bound port (useful when the options asked for port 0).
  std::uint16_t port() const;
  // The first event loop's executor, after listen(): for clients whose
  // connections should live on the loop the handlers run on.
  boost::asio::any_io_executor executor() const;
  // Replaces the routes; only before run().
  void set_router(Router router);

  // Serves until stop() is called or SIGTERM/SIGINT arrives, then stops
  // accepting, lets in-flight requests finish within the grace period and
  // returns true if every connection closed in time.
  bool run();

  // Starts the graceful shutdown; safe from any thread.
  void stop();

  std::size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace http
