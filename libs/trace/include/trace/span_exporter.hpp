#pragma once
#include "trace/span_data.hpp"

#include <chrono>
#include <span>

namespace trace {

enum class ExportResult { success, failure };

// One export's spans, in order, read where the batch processor keeps them
// (no copy, no move).
using SpanBatch = std::span<const SpanData* const>;

// Sends batches of finished spans somewhere. Called from one thread at a time
// (the batch processor's); may block up to its own timeout.
class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  virtual ExportResult export_spans(SpanBatch spans) = 0;
  // Gives up any retry wait and refuses further exports.
  virtual void shutdown() {}
};

}  // namespace trace
