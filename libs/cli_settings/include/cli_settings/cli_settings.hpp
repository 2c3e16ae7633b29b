#pragma once
// A program's settings read the same way in every service: flags first, then
// the environment variable named beside each flag, then defaults; --help and
// --version print and exit 0; an invalid setting exits 2 with a message
// naming it.
#include "cli_settings/result.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <utility>
#include <vector>

namespace cli_settings {

// Parses `arguments` (argv without the program's name) into `app`'s options,
// then calls `finish()`, which completes the settings and throws
// CLI::ValidationError naming the one that is wrong.
template <class Finish>
Outcome parse(CLI::App& app, const std::vector<std::string>& arguments, Finish&& finish) {
  const std::string program = app.get_name();
  try {
    std::vector<std::string> reversed(arguments.rbegin(), arguments.rend());  // CLI11 takes the last one first
    app.parse(reversed);
    std::forward<Finish>(finish)();
    return {true, 0, {}};
  } catch (const CLI::CallForHelp&) {
    return {false, 0, app.help()};
  } catch (const CLI::CallForVersion& version) {
    return {false, 0, version.what()};
  } catch (const CLI::Error& error) {
    return {false, 2,
            program + ": invalid setting: " + error.what() + "\nRun '" + program +
                " --help' for the settings and their environment variables."};
  }
}

}  // namespace cli_settings
