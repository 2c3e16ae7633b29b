#pragma once
#include <string_view>

namespace logging {

// Sends every spdlog record to stdout as one JSON object per line:
// {"time":"2026-11-24T20:19:00.123Z","level":"info","service":"apimon","message":"..."}
// Throws std::invalid_argument for an unknown level name.
void configure_json_stdout(std::string_view service_name, std::string_view level);

}  // namespace logging
