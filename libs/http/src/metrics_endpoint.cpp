#include "http/metrics_endpoint.hpp"

#include <metrics/exposition.hpp>

namespace http {

Handler metrics_endpoint(const metrics::MetricsRegistry& metrics) {
  return [&metrics](RequestContext& context) -> asio::awaitable<Response> {
    const auto format = metrics::negotiate_format(context.request[beast::http::field::accept]);
    Response response{status::ok, context.request.version()};
    response.set(beast::http::field::content_type, metrics::content_type(format));
    metrics::serialize(metrics, format, response.body());
    response.prepare_payload();
    co_return response;
  };
}

}  // namespace http
