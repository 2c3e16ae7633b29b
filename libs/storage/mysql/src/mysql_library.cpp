#include "mysql_library.hpp"

#include <pokedex/store.hpp>

#include <dlfcn.h>

#include <cstring>
#include <string>

namespace storage::mysql {
namespace {

template <class Function>
void resolve(void* library, const char* name, Function& into) {
  void* symbol = dlsym(library, name);
  if (!symbol) throw pokedex::StorageUnavailable(std::string("libmariadb.so.3 lacks ") + name);
  static_assert(sizeof(into) == sizeof(symbol));
  std::memcpy(&into, &symbol, sizeof symbol);  // object pointer to function pointer, as POSIX allows
}

MysqlLibrary load() {
  void* library = dlopen("libmariadb.so.3", RTLD_NOW | RTLD_LOCAL);
  if (!library) throw pokedex::StorageUnavailable(std::string("cannot load MariaDB Connector/C: ") + dlerror());
  MysqlLibrary loaded;
#define POKEDEX_MYSQL_RESOLVE(name) resolve(library, #name, loaded.name)
  POKEDEX_MYSQL_FUNCTIONS(POKEDEX_MYSQL_RESOLVE)
#undef POKEDEX_MYSQL_RESOLVE
  return loaded;  // the library stays loaded for the life of the process
}

}  // namespace

const MysqlLibrary& MysqlLibrary::get() {
  static const MysqlLibrary library = load();
  return library;
}

}  // namespace storage::mysql
