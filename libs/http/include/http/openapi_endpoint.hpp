#pragma once
// GET /openapi.json: a service's OpenAPI document, the bytes compiled into the
// binary (http_embed_openapi in libs/http/CMakeLists.txt), so the contract a
// client reads is always the one of the version it talks to.
#include "http/message.hpp"

#include <string_view>

namespace http {

inline constexpr std::string_view openapi_route = "/openapi.json";

// Answers every request with `document` as application/json. `document`
// must outlive the handler (the embedded document is static).
Handler openapi_endpoint(std::string_view document);

}  // namespace http
