#include "metrics/process_collector.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

namespace metrics {
namespace {

std::optional<std::string> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string content;
  std::array<char, 4096> buffer;
  for (;;) {
    const auto n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    content.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return content;
}

template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> read_boot_time_seconds(const std::filesystem::path& proc_stat) {
  const auto content = read_file(proc_stat);
  if (!content) return std::nullopt;
  constexpr std::string_view key = "btime ";
  std::string_view text = *content;
  for (std::size_t at = 0; at < text.size();) {
    const auto end = std::min(text.find('\n', at), text.size());
    const auto line = text.substr(at, end - at);
    if (line.starts_with(key)) {
      if (const auto seconds = parse_number<unsigned long long>(line.substr(key.size())))
        return static_cast<double>(*seconds);
      return std::nullopt;
    }
    at = end + 1;
  }
  return std::nullopt;
}

// The fields of /proc/self/stat after "pid (comm) ", numbered from 0 for
// "state" (field 3 in proc(5)). The command name may hold spaces and ")",
// hence the search from the end.
struct StatFields {
  std::array<std::string_view, 22> field{};
  std::size_t count = 0;
};

StatFields split_stat(std::string_view stat) {
  StatFields fields;
  const auto comm_end = stat.rfind(')');
  if (comm_end == std::string_view::npos) return fields;
  stat.remove_prefix(comm_end + 1);
  while (fields.count < fields.field.size()) {
    const auto start = stat.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    stat.remove_prefix(start);
    const auto end = std::min(stat.find_first_of(" \n"), stat.size());
    fields.field[fields.count++] = stat.substr(0, end);
    stat.remove_prefix(end);
  }
  return fields;
}

std::optional<double> stat_field(const StatFields& fields, std::size_t index) {
  if (index >= fields.count) return std::nullopt;
  if (const auto value = parse_number<long long>(fields.field[index])) return static_cast<double>(*value);
  return std::nullopt;
}

std::optional<double> count_open_fds(const std::filesystem::path& fd_directory) {
  DIR* directory = ::opendir(fd_directory.c_str());
  if (!directory) return std::nullopt;
  double count = 0;
  while (const dirent* entry = ::readdir(directory)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) ++count;
  }
  ::closedir(directory);
  return count;
}

std::optional<double> max_fds() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  if (limit.rlim_cur == RLIM_INFINITY) return std::numeric_limits<double>::infinity();
  return static_cast<double>(limit.rlim_cur);
}

void add(std::vector<prometheus::MetricFamily>& families, const char* name, const char* help,
         prometheus::MetricType type, std::optional<double> value) {
  if (!value) return;
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  auto& metric = family.metric.emplace_back();
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = *value;
  } else {
    metric.gauge.value = *value;
  }
  families.push_back(std::move(family));
}

double sysconf_or(int name, double fallback) {
  const long value = ::sysconf(name);
  return value > 0 ? static_cast<double>(value) : fallback;
}

}  // namespace

ProcessCollector::ProcessCollector(const std::filesystem::path& proc_root)
    : self_(proc_root / "self"),
      boot_time_seconds_(read_boot_time_seconds(proc_root / "stat")),
      ticks_per_second_(sysconf_or(_SC_CLK_TCK, 100)),
      page_size_bytes_(sysconf_or(_SC_PAGESIZE, 4096)) {}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  try {
    families.reserve(7);
    const auto stat = read_file(self_ / "stat");
    const auto fields = stat ? split_stat(*stat) : StatFields{};
    // Indices: proc(5) field number - 3.
    const auto user_ticks = stat_field(fields, 11);
    const auto system_ticks = stat_field(fields, 12);
    const auto threads = stat_field(fields, 17);
    const auto start_ticks = stat_field(fields, 19);
    const auto virtual_bytes = stat_field(fields, 20);
    const auto resident_pages = stat_field(fields, 21);

    std::optional<double> cpu_seconds;
    if (user_ticks && system_ticks) cpu_seconds = (*user_ticks + *system_ticks) / ticks_per_second_;
    std::optional<double> resident_bytes;
    if (resident_pages) resident_bytes = *resident_pages * page_size_bytes_;
    std::optional<double> start_time;
    if (boot_time_seconds_ && start_ticks) start_time = *boot_time_seconds_ + *start_ticks / ticks_per_second_;

    add(families, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter,
        cpu_seconds);
    add(families, "process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge, resident_bytes);
    add(families, "process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge, virtual_bytes);
    add(families, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
        count_open_fds(self_ / "fd"));
    add(families, "process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge, max_fds());
    add(families, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        MetricType::Gauge, start_time);
    // Neither the Python nor the Go client counts threads per process (Go has
    // go_threads); process_threads is the name and wording of the Rust
    // client's process collector, kept under the process_ prefix.
    add(families, "process_threads", "Number of OS threads in the process.", MetricType::Gauge, threads);
  } catch (...) {
    // Only allocation can throw here; a scrape without process metrics beats a failed one.
  }
  return families;
}

}  // namespace metrics
