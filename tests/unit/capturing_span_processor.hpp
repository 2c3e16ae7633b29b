#pragma once
// A span processor for tests: keeps every finished span in a vector the test
// owns, synchronously, so a test reads its spans as soon as they end.
#include <trace/tracer.hpp>

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

class CapturingProcessor final : public trace::SpanProcessor {
 public:
  explicit CapturingProcessor(std::vector<trace::SpanData>& into) : into_(into) {}
  void on_end(std::unique_ptr<trace::SpanData> span) override { into_.push_back(std::move(*span)); }
  bool force_flush(std::chrono::milliseconds) override { return true; }
  bool shutdown(std::chrono::milliseconds) override { return true; }

 private:
  std::vector<trace::SpanData>& into_;
};
