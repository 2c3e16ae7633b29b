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
};

// Reads OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT
// and OTEL_BSP_MAX_EXPORT_BATCH_SIZE; throws std::invalid_argument naming the
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

  std::unique_ptr<SpanExporter> exporter_;
  BatchSpanProcessorOptions options_;
  ExportObserver on_export_;
  BatchSpanProcessorStats stats_;

  std::mutex mutex_;
  std::condition_variable wake_worker_;
  std::condition_variable flushed_;
  std::vector<std::unique_ptr<SpanData>> queue_;
  std::uint64_t flush_requests_ = 0;  // asked for
  std::uint64_t flushes_done_ = 0;    // completed
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread worker_;
};

}  // namespace trace
