#pragma once
#include "mysql_library.hpp"

#include <array>
#include <cstddef>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

namespace storage::mysql {

// A prepared statement whose result columns are bound to buffers once, from
// its metadata: integers as int, everything else as text. Binding parameters
// and reading stored rows never touch the network.
class Statement {
 public:
  explicit Statement(MYSQL* mysql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  MYSQL_STMT* handle() const { return statement_; }

  // After a successful prepare: binds the result columns to this statement's buffers.
  void bind_results();

  // Binds the parameters in order; the values must outlive the execution.
  template <class... Params>
  void bind(const Params&... values) {
    static_assert(sizeof...(values) <= max_params);
    connector().mysql_stmt_free_result(statement_);  // the previous result was stored client-side: no I/O
    std::array<std::variant<int, std::string_view>, sizeof...(values)> given{values...};
    for (std::size_t i = 0; i < given.size(); ++i) {
      MYSQL_BIND& bind = params_.at(i);
      bind = MYSQL_BIND{};
      if (const int* number = std::get_if<int>(&given[i])) {
        integers_[i] = *number;
        bind.buffer_type = MYSQL_TYPE_LONG;
        bind.buffer = &integers_[i];
      } else {
        const auto text = std::get<std::string_view>(given[i]);
        bind.buffer_type = MYSQL_TYPE_STRING;
        bind.buffer = const_cast<char*>(text.data());
        bind.buffer_length = text.size();
      }
    }
    if (!params_.empty() && connector().mysql_stmt_bind_param(statement_, params_.data()) != 0)
      check_failed("bind_param");
  }

  // Binds `text`, then each of `numbers`; both must outlive the execution.
  void bind_text_and_integers(std::string_view text, std::span<const int> numbers);

  // The next stored row; false after the last.
  bool next();

  int integer(int i) const { return columns_[static_cast<std::size_t>(i)].integer; }
  bool is_null(int i) const { return columns_[static_cast<std::size_t>(i)].null != 0; }
  std::string_view text(int i) const {
    const Column& column = columns_[static_cast<std::size_t>(i)];
    return {column.text.data(), column.length};
  }

  // Throws what the statement's last error calls for (see fail()).
  [[noreturn]] void check_failed(const char* what);

 private:
  static constexpr std::size_t max_params = 8;
  struct Column {
    int integer = 0;
    std::array<char, 256> text{};  // VARCHAR(64) in utf8mb4 is at most 256 bytes
    unsigned long length = 0;
    my_bool null = 0;
  };

  MYSQL_STMT* statement_;
  std::vector<Column> columns_;
  std::vector<MYSQL_BIND> result_binds_;
  std::vector<MYSQL_BIND> params_;
  std::array<int, max_params> integers_{};
};

}  // namespace storage::mysql
