#pragma once
#include "http/field_allocator.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <trace/tracer.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>

namespace http {

namespace beast = boost::beast;
namespace asio = boost::asio;
using verb = beast::http::verb;
using status = beast::http::status;
using Fields = beast::http::basic_fields<FieldAllocator<char>>;
using Request = beast::http::request<beast::http::string_body, Fields>;
using Response = beast::http::response<beast::http::string_body, Fields>;

// Values captured by a route template's `{name}` segments; views into the request target.
class PathParams {
 public:
  static constexpr std::size_t capacity = 4;

  bool add(std::string_view name, std::string_view value) {
    if (size_ == capacity) return false;
    entries_[size_++] = {name, value};
    return true;
  }
  std::string_view get(std::string_view name) const {
    for (std::size_t i = 0; i < size_; ++i)
      if (entries_[i].first == name) return entries_[i].second;
    return {};
  }
  std::size_t size() const { return size_; }
  void clear() { size_ = 0; }

 private:
  std::array<std::pair<std::string_view, std::string_view>, capacity> entries_{};
  std::size_t size_ = 0;
};

// Everything a handler learns about the request it serves. `route` is the
// template the request matched ("/pokemon/{id}"), the only form of the path
// that may label metrics or name spans. `span` is the request's SERVER span
// (a no-op one when tracing is off or the request is not sampled): the
// current span travels with the request, not with the thread.
struct RequestContext {
  const Request& request;
  std::string_view path;
  std::string_view query;
  std::string_view route;
  PathParams params;
  trace::Span& span;
  trace::Tracer* tracer = nullptr;

  // A child of the request's span, for work inside the handler worth seeing
  // in a trace (validation, a cache lookup, rendering), starting now or at
  // `start`, a steady-clock reading the caller took anyway.
  trace::Span start_span(std::string_view name, trace::SpanKind kind = trace::SpanKind::internal,
                         std::optional<trace::SteadyTime> start = std::nullopt) const {
    if (!tracer) return {};
    return tracer->start_span(name, kind, span, start);
  }
};

using Handler = std::function<asio::awaitable<Response>(RequestContext&)>;

}  // namespace http
