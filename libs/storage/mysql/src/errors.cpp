#include "errors.hpp"

#include <errmsg.h>
#include <mysqld_error.h>

#include <string>

namespace storage::mysql {
namespace {

bool is_connection_error(unsigned code) {
  switch (code) {
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_COMMANDS_OUT_OF_SYNC:
    case ER_UNKNOWN_STMT_HANDLER:  // statements prepared before a reconnect are gone
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN: return true;
    default: return false;
  }
}

}  // namespace

void fail(const char* what, unsigned code, const char* message) {
  std::string text = std::string(what) + " failed (" + std::to_string(code) + "): " + message;
  if (is_connection_error(code)) throw ConnectionLost(text);
  throw pokedex::StorageUnavailable(text);
}

}  // namespace storage::mysql
