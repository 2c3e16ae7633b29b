#include "trace/batch_span_processor.hpp"

#include "span_records.hpp"

#include <algorithm>

#include <charconv>
#include <iterator>
#include <stdexcept>
#include <string>

namespace trace {
namespace {

std::uint64_t integer(const std::function<const char*(const char*)>& getenv, const char* name, std::uint64_t fallback,
                      bool zero_allowed) {
  const char* text = getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  std::uint64_t value = 0;
  const std::string_view view(text);
  const auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (ec != std::errc{} || end != view.data() + view.size() || (value == 0 && !zero_allowed))
    throw std::invalid_argument(
        std::string(name) +
        (zero_allowed ? " must be a non-negative integer, not '" : " must be a positive integer, not '") + text + "'");
  return value;
}

std::uint64_t positive_integer(const std::function<const char*(const char*)>& getenv, const char* name,
                               std::uint64_t fallback) {
  return integer(getenv, name, fallback, false);
}

}  // namespace

BatchSpanProcessorOptions batch_options_from_environment(const std::function<const char*(const char*)>& getenv) {
  BatchSpanProcessorOptions options;
  options.max_queue_size = positive_integer(getenv, "OTEL_BSP_MAX_QUEUE_SIZE", options.max_queue_size);
  options.schedule_delay = std::chrono::milliseconds(
      positive_integer(getenv, "OTEL_BSP_SCHEDULE_DELAY", static_cast<std::uint64_t>(options.schedule_delay.count())));
  options.export_timeout = std::chrono::milliseconds(
      positive_integer(getenv, "OTEL_BSP_EXPORT_TIMEOUT", static_cast<std::uint64_t>(options.export_timeout.count())));
  options.max_export_batch_size = positive_integer(getenv, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                                                   options.max_export_batch_size);
  options.max_free_spans = integer(getenv, "TRACE_BSP_MAX_FREE_SPANS", options.max_free_spans, true);
  options.thread_cache_spans = positive_integer(getenv, "TRACE_BSP_THREAD_CACHE_SPANS", options.thread_cache_spans);
  if (options.max_export_batch_size > options.max_queue_size)
    throw std::invalid_argument("OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not exceed OTEL_BSP_MAX_QUEUE_SIZE");
  return options;
}

BatchSpanProcessor::BatchSpanProcessor(std::unique_ptr<SpanExporter> exporter, BatchSpanProcessorOptions options,
                                       ExportObserver on_export)
    : exporter_(std::move(exporter)), options_(options), on_export_(std::move(on_export)) {
  queue_.reserve(options_.max_queue_size);
  free_.reserve(options_.max_free_spans);
  batch_view_.reserve(options_.max_export_batch_size);
  worker_ = std::thread([this] { run(); });
}

BatchSpanProcessor::~BatchSpanProcessor() { shutdown(options_.export_timeout); }

void BatchSpanProcessor::on_end(std::unique_ptr<SpanData> span) {
  std::unique_lock lock(mutex_);
  if (stopping_ || queue_.size() >= options_.max_queue_size) {
    lock.unlock();
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;  // `span` is freed here, outside the lock
  }
  queue_.push_back(std::move(span));
  const std::size_t length = queue_.size();
  // Only this function writes `queued`, always under the lock: a plain
  // increment, not a second locked instruction.
  stats_.queued.store(stats_.queued.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // Under the lock the hand-off takes anyway: records for this thread's next spans.
  std::size_t free_left = 0;
  const bool refilled = !free_.empty() && span_records::cache_empty();
  if (refilled) {
    span_records::refill(free_, options_.thread_cache_spans);
    free_left = free_.size();
  }
  lock.unlock();
  if (refilled) stats_.free_spans.store(free_left, std::memory_order_relaxed);
  stats_.queue_length.store(length, std::memory_order_relaxed);
  if (length == options_.max_export_batch_size) wake_worker_.notify_one();
}

void BatchSpanProcessor::run() {
  std::vector<std::unique_ptr<SpanData>> batch;
  batch.reserve(options_.max_export_batch_size);
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_worker_.wait_for(lock, options_.schedule_delay, [this] {
      return stopping_ || flush_requests_ > flushes_done_ || queue_.size() >= options_.max_export_batch_size;
    });
    const std::uint64_t flush_target = flush_requests_;
    const bool draining = stopping_ || flush_target > flushes_done_;
    // A flush or shutdown exports everything queued now; otherwise one batch.
    do {
      const std::size_t count = std::min(queue_.size(), options_.max_export_batch_size);
      if (count == 0) break;
      std::move(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count), std::back_inserter(batch));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
      stats_.queue_length.store(queue_.size(), std::memory_order_relaxed);
      lock.unlock();
      export_batch(batch);
      lock.lock();
    } while (draining);
    if (draining) {
      flushes_done_ = flush_target;
      flushed_.notify_all();
    }
    if (stopping_ && queue_.empty()) {
      stopped_ = true;
      flushed_.notify_all();
      return;
    }
  }
}

void BatchSpanProcessor::export_batch(std::vector<std::unique_ptr<SpanData>>& batch) {
  batch_view_.clear();
  for (const auto& span : batch) batch_view_.push_back(span.get());
  const auto started = std::chrono::steady_clock::now();
  const bool ok = exporter_->export_spans(batch_view_) == ExportResult::success;
  const auto took = std::chrono::steady_clock::now() - started;
  const std::size_t count = batch.size();
  if (ok)
    stats_.exported.fetch_add(count, std::memory_order_relaxed);
  else {
    stats_.export_failures.fetch_add(1, std::memory_order_relaxed);
    stats_.failed_spans.fetch_add(count, std::memory_order_relaxed);
  }
  batch_view_.clear();
  recycle(batch);
  if (on_export_) on_export_(took, ok, count);
}

// Clears the exported records and keeps what the free list has room for;
// the rest are freed, outside the lock.
void BatchSpanProcessor::recycle(std::vector<std::unique_ptr<SpanData>>& batch) {
  std::size_t keep = 0;
  if (options_.max_free_spans > 0) {
    for (auto& span : batch) span->clear_for_reuse();
    std::lock_guard lock(mutex_);
    keep = std::min(batch.size(), options_.max_free_spans - free_.size());
    std::move(batch.end() - static_cast<std::ptrdiff_t>(keep), batch.end(), std::back_inserter(free_));
    stats_.free_spans.store(free_.size(), std::memory_order_relaxed);
  }
  batch.clear();
}

bool BatchSpanProcessor::force_flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (stopped_) return true;
  const std::uint64_t ticket = ++flush_requests_;
  wake_worker_.notify_one();
  return flushed_.wait_for(lock, timeout, [&] { return flushes_done_ >= ticket || stopped_; });
}

bool BatchSpanProcessor::shutdown(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!worker_.joinable()) return true;
  stopping_ = true;
  wake_worker_.notify_one();
  const bool flushed = flushed_.wait_for(lock, timeout, [this] { return stopped_; });
  lock.unlock();
  // Past the deadline the exporter is told to give up, which ends the worker promptly.
  exporter_->shutdown();
  worker_.join();
  return flushed;
}

}  // namespace trace
