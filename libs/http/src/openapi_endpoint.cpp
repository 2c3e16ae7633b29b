#include "http/openapi_endpoint.hpp"

namespace http {

Handler openapi_endpoint(std::string_view document) {
  return [document](RequestContext& context) -> asio::awaitable<Response> {
    Response response{status::ok, context.request.version()};
    response.set(beast::http::field::content_type, "application/json");
    response.body() = document;
    response.prepare_payload();
    co_return response;
  };
}

}  // namespace http
