#pragma once
// Records for new spans, kept per thread so that starting a span takes one
// without a lock. The batch processor refills a thread's cache from its free
// list while it holds its lock for the hand-off anyway, so reuse adds no
// locked instruction to the request path.
#include "trace/span_data.hpp"

#include <cstddef>
#include <memory>
#include <vector>

namespace trace::span_records {

// A cleared record from this thread's cache, or a new one when it is empty.
std::unique_ptr<SpanData> take();

bool cache_empty();

// Moves up to `count` records from the back of `from` into this thread's cache.
void refill(std::vector<std::unique_ptr<SpanData>>& from, std::size_t count);

// Records held by this thread's cache.
std::size_t cached();

}  // namespace trace::span_records
