#pragma once
// SQLite's memory, from the thread's block pool.
//
// SQLite as Debian builds it has no lookaside (SQLITE_OMIT_LOOKASIDE): the
// per-connection pool of small blocks that SQLite otherwise serves its
// short-lived allocations from. Without it, a point query mallocs and frees a
// buffer for each text column it reads, about six a lookup. These memory
// methods hand SQLite small blocks from the block pool of the thread instead,
// and larger ones from the heap; each block starts with its size, which
// SQLite asks for.

namespace storage::sqlite_memory {

// Installs the methods. It has to happen before SQLite initialises: if
// something in the process did that first, SQLite refuses, and its own
// malloc stays. Returns whether the methods are in use.
bool use_block_pool();

}  // namespace storage::sqlite_memory
