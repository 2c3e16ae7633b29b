#pragma once
// The process metrics every Prometheus client library exposes, with the
// names, types and HELP texts of the Go and Python clients, so dashboards
// written for those work unchanged.
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <filesystem>
#include <optional>
#include <vector>

namespace metrics {

// Reads /proc at each Collect (Linux only):
//   process_cpu_seconds_total      counter  utime + stime from /proc/self/stat
//   process_resident_memory_bytes  gauge    rss pages * page size
//   process_virtual_memory_bytes   gauge    vsize
//   process_open_fds               gauge    entries of /proc/self/fd
//   process_max_fds                gauge    soft RLIMIT_NOFILE
//   process_start_time_seconds     gauge    btime of /proc/stat + starttime
//   process_threads                gauge    num_threads
// A value that cannot be read is left out; Collect never throws.
class ProcessCollector : public prometheus::Collectable {
 public:
  // `proc_root` exists for tests; the boot time is read from it once, here.
  explicit ProcessCollector(const std::filesystem::path& proc_root = "/proc");

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::filesystem::path self_;
  std::optional<double> boot_time_seconds_;
  double ticks_per_second_;
  double page_size_bytes_;
};

}  // namespace metrics
