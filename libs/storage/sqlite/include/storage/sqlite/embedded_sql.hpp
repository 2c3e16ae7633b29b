#pragma once
#include <string_view>

namespace storage {

// db/schema.sql and db/seed.sql, compiled into the binary.
std::string_view embedded_schema_sql();
std::string_view embedded_seed_sql();

}  // namespace storage
