#include "http/problem.hpp"

#include <json_writer/json_writer.hpp>

namespace http {

Response problem(status code, std::string_view detail, unsigned version, bool keep_alive) {
  Response response{code, version};
  response.set(beast::http::field::content_type, problem_content_type);
  response.keep_alive(keep_alive);
  std::string& body = response.body();
  body.reserve(96 + detail.size());
  json_writer::Writer json(body);
  json.begin_object()
      .member("type", "about:blank")
      .member("title", beast::http::obsolete_reason(code))
      .member("status", static_cast<int>(code))
      .member("detail", detail)
      .end_object();
  response.prepare_payload();
  return response;
}

Response unavailable(std::string_view detail, std::chrono::seconds retry_after, unsigned version, bool keep_alive) {
  Response response = problem(status::service_unavailable, detail, version, keep_alive);
  response.set(beast::http::field::retry_after, std::to_string(retry_after.count()));
  return response;
}

}  // namespace http
