#pragma once
#include "pokedex/model.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace pokedex {

// The storage could not answer (down, unreachable, timed out, overloaded).
// Its message is for logs; clients only ever learn that storage is unavailable.
class StorageUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One connection's worth of Pokédex queries. Implementations are not
// thread-safe: each instance is used by one thread at a time.
class PokedexStore {
 public:
  virtual ~PokedexStore() = default;

  virtual std::optional<Pokemon> find_pokemon(int id, Language language) = 0;
  // Pokémon whose name in `language` starts with `name_prefix` (already lower-cased).
  virtual Listing search_by_name(std::string_view name_prefix, Language language, Page page) = 0;
  // nullopt when no type has that slug.
  virtual std::optional<Listing> list_by_type(std::string_view type_slug, Language language, Page page) = 0;
  // nullopt when no such generation exists.
  virtual std::optional<Listing> list_by_generation(int generation, Language language, Page page) = 0;
  // The highest National Pokédex number stored.
  virtual int max_pokemon_id() = 0;
  // Throws StorageUnavailable unless a trivial round trip succeeds.
  virtual void ping() = 0;

  // Opens a read transaction that the calls after it share until
  // end_read_transaction(), so that each call skips starting and ending one
  // of its own; they read one snapshot meanwhile. Returns whether one is open
  // now. A store without such transactions keeps the defaults: none.
  virtual bool begin_read_transaction() { return false; }
  virtual void end_read_transaction() {}
};

}  // namespace pokedex
