#pragma once
// RFC 9457 problem details: the one shape every error response takes.
#include "http/message.hpp"

#include <chrono>
#include <string_view>

namespace http {

inline constexpr std::string_view problem_content_type = "application/problem+json";

// `detail` is shown to clients: it must explain the problem in the client's
// terms and never carry internals (SQL, exception text, stack).
Response problem(status code, std::string_view detail, unsigned version = 11, bool keep_alive = true);

// 503 with a Retry-After telling the client when trying again makes sense.
Response unavailable(std::string_view detail, std::chrono::seconds retry_after, unsigned version = 11,
                     bool keep_alive = true);

// Thrown by handlers to answer with a problem response; the server renders it.
class ProblemError : public std::exception {
 public:
  ProblemError(status code, std::string detail) : code_(code), detail_(std::move(detail)) {}
  status code() const { return code_; }
  const std::string& detail() const { return detail_; }
  const char* what() const noexcept override { return detail_.c_str(); }

 private:
  status code_;
  std::string detail_;
};

}  // namespace http
