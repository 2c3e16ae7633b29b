#pragma once
// What reading a program's settings ends in, without CLI11: the settings
// when the program should run, otherwise its exit code and what to print.
#include <optional>
#include <string>
#include <utility>

namespace cli_settings {

struct Outcome {
  bool run = false;     // parsed and checked: the program should run
  int exit_code = 0;    // otherwise: 0 after --help or --version, 2 for an invalid setting
  std::string message;  // what to print then (help text, version, or the error naming the setting)
};

// What a program's parse_config gives its main.
template <class Config>
struct Result {
  std::optional<Config> config;  // set when the program should run
  int exit_code = 0;             // otherwise: 0 after --help/--version, 2 for an invalid setting
  std::string message;           // what to print (help text, version, or the error naming the setting)
};

// The Result of a parse: `config` goes with it only when the program should run.
template <class Config>
Result<Config> result(const Outcome& outcome, Config config) {
  Result<Config> parsed{std::nullopt, outcome.exit_code, outcome.message};
  if (outcome.run) parsed.config = std::move(config);
  return parsed;
}

}  // namespace cli_settings
