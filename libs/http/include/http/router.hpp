#pragma once
#include "http/message.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace http {

// A path pattern such as "/pokemon/{id}": literal segments and named parameters
// that each match exactly one non-empty segment.
class RouteTemplate {
 public:
  explicit RouteTemplate(std::string_view pattern);  // throws std::invalid_argument

  const std::string& text() const { return text_; }
  bool match(std::string_view path, PathParams& params) const;

  // Orders templates so that the more literal one is tried first:
  // "/pokemon/random" before "/pokemon/{id}".
  bool more_specific_than(const RouteTemplate& other) const;

 private:
  struct Segment {
    std::string text;  // literal text, or the parameter's name
    bool is_parameter;
  };
  std::string text_;
  std::vector<Segment> segments_;
};

struct RouteLookup {
  enum class Outcome { found, not_found, method_not_allowed };
  Outcome outcome = Outcome::not_found;
  const Handler* handler = nullptr;
  const std::string* route = nullptr;  // the matched template's text when found
  std::string allow;                   // for method_not_allowed: "GET, POST"
};

// Routes declared once, by method and template. Lookups never allocate unless
// the answer is 405, whose Allow header is built on the spot.
class Router {
 public:
  void add(verb method, std::string_view pattern, Handler handler);
  void get(std::string_view pattern, Handler handler) { add(verb::get, pattern, std::move(handler)); }

  RouteLookup find(verb method, std::string_view path, PathParams& params) const;

  std::vector<std::string> templates() const;

 private:
  struct Endpoint {
    verb method;
    Handler handler;
  };
  struct Route {
    RouteTemplate pattern;
    std::vector<Endpoint> endpoints;
  };
  std::vector<std::unique_ptr<Route>> routes_;  // most specific first
};

}  // namespace http
