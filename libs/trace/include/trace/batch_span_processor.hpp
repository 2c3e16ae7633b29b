#pragma once
// The specification's batch span processor: finished spans wait in a bounded
// queue and a background thread exports them in batches. The request path
// never waits for an export; when the queue is full, spans are dropped and
// counted.
#include "trace/span_exporter.hpp"
#include "trace/tracer.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace trace {

// Defaults as the specification gives them for OTEL_BSP_*.
struct BatchSpanProcessorOptions {
  std::size_t max_queue_size = 2048;
  std::chrono::milliseconds schedule_delay{5000};
  std::chrono::milliseconds export_timeout{30000};
  std::size_t max_export_batch_size = 512;
  // Exported span records kept for new spans (their strings and vectors keep
  // their capacity); 0 frees every record after its export.
  std::size_t max_free_spans = 512;
  // Records a thread's cache takes from the free list at once, when it is empty.
  std::size_t thread_cache_spans = 32;
};

// Reads OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT
// and OTEL_BSP_MAX_EXPORT_BATCH_SIZE, and this project's TRACE_BSP_MAX_FREE_SPANS
// (0 allowed) and TRACE_BSP_THREAD_CACHE_SPANS; throws std::invalid_argument naming the
// variable for a value that is not a positive integer, or a batch larger than the queue.
BatchSpanProcessorOptions batch_options_from_environment(const std::function<const char*(const char*)>& getenv =
                                                             [](const char* name) { return std::getenv(name); });

struct BatchSpanProcessorStats {
  std::atomic<std::uint64_t> queued{0};           // accepted into the queue
  std::atomic<std::uint64_t> dropped{0};          // refused: queue full
  std::atomic<std::uint64_t> exported{0};         // in batches the exporter accepted
  std::atomic<std::uint64_t> export_failures{0};  // batches the exporter could not deliver
  std::atomic<std::uint64_t> failed_spans{0};     // the spans in those batches: lost
  std::atomic<std::uint64_t> queue_length{0};
  std::atomic<std::uint64_t> free_spans{0};  // exported records waiting for reuse
};

class BatchSpanProcessor final : public SpanProcessor {
 public:
  // `on_export` (optional) learns each export's duration, outcome and size,
  // from the export thread: for metrics.
  using ExportObserver = std::function<void(std::chrono::duration<double> duration, bool ok, std::size_t spans)>;

  BatchSpanProcessor(std::unique_ptr<SpanExporter> exporter, BatchSpanProcessorOptions options,
                     ExportObserver on_export = {});
  ~BatchSpanProcessor() override;

  void on_end(std::unique_ptr<SpanData> span) override;
  bool force_flush(std::chrono::milliseconds timeout) override;
  bool shutdown(std::chrono::milliseconds timeout) override;

  const BatchSpanProcessorStats& stats() const { return stats_; }

 private:
  void run();
  void export_batch(std::vector<std::unique_ptr<SpanData>>& batch);
  void recycle(std::vector<std::unique_ptr<SpanData>>& batch);

  std::unique_ptr<SpanExporter> exporter_;
  BatchSpanProcessorOptions options_;
  ExportObserver on_export_;
  BatchSpanProcessorStats stats_;

  std::mutex mutex_;
  std::condition_variable wake_worker_;
  std::condition_variable flushed_;
  std::vector<std::unique_ptr<SpanData>> queue_;
  std::vector<std::unique_ptr<SpanData>> free_;  // cleared records, at most max_free_spans
  std::vector<const SpanData*> batch_view_;      // the export thread's
  std::uint64_t flush_requests_ = 0;             // asked for
  std::uint64_t flushes_done_ = 0;               // completed
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread worker_;
};

}  // namespace trace
