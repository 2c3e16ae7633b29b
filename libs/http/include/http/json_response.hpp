#pragma once
#include "http/message.hpp"

#include <boost/beast/http/field.hpp>

#include <string>
#include <utility>

namespace http {

// An application/json answer carrying `body`, in the request's HTTP version.
inline Response json_response(const Request& request, std::string body, status code = status::ok) {
  Response response{code, request.version()};
  response.set(beast::http::field::content_type, "application/json");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

}  // namespace http
