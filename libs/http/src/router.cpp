#include "http/router.hpp"

#include <algorithm>

namespace http {
namespace {

// Splits "/a/b" into "a", "b"; returns false for paths that do not start with '/'.
template <class F>
bool for_each_segment(std::string_view path, F&& f) {
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    if (!f(path.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

}  // namespace

RouteTemplate::RouteTemplate(std::string_view pattern) : text_(pattern) {
  if (pattern == "/") return;  // the root has no segments
  const bool well_formed = for_each_segment(pattern, [&](std::string_view segment) {
    if (segment.empty()) return false;
    const bool is_parameter = segment.front() == '{';
    if (is_parameter) {
      if (segment.size() < 3 || segment.back() != '}') return false;
      segment = segment.substr(1, segment.size() - 2);
    }
    if (segment.find_first_of("{}") != std::string_view::npos) return false;
    segments_.push_back({std::string(segment), is_parameter});
    return true;
  });
  const auto parameters = std::count_if(segments_.begin(), segments_.end(),
                                        [](const Segment& s) { return s.is_parameter; });
  if (!well_formed || static_cast<std::size_t>(parameters) > PathParams::capacity)
    throw std::invalid_argument("invalid route template: " + std::string(pattern));
}

bool RouteTemplate::match(std::string_view path, PathParams& params) const {
  params.clear();
  if (segments_.empty()) return path == "/";
  std::size_t index = 0;
  const bool matched = for_each_segment(path, [&](std::string_view segment) {
    if (index == segments_.size() || segment.empty()) return false;
    const Segment& expected = segments_[index++];
    if (expected.is_parameter) return params.add(expected.text, segment);
    return segment == expected.text;
  });
  return matched && index == segments_.size();
}

bool RouteTemplate::more_specific_than(const RouteTemplate& other) const {
  const auto common = std::min(segments_.size(), other.segments_.size());
  for (std::size_t i = 0; i < common; ++i) {
    if (segments_[i].is_parameter != other.segments_[i].is_parameter) return !segments_[i].is_parameter;
  }
  return segments_.size() > other.segments_.size();
}

void Router::add(verb method, std::string_view pattern, Handler handler) {
  auto existing = std::find_if(routes_.begin(), routes_.end(),
                               [&](const auto& route) { return route->pattern.text() == pattern; });
  if (existing == routes_.end()) {
    auto route = std::make_unique<Route>(Route{RouteTemplate(pattern), {}});
    auto position = std::find_if(routes_.begin(), routes_.end(),
                                 [&](const auto& other) { return route->pattern.more_specific_than(other->pattern); });
    existing = routes_.insert(position, std::move(route));
  }
  for (const auto& endpoint : (*existing)->endpoints)
    if (endpoint.method == method) throw std::invalid_argument("route declared twice: " + std::string(pattern));
  (*existing)->endpoints.push_back({method, std::move(handler)});
}

RouteLookup Router::find(verb method, std::string_view path, PathParams& params) const {
  RouteLookup lookup;
  for (const auto& route : routes_) {
    if (!route->pattern.match(path, params)) continue;
    for (const auto& endpoint : route->endpoints) {
      if (endpoint.method == method) {
        lookup.outcome = RouteLookup::Outcome::found;
        lookup.handler = &endpoint.handler;
        lookup.route = &route->pattern.text();
        return lookup;
      }
    }
    lookup.outcome = RouteLookup::Outcome::method_not_allowed;
    for (const auto& endpoint : route->endpoints) {
      const auto name = beast::http::to_string(endpoint.method);
      if (lookup.allow.find(name) != std::string::npos) continue;
      if (!lookup.allow.empty()) lookup.allow.append(", ");
      lookup.allow.append(name);
    }
  }
  params.clear();
  return lookup;
}

std::vector<std::string> Router::templates() const {
  std::vector<std::string> names;
  for (const auto& route : routes_) names.push_back(route->pattern.text());
  return names;
}

}  // namespace http
