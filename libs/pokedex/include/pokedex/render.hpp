#pragma once
#include "pokedex/model.hpp"

#include <string>
#include <string_view>

namespace pokedex {

// {"id":25,"name":"Pikachu","lang":"en","slug":"pikachu","generation":1,
//  "types":["electric"],"height":4,"weight":60,"base_stats":{...}}
std::string render_pokemon(const Pokemon& pokemon);

// {"results":[{"id":..,"name":..,"slug":..,"types":[..]}],"limit":20,"offset":0,
//  "next":"<next_link>" or null}
std::string render_listing(const Listing& listing, Page page, std::string_view next_link);

}  // namespace pokedex
