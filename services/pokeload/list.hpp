#pragma once
// Settings given as lists: "50@1m, 200@30s", "pokemon=70,search=30".
#include <string_view>
#include <vector>

#include "text/text.hpp"

namespace pokeload {

// The comma-separated items of `text`, spaces around each trimmed; empty
// items are kept (an empty text is one empty item) for the caller to refuse.
inline std::vector<std::string_view> split_list(std::string_view text) {
  std::vector<std::string_view> items;
  for (;;) {
    const auto comma = text.find(',');
    items.push_back(text::trim(text.substr(0, comma), " "));
    if (comma == std::string_view::npos) return items;
    text.remove_prefix(comma + 1);
  }
}

}  // namespace pokeload
