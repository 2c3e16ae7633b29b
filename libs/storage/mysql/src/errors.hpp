#pragma once
// How a failed Connector/C call is reported: whether a new connection may
// succeed decides whether the query is retried.
#include <pokedex/store.hpp>

namespace storage::mysql {

// The connection is gone or unusable; a new one may succeed.
class ConnectionLost : public pokedex::StorageUnavailable {
 public:
  using StorageUnavailable::StorageUnavailable;
};

// The database did not answer within the deadline. The connection is left
// mid-protocol and must be closed, but retrying would only wait again.
class DeadlineExceeded : public pokedex::StorageUnavailable {
 public:
  using StorageUnavailable::StorageUnavailable;
};

// Throws ConnectionLost for the error codes of a lost connection,
// StorageUnavailable for any other; `what` names the call that failed.
[[noreturn]] void fail(const char* what, unsigned code, const char* message);

}  // namespace storage::mysql
