#pragma once
// MariaDB Connector/C, loaded when the MySQL-protocol backend is first used
// rather than linked: the connector pulls in OpenSSL, about 1.7 MiB of
// resident memory that a service on the embedded SQLite never needs.
#include <mysql.h>

namespace storage::mysql {

// One function a line: the semicolons keep clang-format from joining the entries.
#define POKEDEX_MYSQL_FUNCTIONS(X)  \
  X(mysql_init);                    \
  X(mysql_options);                 \
  X(mysql_error);                   \
  X(mysql_errno);                   \
  X(mysql_close);                   \
  X(mysql_get_socket);              \
  X(mysql_get_timeout_value_ms);    \
  X(mysql_real_connect_start);      \
  X(mysql_real_connect_cont);       \
  X(mysql_stmt_init);               \
  X(mysql_stmt_close);              \
  X(mysql_stmt_error);              \
  X(mysql_stmt_errno);              \
  X(mysql_stmt_prepare_start);      \
  X(mysql_stmt_prepare_cont);       \
  X(mysql_stmt_execute_start);      \
  X(mysql_stmt_execute_cont);       \
  X(mysql_stmt_store_result_start); \
  X(mysql_stmt_store_result_cont);  \
  X(mysql_stmt_result_metadata);    \
  X(mysql_stmt_param_count);        \
  X(mysql_stmt_free_result);        \
  X(mysql_stmt_fetch);              \
  X(mysql_stmt_bind_result);        \
  X(mysql_stmt_bind_param);         \
  X(mysql_num_fields);              \
  X(mysql_free_result);             \
  X(mysql_fetch_field_direct);

struct MysqlLibrary {
// NOLINTNEXTLINE(bugprone-macro-parentheses): the argument names a member; a declarator cannot be parenthesized
#define POKEDEX_MYSQL_DECLARE(name) decltype(&::name) name = nullptr
  POKEDEX_MYSQL_FUNCTIONS(POKEDEX_MYSQL_DECLARE)
#undef POKEDEX_MYSQL_DECLARE

  // Loads libmariadb.so.3 once; throws StorageUnavailable naming what is
  // missing if the library or one of its functions cannot be found.
  static const MysqlLibrary& get();
};

// The loaded library, for calls such as connector().mysql_init(nullptr).
inline const MysqlLibrary& connector() { return MysqlLibrary::get(); }

}  // namespace storage::mysql
