// The database URL (--database-url, APIMON_DATABASE_URL): refused with
// std::invalid_argument or taken apart. The redacted form never shows the
// password, and, for URLs whose parts need no percent-encoding, parses back
// to the same place.
#include "fuzz_input.hpp"

#include <storage/database_url.hpp>

#include <stdexcept>
#include <string>

namespace {

// Parts that the redacted URL shows as they are, so that it parses back.
bool plain(std::string_view part) { return part.find_first_of(":@/?#%[]") == std::string_view::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto url = fuzz::as_text(data, size);
  storage::DatabaseUrl parsed;
  try {
    parsed = storage::parse_database_url(url);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const auto redacted = parsed.redacted();
  if (parsed.backend == storage::DatabaseUrl::Backend::sqlite) {
    FUZZ_CHECK(parsed.sqlite_path == ":memory:" || parsed.sqlite_path.starts_with('/'));
    FUZZ_CHECK(redacted == url);
    return 0;
  }
  FUZZ_CHECK(!parsed.user.empty() && !parsed.host.empty() && !parsed.database.empty());
  FUZZ_CHECK(parsed.port != 0);
  // Everything but the password, which shows as *** when there is one.
  FUZZ_CHECK(redacted == "mysql://" + parsed.user + (parsed.password.empty() ? "" : ":***") + "@" + parsed.host + ":" +
                             std::to_string(parsed.port) + "/" + parsed.database);
  if (plain(parsed.user) && plain(parsed.host) && plain(parsed.database)) {
    const auto again = storage::parse_database_url(redacted);
    FUZZ_CHECK(again.user == parsed.user && again.host == parsed.host && again.port == parsed.port &&
               again.database == parsed.database);
  }
  return 0;
}
