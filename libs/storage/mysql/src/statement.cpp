#include "statement.hpp"

#include "errors.hpp"

namespace storage::mysql {

Statement::Statement(MYSQL* mysql) : statement_(connector().mysql_stmt_init(mysql)) {
  if (!statement_) fail("mysql_stmt_init", connector().mysql_errno(mysql), connector().mysql_error(mysql));
}

Statement::~Statement() { connector().mysql_stmt_close(statement_); }

void Statement::bind_results() {
  MYSQL_RES* metadata = connector().mysql_stmt_result_metadata(statement_);
  const unsigned count = metadata ? connector().mysql_num_fields(metadata) : 0;
  columns_.resize(count);
  result_binds_.assign(count, MYSQL_BIND{});
  for (unsigned i = 0; i < count; ++i) {
    const MYSQL_FIELD* field = connector().mysql_fetch_field_direct(metadata, i);
    Column& column = columns_[i];
    MYSQL_BIND& bind = result_binds_[i];
    const bool is_integer = field->type == MYSQL_TYPE_LONG || field->type == MYSQL_TYPE_LONGLONG ||
                            field->type == MYSQL_TYPE_SHORT || field->type == MYSQL_TYPE_TINY ||
                            field->type == MYSQL_TYPE_INT24;
    if (is_integer) {
      bind.buffer_type = MYSQL_TYPE_LONG;
      bind.buffer = &column.integer;
    } else {
      bind.buffer_type = MYSQL_TYPE_STRING;
      bind.buffer = column.text.data();
      bind.buffer_length = column.text.size();
      bind.length = &column.length;
    }
    bind.is_null = &column.null;
  }
  if (metadata) connector().mysql_free_result(metadata);
  if (count > 0 && connector().mysql_stmt_bind_result(statement_, result_binds_.data()) != 0)
    check_failed("bind_result");
  params_.resize(connector().mysql_stmt_param_count(statement_));
}

void Statement::bind_text_and_integers(std::string_view text, std::span<const int> numbers) {
  if (params_.size() != numbers.size() + 1) throw pokedex::StorageUnavailable("statement parameter count mismatch");
  connector().mysql_stmt_free_result(statement_);
  params_[0] = MYSQL_BIND{};
  params_[0].buffer_type = MYSQL_TYPE_STRING;
  params_[0].buffer = const_cast<char*>(text.data());
  params_[0].buffer_length = text.size();
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    MYSQL_BIND& bind = params_[i + 1];
    bind = MYSQL_BIND{};
    bind.buffer_type = MYSQL_TYPE_LONG;
    bind.buffer = const_cast<int*>(&numbers[i]);  // Connector/C only reads parameter buffers
  }
  if (connector().mysql_stmt_bind_param(statement_, params_.data()) != 0) check_failed("bind_param");
}

bool Statement::next() {
  const int rc = connector().mysql_stmt_fetch(statement_);
  if (rc == 0) return true;
  if (rc == MYSQL_NO_DATA) return false;
  if (rc == MYSQL_DATA_TRUNCATED) throw pokedex::StorageUnavailable("a result column exceeded its buffer");
  check_failed("fetch");
}

void Statement::check_failed(const char* what) {
  fail(what, connector().mysql_stmt_errno(statement_), connector().mysql_stmt_error(statement_));
}

}  // namespace storage::mysql
