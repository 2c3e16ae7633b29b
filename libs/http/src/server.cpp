#include "http/server.hpp"

#include "http/http_date.hpp"
#include "http/problem.hpp"
#include "http/query.hpp"
#include "text/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <logging/logging.hpp>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <linux/sockios.h>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_set>
#include <utility>

namespace http {
namespace {

using tcp = asio::ip::tcp;
namespace bhttp = beast::http;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using Clock = std::chrono::steady_clock;
using TimeoutPhase = ServerMetrics::TimeoutPhase;

// One client connection, shared by the coroutine serving it and its watchdog.
// Whether it is between requests decides whether a shutdown may close it at
// once or must let it finish.
struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)), watchdog(socket.get_executor()) {}
  tcp::socket socket;
  asio::steady_timer watchdog;
  Clock::time_point deadline = Clock::time_point::max();
  TimeoutPhase phase = TimeoutPhase::idle;  // what the deadline is waiting for
  bool busy = false;
  bool in_handler = false;
  bool closed = false;
  bool timed_out = false;  // the watchdog cut it off
};

// Bytes sent on the socket that the peer has not acknowledged yet: what a
// client that stopped reading leaves queued in the kernel.
std::size_t unacknowledged_bytes(tcp::socket& socket) {
  int bytes = 0;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl is the only interface to the send queue
  if (::ioctl(socket.native_handle(), SIOCOUTQ, &bytes) != 0 || bytes < 0) return 0;
  return static_cast<std::size_t>(bytes);
}

// A warning clients can trigger as often as they like (a connection flood):
// logged at most once a second, with the number of times it happened.
class RepeatedWarning {
 public:
  // The occurrences to report now, this one included; 0 to stay quiet.
  std::size_t occurred() {
    ++pending_;
    const auto now = Clock::now();
    if (now < next_) return 0;
    next_ = now + std::chrono::seconds(1);
    return std::exchange(pending_, 0);
  }

 private:
  Clock::time_point next_{};
  std::size_t pending_ = 0;
};

// How long the accept loop pauses after a failure such as running out of
// file descriptors, which would otherwise repeat at once and spin: doubling
// from 5 ms to 1 s while the failures go on, as Go's net/http does.
constexpr std::chrono::milliseconds first_accept_backoff{5};
constexpr std::chrono::milliseconds longest_accept_backoff{1'000};

// The most a connection reads in one go, as Beast's own reads do.
constexpr std::size_t read_chunk_bytes = 65'536;

// Parses what `buffer` holds into `parser`; true when the request is not
// complete yet and more must be read.
template <class Parser>
bool needs_more(Parser& parser, beast::flat_buffer& buffer, boost::system::error_code& error) {
  buffer.consume(parser.put(buffer.data(), error));
  return !parser.is_done() && (!error || error == bhttp::error::need_more);
}

// Writes what the socket takes at once, without waiting (on a socket in
// non-blocking mode); returns how much that was. An error is left for the
// asynchronous write of the rest to report.
std::size_t write_now(tcp::socket& socket, std::string_view bytes) {
  if (!socket.non_blocking()) return 0;
  boost::system::error_code unsent;
  return socket.write_some(asio::buffer(bytes.data(), bytes.size()), unsent);
}

// Status line, fields and body in one buffer, so a response leaves in one write.
// Every response carries the server's Server and Date fields, written here
// rather than set on the response: each field set on a response is a heap
// allocation, and these two would be two more on every request. A handler's
// own Server or Date is replaced, as setting them would.
void serialize(const Response& response, std::string_view server_name, std::string& out) {
  const auto sent = [](const auto& field) {
    return field.name() != bhttp::field::server && field.name() != bhttp::field::date;
  };
  constexpr std::string_view crlf = "\r\n";
  const std::string_view version = response.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  const std::string_view reason = response.reason();
  const std::string_view date = http_date_now();
  const std::string_view body = response.body();
  // Sized exactly first, then written through a cursor: one resize instead
  // of a capacity check and a copy call for each of some twenty pieces.
  std::size_t size = version.size() + 4 + reason.size() + crlf.size() + server_name.size() + date.size() +
                     std::string_view("Server: \r\nDate: \r\n\r\n").size() + body.size();
  for (const auto& field : response)
    if (sent(field)) size += field.name_string().size() + 2 + field.value().size() + crlf.size();
  out.resize(size);
  char* cursor = out.data();
  const auto put = [&cursor](std::string_view text) { cursor = std::copy_n(text.data(), text.size(), cursor); };
  put(version);
  const unsigned status_code = response.result_int();
  *cursor++ = static_cast<char>('0' + status_code / 100 % 10);
  *cursor++ = static_cast<char>('0' + status_code / 10 % 10);
  *cursor++ = static_cast<char>('0' + status_code % 10);
  *cursor++ = ' ';
  put(reason);
  put(crlf);
  for (const auto& field : response) {
    if (!sent(field)) continue;
    put(field.name_string());
    put(": ");
    put(field.value());
    put(crlf);
  }
  put("Server: ");
  put(server_name);
  put("\r\nDate: ");
  put(date);
  put("\r\n\r\n");
  put(body);
}

// The request fields the server span reads, found in one pass: Beast finds
// a field, even one named by its enum, by searching its set with a
// case-insensitive compare of names, a few hundred instructions for each
// field asked for. Of a repeated field, the first counts.
struct SpanFields {
  std::optional<std::string_view> traceparent;
  std::optional<std::string_view> tracestate;
  std::optional<std::string_view> user_agent;
};

SpanFields span_fields(const Request& request) {
  constexpr std::string_view traceparent = "traceparent";
  constexpr std::string_view tracestate = "tracestate";
  SpanFields found;
  for (const auto& field : request) {
    if (field.name() == bhttp::field::user_agent) {
      if (!found.user_agent) found.user_agent = field.value();
      continue;
    }
    if (field.name() != bhttp::field::unknown) continue;
    const std::string_view name = field.name_string();
    if (name.size() == traceparent.size() && text::iequals(name, traceparent)) {
      if (!found.traceparent) found.traceparent = field.value();
    } else if (name.size() == tracestate.size() && text::iequals(name, tracestate)) {
      if (!found.tracestate) found.tracestate = field.value();
    }
  }
  return found;
}

// Sets the response's Connection field only when it says something: an
// HTTP/1.1 response is kept alive without one, and setting it means
// searching the fields for one first.
void say_keep_alive(Response& response, bool keep_alive) {
  if (!keep_alive || response.version() != 11) response.keep_alive(keep_alive);
}

// An address as text; IPv4 by hand, since inet_ntop formats it through printf.
std::string address_text(const asio::ip::address& address) {
  if (!address.is_v4()) return address.to_string();
  const auto bytes = address.to_v4().to_bytes();
  std::array<char, 16> text{};
  char* end = text.data();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) *end++ = '.';
    end = std::to_chars(end, text.data() + text.size(), static_cast<unsigned>(bytes[i])).ptr;
  }
  return {text.data(), end};
}

}  // namespace

struct Server::Impl {
  struct Worker {
    // A worker's sockets are only ever used by its own thread; other threads
    // only post to its loop (a drain, a stop, a database's answer), and the
    // scheduler's and the timers' locks stay. So the reactor's lock per
    // socket operation goes: two lock and unlock pairs less per request.
    asio::io_context context{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    tcp::acceptor acceptor{context};
    std::unordered_set<std::shared_ptr<Connection>> connections;  // touched only on this worker's thread
    RepeatedWarning refusals;                                     // the same
    RepeatedWarning accept_failures;                              // the same
    std::thread thread;
  };

  ServerOptions options;
  Router router;
  std::vector<std::unique_ptr<Worker>> workers;
  std::uint16_t bound_port = 0;
  // The server span's attributes that never change, with a tracer.
  const trace::SharedAttributes* span_attributes = nullptr;
  std::atomic<std::size_t> open_connections{0};
  std::atomic<bool> draining{false};
  std::mutex state_mutex;
  std::condition_variable state_changed;
  bool stop_requested = false;

  Impl(ServerOptions o, Router r) : options(std::move(o)), router(std::move(r)) {}

  void listen() {
    const auto address = asio::ip::make_address(options.address);
    std::uint16_t port = options.port;
    if (port != 0) refuse_a_port_in_use(tcp::endpoint{address, port});
    for (unsigned i = 0; i < std::max(1U, options.threads); ++i) {
      auto worker = std::make_unique<Worker>();
      tcp::endpoint endpoint{address, port};
      boost::system::error_code ec;
      auto& acceptor = worker->acceptor;
      acceptor.open(endpoint.protocol(), ec);
      if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) {
        int one = 1;
        if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
          ec.assign(errno, boost::system::system_category());
      }
      if (!ec) acceptor.bind(endpoint, ec);
      if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) throw std::system_error(ec, "cannot listen on " + options.address + ":" + std::to_string(port));
      port = acceptor.local_endpoint().port();  // later listeners share the port the first one got
      workers.push_back(std::move(worker));
    }
    bound_port = port;
    if (options.telemetry.tracer)
      span_attributes = &trace::SharedAttributes::intern(
          {{"url.scheme", std::string("http")}, {"server.port", std::int64_t{port}}});
    warn_if_descriptors_run_out_first();
  }

  // Every connection takes a file descriptor: below the connection limit the
  // process's descriptor limit refuses connections first, in the kernel's
  // backlog rather than with a close the client sees.
  void warn_if_descriptors_run_out_first() const {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
    if (options.limits.max_connections < limit.rlim_cur) return;
    spdlog::warn("the connection limit of {} is not below the open-file limit of {} (ulimit -n); connections will "
                 "wait unanswered once descriptors run out",
                 options.limits.max_connections, limit.rlim_cur);
  }

  // The listeners share their port through SO_REUSEPORT, which would also let
  // them join another process's listeners on that port (and take half of its
  // connections) without an error. A probe bound without SO_REUSEPORT fails
  // while anyone listens there, and then so does listen().
  void refuse_a_port_in_use(const tcp::endpoint& endpoint) const {
    asio::io_context scratch;
    tcp::acceptor probe(scratch);
    boost::system::error_code ec;
    probe.open(endpoint.protocol(), ec);
    if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(endpoint, ec);
    if (ec) throw std::system_error(ec, "cannot listen on " + options.address + ":" + std::to_string(endpoint.port()));
  }

  asio::awaitable<void> accept_loop(Worker& worker) {
    auto* const metrics = options.telemetry.metrics;
    asio::steady_timer pause(worker.context);
    std::chrono::milliseconds backoff{0};
    for (;;) {
      auto [ec, socket] = co_await worker.acceptor.async_accept(use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !worker.acceptor.is_open()) co_return;
        backoff = backoff.count() == 0 ? first_accept_backoff : std::min(backoff * 2, longest_accept_backoff);
        if (const auto times = worker.accept_failures.occurred(); times > 0)
          spdlog::warn("accept failed: {} ({} times since the last such warning); accepting again in {} ms",
                       ec.message(), times, backoff.count());
        pause.expires_after(backoff);
        co_await pause.async_wait(use_tuple);
        continue;
      }
      backoff = std::chrono::milliseconds{0};
      if (open_connections.load(std::memory_order_relaxed) >= options.limits.max_connections) {
        if (metrics) metrics->connection_refused();
        if (const auto times = worker.refusals.occurred(); times > 0)
          spdlog::warn("connection limit of {} reached; {} new connections closed since the last such warning",
                       options.limits.max_connections, times);
        continue;  // the socket closes as it goes out of scope
      }
      socket.set_option(tcp::no_delay(true), ec);
      const auto unsent = static_cast<int>(
          std::min<std::size_t>(options.limits.max_unsent_bytes, std::numeric_limits<int>::max()));
      ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &unsent, sizeof unsent);
      open_connections.fetch_add(1, std::memory_order_relaxed);
      if (metrics) metrics->connection_opened();
      auto connection = std::make_shared<Connection>(std::move(socket));
      worker.connections.insert(connection);
      asio::co_spawn(worker.context, watch(connection), asio::detached);
      asio::co_spawn(worker.context, serve(worker, connection), asio::detached);
    }
  }

  // The answer to a request that could not be read, when it deserves one (a
  // connection that closed or timed out gets none).
  static std::optional<Response> refusal_for(const boost::system::error_code& read_error) {
    if (read_error == bhttp::error::header_limit)
      return dispatch_error(status::request_header_fields_too_large,
                            "The request line and headers exceed the server's limit.", 11);
    if (read_error == bhttp::error::body_limit)
      return dispatch_error(status::payload_too_large, "The request body exceeds the server's limit.", 11);
    if (read_error.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
        read_error != bhttp::error::end_of_stream && read_error != bhttp::error::partial_message)
      return dispatch_error(status::bad_request, "The request is not valid HTTP/1.1.", 11);
    return std::nullopt;
  }

  static Response dispatch_error(status code, std::string_view detail, unsigned version) {
    return problem(code, detail, version, false);
  }

  // Finds the route and runs its handler; `route` learns the matched template ("" if none).
  asio::awaitable<Response> respond(const Request& request, trace::Span& span, std::string_view& route) {
    auto [path, query] = split_target(request.target());
    RequestContext context{request, path, query, {}, {}, span, options.telemetry.tracer};
    const RouteLookup lookup = router.find(request.method(), path, context.params);
    Response response;
    switch (lookup.outcome) {
      case RouteLookup::Outcome::not_found:
        response = problem(status::not_found, "No route matches this path.", request.version());
        break;
      case RouteLookup::Outcome::method_not_allowed:
        response = problem(status::method_not_allowed, "This route does not accept that method.", request.version());
        response.set(bhttp::field::allow, lookup.allow);
        break;
      case RouteLookup::Outcome::found:
        context.route = route = *lookup.route;
        try {
          response = co_await (*lookup.handler)(context);
        } catch (const ProblemError& error) {
          response = problem(error.code(), error.detail(), request.version());
        } catch (const std::exception& error) {
          span.add_event("exception", {{"exception.type", std::string("std::exception")},
                                       {"exception.message", std::string(error.what())}});
          spdlog::error("unhandled error on {} {}: {}", request.method_string(), context.route, error.what());
          response = problem(status::internal_server_error, "The server could not complete the request.",
                             request.version());
        }
        break;
    }
    response.version(request.version());
    co_return response;
  }

  // The request's SERVER span, a child of the caller's if it sent a valid traceparent.
  trace::Span start_server_span(const SpanFields& fields, std::string_view method, Clock::time_point started) const {
    auto* tracer = options.telemetry.tracer;
    if (!tracer) return {};
    std::optional<trace::SpanContext> parent;
    if (fields.traceparent) {
      parent = trace::parse_traceparent(*fields.traceparent);
      if (parent && fields.tracestate) parent->trace_state = trace::validate_tracestate(*fields.tracestate);
    }
    trace::Span span = tracer->start_span(method, trace::SpanKind::server, parent ? &*parent : nullptr, started);
    if (span_attributes != nullptr) span.set_attributes(*span_attributes);
    return span;
  }

  // Runs one request with its span, metrics and access log line around it.
  // `peer_address` is the client's address as text (client.address).
  asio::awaitable<Response> instrumented(const Request& request, std::string_view peer_address) {
    const auto& telemetry = options.telemetry;
    const auto started = Clock::now();
    const std::string_view method = request.method_string();
    const SpanFields fields = telemetry.tracer ? span_fields(request) : SpanFields{};
    trace::Span span = start_server_span(fields, method, started);
    if (telemetry.metrics) telemetry.metrics->request_started(method);

    std::string_view route;
    Response response = co_await respond(request, span, route);

    const unsigned status_code = response.result_int();
    const auto finished = Clock::now();
    const double seconds = std::chrono::duration<double>(finished - started).count();
    if (span.recording()) {
      if (!route.empty()) span.set_name({method, " ", route});
      span.set_attribute("http.request.method", ServerMetrics::normalized_method(method))
          .set_attribute("url.path", split_target(request.target()).first)
          .set_attribute("network.protocol.version", request.version() == 10 ? "1.0" : "1.1")
          .set_attribute("http.response.status_code", static_cast<std::int64_t>(status_code))
          .set_attribute("client.address", peer_address);
      if (!route.empty()) span.set_attribute("http.route", route);
      if (fields.user_agent) span.set_attribute("user_agent.original", *fields.user_agent);
      if (status_code >= 500) span.set_status(trace::StatusCode::error);
    }
    if (telemetry.metrics)
      telemetry.metrics->request_finished(method, route, status_code, seconds, request.body().size(),
                                          response.body().size(), span.context());
    if (telemetry.access_log) {
      const auto& context = span.context();
      const bool traced = context.valid();
      logging::access_log(
          {.method = method,
           .route = route.empty() ? ServerMetrics::unmatched_route : route,
           .target = split_target(request.target()).first,
           .status = status_code,
           .duration_seconds = seconds,
           .response_bytes = response.body().size(),
           .trace_id = traced ? std::span<const std::uint8_t>(context.trace_id.bytes) : std::span<const std::uint8_t>(),
           .span_id = traced ? std::span<const std::uint8_t>(context.span_id.bytes) : std::span<const std::uint8_t>()});
    }
    span.end(finished);
    co_return response;
  }

  // Closes the connection when its deadline passes. Moving the deadline is a
  // plain store, so requests pay no timer operations.
  // It uses open_connections, draining and state_changed after its loop:
  // clang-tidy 14 misses member uses that follow a co_await.
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static): see above
  asio::awaitable<void> watch(std::shared_ptr<Connection> connection) {
    while (!connection->closed) {
      connection->watchdog.expires_at(connection->deadline);
      co_await connection->watchdog.async_wait(use_tuple);
      if (!connection->closed && Clock::now() >= connection->deadline) {
        if (!connection->in_handler) {
          boost::system::error_code ignored;
          connection->timed_out = true;
          connection->socket.cancel(ignored);
        }
        connection->deadline = Clock::time_point::max();
      }
    }
  }

  // Answers a request that could not be read with the status that says why,
  // when there is one, under the I/O timeout.
  template <class Arm>
  asio::awaitable<void> refuse(const boost::system::error_code& read_error, Connection& connection, std::string& output,
                               const Arm& arm) const {
    const auto refusal = refusal_for(read_error);
    if (!refusal) co_return;
    connection.phase = TimeoutPhase::response;
    arm(options.limits.io_timeout);
    serialize(*refusal, options.server_name, output);
    co_await asio::async_write(connection.socket, asio::buffer(output), use_tuple);
  }

  asio::awaitable<void> serve(Worker& worker, std::shared_ptr<Connection> connection) {
    const auto& limits = options.limits;
    tcp::socket& socket = connection->socket;
    boost::system::error_code peer_error;
    const tcp::endpoint peer = socket.remote_endpoint(peer_error);
    // Written once per connection, not once per traced request.
    const std::string peer_address = options.telemetry.tracer ? address_text(peer.address()) : std::string();
    const auto arm = [&](std::chrono::milliseconds timeout) {
      const auto previous = connection->deadline;
      connection->deadline = Clock::now() + timeout;
      if (connection->deadline < previous) connection->watchdog.cancel();  // wake it to re-arm earlier
    };
    // Writes are tried at once, and return what the socket would not take
    // instead of blocking the loop for it.
    boost::system::error_code blocking_error;
    socket.non_blocking(true, blocking_error);
    beast::flat_buffer buffer;
    std::string output;
    for (;;) {
      bhttp::request_parser<bhttp::string_body, FieldAllocator<char>> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
      parser.body_limit(limits.max_body_bytes);
      parser.eager(true);
      connection->busy = buffer.size() > 0;  // pipelined bytes already waiting: a request is under way
      if (draining && !connection->busy) break;
      if (buffer.size() == 0) {
        // Between requests the idle timeout applies, until the next request's
        // first bytes arrive...
        connection->phase = TimeoutPhase::idle;
        arm(limits.idle_timeout);
        auto [wait_error, bytes_arrived] =
            co_await socket.async_read_some(buffer.prepare(beast::read_size(buffer, read_chunk_bytes)), use_tuple);
        if (wait_error) break;
        buffer.commit(bytes_arrived);
        connection->busy = true;
      }
      // The first bytes are usually the whole request: parsed at once, it
      // needs no further read, nor any timer change.
      boost::system::error_code read_error;
      if (needs_more(parser, buffer, read_error)) {
        // ...otherwise the rest of the request has the I/O timeout: a client
        // that trickles its headers or body (slowloris, slow POST) is cut off
        // after it.
        connection->phase = TimeoutPhase::request;
        arm(limits.io_timeout);
        std::tie(read_error, std::ignore) = co_await bhttp::async_read(socket, buffer, parser, use_tuple);
      }
      if (read_error) {
        co_await refuse(read_error, *connection, output, arm);
        break;
      }

      const Request& request = parser.get();
      connection->in_handler = true;  // the handler's own time is not the client's to answer for
      Response response = co_await instrumented(request, peer_address);
      connection->in_handler = false;
      // The parser learnt the request's keep-alive from its Connection field as it read it.
      const bool keep_alive = parser.keep_alive() && !draining;
      say_keep_alive(response, keep_alive);
      serialize(response, options.server_name, output);
      // The response goes out at once when the socket takes it all, as it does
      // unless the client reads slowly; only the rest waits, under the I/O
      // timeout.
      const std::size_t sent = write_now(socket, output);
      boost::system::error_code write_error;
      if (sent < output.size()) {
        connection->phase = TimeoutPhase::response;
        arm(limits.io_timeout);
        std::tie(write_error, std::ignore) =
            co_await asio::async_write(socket, asio::buffer(output.data() + sent, output.size() - sent), use_tuple);
      }
      if (write_error || !keep_alive) break;
      // A client just answered has rarely sent its next request yet: reading
      // now would mostly find nothing (Asio tries the read before waiting for
      // one) and cost a system call. The loop's other connections go first;
      // by then the request has often arrived. (Draining is checked above.)
      if (buffer.size() == 0 && worker.connections.size() > 1)
        co_await asio::post(socket.get_executor(), asio::use_awaitable);
    }
    end_connection(*connection);
    connection->closed = true;
    connection->watchdog.cancel();
    worker.connections.erase(connection);
    connection_closed();
  }

  // Ends the connection: an orderly close (FIN after what is still queued),
  // except after a timeout that left responses the client has not taken
  // (a slow reader, or one that stopped reading). Those are reset, so the
  // kernel drops the queued bytes at once instead of trickling them out
  // after the close, holding their memory for as long as the client likes.
  void end_connection(Connection& connection) const {
    boost::system::error_code ignored;
    auto phase = connection.phase;
    const bool owed = connection.timed_out && unacknowledged_bytes(connection.socket) > 0;
    if (owed) {
      phase = TimeoutPhase::response;
      connection.socket.set_option(asio::socket_base::linger(true, 0), ignored);
      connection.socket.close(ignored);
    } else {
      connection.socket.shutdown(tcp::socket::shutdown_send, ignored);
    }
    if (connection.timed_out && options.telemetry.metrics) options.telemetry.metrics->connection_timed_out(phase);
  }

  void connection_closed() {
    if (options.telemetry.metrics) options.telemetry.metrics->connection_closed();
    if (open_connections.fetch_sub(1, std::memory_order_acq_rel) == 1 && draining) {
      std::lock_guard lock(state_mutex);
      state_changed.notify_all();
    }
  }

  // Runs on each worker: no new connections, and idle ones close now; busy
  // ones close after the response they are working on.
  static void begin_drain(Worker& worker) {
    boost::system::error_code ignored;
    worker.acceptor.close(ignored);
    for (const auto& connection : worker.connections)
      if (!connection->busy) connection->socket.cancel(ignored);
  }

  void request_stop() {
    std::lock_guard lock(state_mutex);
    stop_requested = true;
    state_changed.notify_all();
  }

  bool run() {
    // SIGTERM and SIGINT are caught before the first connection is served:
    // once the server has answered anything, a signal means a graceful stop.
    asio::io_context signal_context{1};
    asio::signal_set signals(signal_context, SIGINT, SIGTERM);
    signals.async_wait([this](const boost::system::error_code& ec, int signal_number) {
      if (!ec) {
        spdlog::info("received signal {}; shutting down", signal_number);
        request_stop();
      }
    });
    std::thread signal_thread([&signal_context] { signal_context.run(); });

    for (auto& worker : workers) {
      asio::co_spawn(worker->context, accept_loop(*worker), asio::detached);
      worker->thread = std::thread([&context = worker->context] { context.run(); });
    }

    std::unique_lock lock(state_mutex);
    state_changed.wait(lock, [this] { return stop_requested; });
    draining = true;
    for (auto& worker : workers) asio::post(worker->context, [w = worker.get()] { begin_drain(*w); });
    const bool drained = state_changed.wait_for(lock, options.limits.shutdown_grace, [this] {
      return open_connections.load(std::memory_order_acquire) == 0;
    });
    lock.unlock();
    if (!drained)
      spdlog::warn("{} connections still open after the {} ms grace period; closing them", open_connections.load(),
                   options.limits.shutdown_grace.count());

    signal_context.stop();
    signal_thread.join();
    for (auto& worker : workers) worker->context.stop();
    for (auto& worker : workers) worker->thread.join();
    return drained;
  }
};

Server::Server(ServerOptions options, Router router)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {}
Server::~Server() = default;
void Server::listen() { impl_->listen(); }
std::uint16_t Server::port() const { return impl_->bound_port; }
asio::any_io_executor Server::executor() const { return impl_->workers.at(0)->context.get_executor(); }
void Server::set_router(Router router) { impl_->router = std::move(router); }
bool Server::run() { return impl_->run(); }
void Server::stop() { impl_->request_stop(); }
std::size_t Server::open_connections() const { return impl_->open_connections.load(); }

}  // namespace http
