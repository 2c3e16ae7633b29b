#include "http/metrics_endpoint.hpp"

#include <telemetry/exposition.hpp>

namespace http {

Handler metrics_endpoint(const telemetry::MetricsRegistry& metrics) {
  return [&metrics](RequestContext& context) -> asio::awaitable<Response> {
    const auto format = telemetry::negotiate_format(context.request[beast::http::field::accept]);
    Response response{status::ok, context.request.version()};
    response.set(beast::http::field::content_type, telemetry::content_type(format));
    telemetry::serialize(metrics, format, response.body());
    response.prepare_payload();
    co_return response;
  };
}

}  // namespace http
