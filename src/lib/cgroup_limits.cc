// Resource limits and statistics on top of Cgroup: the OCI linux.resources
// written to the v1 files of each controller or converted to cgroup v2 files,
// a BPF device program where the host has no v1 devices controller, usage
// read back from wherever each controller lives, and the size, CPU and device
// values of the command line.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>

#include "cgroup.hh"
#include "cgroup_devices.hh"
#include "error.hh"
#include "store.hh"

namespace mult {

namespace {

// ---- files ----------------------------------------------------------------

// Reads a whole (small) file. Returns 0 or the errno.
int read_text(const std::string& path, std::string& out) {
  return try_read_file(path, out);
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

struct WriteResult {
  int err = 0;          // 0 or the errno
  bool opened = false;  // whether the file was there
};

// One write(2) of `value` and a newline (as echo sends it; every cgroup file
// takes it), a command of its own. O_APPEND is a no-op on cgroupfs; in a
// plain file (tests) it keeps every command in order.
WriteResult write_text(const std::string& path, std::string_view value) {
  std::string data(value);
  if (data.empty() || data.back() != '\n') data += '\n';
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return {errno, false};
  ssize_t n;
  do {
    n = ::write(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  WriteResult r{0, true};
  if (n < 0) r.err = errno;
  else if (static_cast<size_t>(n) != data.size()) r.err = EIO;
  ::close(fd);
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  return s;
}

bool has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::optional<uint64_t> to_u64(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 20) return std::nullopt;
  unsigned __int128 v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > UINT64_MAX) return std::nullopt;
  return static_cast<uint64_t>(v);
}

std::optional<int64_t> to_i64(std::string_view s) {
  s = trim(s);
  bool neg = !s.empty() && s.front() == '-';
  if (neg) s.remove_prefix(1);
  auto u = to_u64(s);
  if (!u || *u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return neg ? -static_cast<int64_t>(*u) : static_cast<int64_t>(*u);
}

// A number file (memory.current, pids.current, ...); nullopt when missing or
// not a number ("max").
std::optional<uint64_t> read_u64(const std::string& path) {
  std::string text;
  if (read_text(path, text) != 0) return std::nullopt;
  return to_u64(text);
}

// The value of `key` in a "key value" per line file (memory.stat, cpu.stat,
// memory.events, memory.oom_control).
std::optional<uint64_t> read_key(const std::string& path, std::string_view key) {
  std::string text;
  if (read_text(path, text) != 0) return std::nullopt;
  std::string_view rest(text);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos && line.substr(0, sp) == key) return to_u64(line.substr(sp + 1));
  }
  return std::nullopt;
}

// ---- where things are -------------------------------------------------------

// The hierarchy that holds `dir` (longest mount point that is a prefix).
const CgroupHierarchy* hierarchy_of(const CgroupLayout* layout, const std::string& dir) {
  if (!layout) return nullptr;
  const CgroupHierarchy* best = nullptr;
  for (const auto& h : layout->hierarchies) {
    const std::string& mp = h.mount_point;
    if (dir.size() > mp.size() && dir.compare(0, mp.size(), mp) == 0 && dir[mp.size()] == '/' &&
        (!best || mp.size() > best->mount_point.size()))
      best = &h;
  }
  return best;
}

// The cgroup v2 name of a v1 controller.
std::string_view v2_name(std::string_view controller) {
  return controller == "blkio" ? std::string_view("io") : controller;
}

// A limit whose controller this cgroup is not in.
[[noreturn]] void no_controller(const CgroupLayout* layout, const std::string& field,
                                const std::string& controller) {
  bool host_has = false;
  if (layout) {
    if (layout->v1_for(controller)) host_has = true;
    if (const CgroupHierarchy* u = layout->unified(); u && has(u->controllers, v2_name(controller)))
      host_has = true;
  }
  if (host_has)
    throw Error(field + ": the instance's cgroup is not in the " + controller + " hierarchy");
  throw Error(field + ": the host has no " + controller + " controller");
}

// Where one controller's limits go.
struct Place {
  std::string dir;
  bool v2 = false;

  std::string file(const std::string& name) const { return dir + "/" + name; }
  bool exists(const std::string& name) const { return file_exists(file(name)); }

  // Writes `value` to `name`; an error names `field` and the cause. `shown`
  // is the value as the message shows it (default: as written); `device`
  // ("8:0") makes a write error one about that device.
  void put(const std::string& field, const std::string& name, const std::string& value,
           const std::string& shown = "", const std::string& device = "") const {
    WriteResult r = write_text(file(name), value);
    if (r.err == 0) return;
    const std::string& v = shown.empty() ? value : shown;
    const std::string why = std::strerror(r.err);
    if (!r.opened) {
      if (r.err == ENOENT) throw Error(field + ": the host has no " + name + " (in " + dir + ")");
      throw Error(field + ": open " + file(name) + ": " + why);
    }
    if (!device.empty()) throw Error(field + ": device " + device + ": " + why);
    if (r.err == EBUSY && name.starts_with("memory."))
      throw Error(field + ": " + v + " is below what the instance already uses (" + name + ": " + why + ")");
    if (r.err == EINVAL || r.err == ERANGE)
      throw Error(field + ": " + v + " is not accepted by " + name + " (" + why + ")");
    throw Error(field + ": write " + v + " to " + name + ": " + why);
  }
};

std::string num(int64_t v) { return std::to_string(v); }
std::string num(uint64_t v) { return std::to_string(v); }
// -1 (or any negative) is unlimited: "max" in cgroup v2.
std::string max_or(int64_t v) { return v < 0 ? "max" : std::to_string(v); }

// ---- devices (v1; cgroup v2 has the BPF program of cgroup_devices.hh) -------

// Deny everything, then the rules in order: each one overrides those
// before it, as the kernel's own list does.
void devices_v1(const Place& p, const std::vector<DeviceRule>& rules) {
  check_device_numbers(rules);
  p.put("devices", "devices.deny", "a");
  for (size_t i = 0; i < rules.size(); ++i) {
    std::string field = "devices[" + num(uint64_t{i}) + "]";
    for (const auto& line : v1_device_lines(rules[i]))
      p.put(field, rules[i].allow ? "devices.allow" : "devices.deny", line, quote(line));
  }
}

// ---- memory -----------------------------------------------------------------

void check_memory(const Resources& r, const std::string& limit_file) {
  const int64_t page = ::sysconf(_SC_PAGESIZE) > 0 ? ::sysconf(_SC_PAGESIZE) : 4096;
  if (r.memory_limit && *r.memory_limit != -1) {
    if (*r.memory_limit < 0) throw Error("memory.limit: " + num(*r.memory_limit) + " is not a size (-1 is unlimited)");
    if (*r.memory_limit < page)
      throw Error("memory.limit: " + num(*r.memory_limit) + " is below the kernel's minimum for " + limit_file +
                  " (one page, " + num(page) + " bytes)");
  }
  if (r.memory_swap && *r.memory_swap < -1)
    throw Error("memory.swap: " + num(*r.memory_swap) + " is not a size (-1 is unlimited)");
  if (r.memory_reservation && *r.memory_reservation < -1)
    throw Error("memory.reservation: " + num(*r.memory_reservation) + " is not a size (-1 is unlimited)");
  // OCI swap is memory plus swap: it cannot be below the memory limit.
  if (r.memory_limit && r.memory_swap && *r.memory_swap != -1 &&
      (*r.memory_limit == -1 || *r.memory_swap < *r.memory_limit))
    throw Error("memory.swap: " + num(*r.memory_swap) + " is below memory.limit (" +
                (*r.memory_limit == -1 ? std::string("unlimited") : num(*r.memory_limit)) +
                "); it is the total of memory and swap");
}

void memory_v1(const Place& p, const Resources& r) {
  check_memory(r, "memory.limit_in_bytes");
  const std::string kLimit = "memory.limit_in_bytes", kMemsw = "memory.memsw.limit_in_bytes";
  auto put_limit = [&] { p.put("memory.limit", kLimit, num(*r.memory_limit)); };
  auto put_swap = [&] {
    if (!p.exists(kMemsw)) {
      if (*r.memory_swap == -1) return;  // unlimited is what a host without swap accounting has
      throw Error("memory.swap: the host does not account swap (no " + kMemsw + " in " + p.dir + ")");
    }
    p.put("memory.swap", kMemsw, num(*r.memory_swap));
  };
  if (r.memory_limit && r.memory_swap) {
    // memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every step:
    // raising the limit goes swap first, lowering it memory first.
    std::string text;
    std::optional<int64_t> current;
    if (read_text(p.file(kLimit), text) == 0) current = to_i64(text);
    int64_t limit = *r.memory_limit == -1 ? INT64_MAX : *r.memory_limit;
    if (current && limit > *current) {
      put_swap();
      put_limit();
    } else {
      put_limit();
      put_swap();
    }
  } else if (r.memory_limit) {
    put_limit();
  } else if (r.memory_swap) {
    put_swap();
  }
  if (r.memory_reservation)
    p.put("memory.reservation", "memory.soft_limit_in_bytes", num(*r.memory_reservation));
  if (r.memory_swappiness) p.put("memory.swappiness", "memory.swappiness", num(*r.memory_swappiness));
  if (r.disable_oom_killer && *r.disable_oom_killer)
    p.put("memory.disableOOMKiller", "memory.oom_control", "1");
  // memory.kernel is deprecated (runtime-spec 1.2: runtimes may ignore it,
  // and the kernel no longer limits kernel memory apart); the TCP buffer
  // limit still works on v1.
  if (r.memory_kernel_tcp)
    p.put("memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes", num(*r.memory_kernel_tcp));
  if (r.use_hierarchy) {
    // Always on in today's kernels, which dropped the file or refuse 0.
    if (*r.use_hierarchy && !p.exists("memory.use_hierarchy")) return;
    p.put("memory.useHierarchy", "memory.use_hierarchy", *r.use_hierarchy ? "1" : "0");
  }
}

void memory_v2(const Place& p, const Resources& r) {
  check_memory(r, "memory.max");
  if (r.memory_limit) p.put("memory.limit", "memory.max", max_or(*r.memory_limit));
  if (r.memory_swap) {
    // v2 limits swap alone: memory.swap.max = swap - limit.
    std::string value = "max";
    if (*r.memory_swap != -1) {
      std::optional<int64_t> limit = r.memory_limit;
      if (!limit) {  // an update of swap alone: the limit in force
        std::string text;
        if (read_text(p.file("memory.max"), text) == 0) limit = to_i64(text);
      }
      if (!limit || *limit < 0)
        throw Error("memory.swap: cgroup v2 needs a memory.limit with it (memory.swap.max is swap - limit)");
      if (*r.memory_swap < *limit)
        throw Error("memory.swap: " + num(*r.memory_swap) + " is below memory.limit (" + num(*limit) +
                    "); it is the total of memory and swap");
      value = num(*r.memory_swap - *limit);
    }
    if (!p.exists("memory.swap.max")) {
      if (value == "max") return;  // unlimited is what a host without swap accounting has
      throw Error("memory.swap: the host does not account swap (no memory.swap.max in " + p.dir + ")");
    }
    p.put("memory.swap", "memory.swap.max", value);
  }
  if (r.memory_reservation) p.put("memory.reservation", "memory.low", max_or(*r.memory_reservation));
  if (r.memory_swappiness)
    throw Error("memory.swappiness: cgroup v2 has no per-cgroup swappiness (the host's memory is cgroup v2)");
  if (r.disable_oom_killer && *r.disable_oom_killer)
    throw Error("memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer (the host's memory is cgroup v2)");
  if (r.use_hierarchy && !*r.use_hierarchy)
    throw Error("memory.useHierarchy: cgroup v2 is always hierarchical");
  if (r.memory_kernel_tcp)
    throw Error("memory.kernelTCP: cgroup v2 has no TCP buffer limit (the host's memory is cgroup v2)");
}

// ---- cpu ------------------------------------------------------------------

void cpu_v1(const Place& p, const Resources& r) {
  if (r.cpu_shares) p.put("cpu.shares", "cpu.shares", num(*r.cpu_shares));
  if (r.cpu_period) p.put("cpu.period", "cpu.cfs_period_us", num(*r.cpu_period));
  if (r.cpu_quota) p.put("cpu.quota", "cpu.cfs_quota_us", num(*r.cpu_quota < 0 ? int64_t{-1} : *r.cpu_quota));
  if (r.cpu_realtime_period) p.put("cpu.realtimePeriod", "cpu.rt_period_us", num(*r.cpu_realtime_period));
  if (r.cpu_realtime_runtime)
    p.put("cpu.realtimeRuntime", "cpu.rt_runtime_us", num(*r.cpu_realtime_runtime));
  if (r.cpu_idle) p.put("cpu.idle", "cpu.idle", num(*r.cpu_idle));
}

void cpu_v2(const Place& p, const Resources& r) {
  if (r.cpu_realtime_period)
    throw Error("cpu.realtimePeriod: cgroup v2 has no realtime CPU limits (the host's cpu is cgroup v2)");
  if (r.cpu_realtime_runtime)
    throw Error("cpu.realtimeRuntime: cgroup v2 has no realtime CPU limits (the host's cpu is cgroup v2)");
  if (r.cpu_shares) p.put("cpu.shares", "cpu.weight", num(cpu_shares_to_weight(*r.cpu_shares)));
  if (r.cpu_quota || r.cpu_period) {
    // "QUOTA PERIOD"; the part the update does not set stays as it is.
    std::string quota = "max";
    uint64_t period = kCpuPeriod;
    std::string text;
    if (read_text(p.file("cpu.max"), text) == 0) {
      std::string_view t = trim(text);
      size_t sp = t.find(' ');
      if (sp != std::string_view::npos) {
        if (t.substr(0, sp) == "max" || to_u64(t.substr(0, sp))) quota = std::string(t.substr(0, sp));
        if (auto v = to_u64(t.substr(sp + 1))) period = *v;
      }
    }
    if (r.cpu_quota) quota = max_or(*r.cpu_quota);
    if (r.cpu_period) period = *r.cpu_period;
    p.put(r.cpu_quota ? "cpu.quota" : "cpu.period", "cpu.max", quota + " " + num(period));
  }
  if (r.cpu_idle) p.put("cpu.idle", "cpu.idle", num(*r.cpu_idle));
}

void cpuset(const Place& p, const Resources& r) {
  if (r.cpu_cpus) p.put("cpu.cpus", "cpuset.cpus", *r.cpu_cpus, quote(*r.cpu_cpus));
  if (r.cpu_mems) p.put("cpu.mems", "cpuset.mems", *r.cpu_mems, quote(*r.cpu_mems));
}

// ---- block I/O --------------------------------------------------------------

std::string dev(int64_t major, int64_t minor) { return num(major) + ":" + num(minor); }

struct Throttle {
  const char* field;
  const char* v1_file;
  const char* v2_key;
  const std::vector<ThrottleDevice>* devices;
};

std::vector<Throttle> throttles(const Resources& r) {
  return {{"blockIO.throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps", &r.throttle_read_bps},
          {"blockIO.throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps", &r.throttle_write_bps},
          {"blockIO.throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops", &r.throttle_read_iops},
          {"blockIO.throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops", &r.throttle_write_iops}};
}

void blkio_v1(const Place& p, const Resources& r) {
  // blkio.weight went with CFQ; BFQ has its own files.
  const bool bfq = !p.exists("blkio.weight") && p.exists("blkio.bfq.weight");
  if (r.blkio_weight)
    p.put("blockIO.weight", bfq ? "blkio.bfq.weight" : "blkio.weight", num(uint64_t{*r.blkio_weight}));
  if (r.blkio_leaf_weight) p.put("blockIO.leafWeight", "blkio.leaf_weight", num(uint64_t{*r.blkio_leaf_weight}));
  for (const auto& d : r.blkio_weight_device) {
    std::string id = dev(d.major, d.minor);
    if (d.weight)
      p.put("blockIO.weightDevice", bfq ? "blkio.bfq.weight_device" : "blkio.weight_device",
            id + " " + num(uint64_t{*d.weight}), "", id);
    if (d.leaf_weight)
      p.put("blockIO.weightDevice", "blkio.leaf_weight_device", id + " " + num(uint64_t{*d.leaf_weight}), "", id);
  }
  for (const auto& t : throttles(r))
    for (const auto& d : *t.devices) {
      std::string id = dev(d.major, d.minor);
      p.put(t.field, t.v1_file, id + " " + num(d.rate), "", id);
    }
}

void blkio_v2(const Place& p, const Resources& r) {
  if (r.blkio_leaf_weight) throw Error("blockIO.leafWeight: cgroup v2 has no leaf weights");
  // io.weight (iocost) takes the converted weight; without it BFQ's
  // io.bfq.weight takes the v1 one as it is (same range).
  const bool bfq = !p.exists("io.weight") && p.exists("io.bfq.weight");
  auto weight = [&](uint16_t w) { return num(bfq ? uint64_t{w} : blkio_weight_to_io_weight(w)); };
  const std::string weight_file = bfq ? "io.bfq.weight" : "io.weight";
  if (r.blkio_weight) p.put("blockIO.weight", weight_file, weight(*r.blkio_weight));
  for (const auto& d : r.blkio_weight_device) {
    std::string id = dev(d.major, d.minor);
    if (d.leaf_weight) throw Error("blockIO.weightDevice: device " + id + ": cgroup v2 has no leaf weights");
    if (d.weight) p.put("blockIO.weightDevice", weight_file, id + " " + weight(*d.weight), "", id);
  }
  // One io.max line per device with every rate it has; 0 is no limit.
  std::map<std::pair<int64_t, int64_t>, std::pair<std::string, std::string>> lines;  // -> (field, keys)
  for (const auto& t : throttles(r))
    for (const auto& d : *t.devices) {
      auto& [field, keys] = lines[{d.major, d.minor}];
      if (field.empty()) field = t.field;
      keys += std::string(" ") + t.v2_key + "=" + (d.rate == 0 ? std::string("max") : num(d.rate));
    }
  for (const auto& [id, line] : lines) {
    std::string name = dev(id.first, id.second);
    p.put(line.first, "io.max", name + line.second, "", name);
  }
}

// ---- hugetlb ----------------------------------------------------------------

void hugetlb(const Place& p, const Resources& r) {
  for (const auto& [size, limit] : r.hugepage_limits) {
    std::string field = "hugepageLimits[" + quote(size) + "]";
    bool ok = !size.empty() && std::all_of(size.begin(), size.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    });
    if (!ok) throw Error(field + ": not a page size (like \"2MB\")");
    std::string base = "hugetlb." + size;
    std::string file = base + (p.v2 ? ".max" : ".limit_in_bytes");
    if (!p.exists(file)) throw Error(field + ": the host has no " + size + " huge pages (no " + file + ")");
    p.put(field, file, num(limit));
    // The reservation limit, where the kernel has one, makes mmap fail
    // instead of a fault killing the task later.
    std::string rsvd = base + (p.v2 ? ".rsvd.max" : ".rsvd.limit_in_bytes");
    if (p.exists(rsvd)) p.put(field, rsvd, num(limit));
  }
}

// ---- unified ----------------------------------------------------------------

void unified_files(const std::string& dir, const std::map<std::string, std::string>& files) {
  Place p{dir, true};
  for (const auto& [key, value] : files) {
    std::string field = "unified[" + quote(key) + "]";
    if (key.empty() || key == "." || key == ".." || key.find('/') != std::string::npos ||
        key.find('\0') != std::string::npos)
      throw Error(field + ": not a cgroup file name");
    if (!p.exists(key))
      throw Error(field + ": no such file in " + dir + " (is its controller enabled in cgroup v2?)");
    p.put(field, key, value, quote(value));
  }
}

// ---- command line -------------------------------------------------------------

// "1.5G" -> bytes into `out`; "" or the reason it is not a size.
std::string size_of(std::string_view s, int64_t& out) {
  if (s.empty()) return "not a size";
  if (s.front() == '-') return "must be a positive size";
  size_t i = 0;
  unsigned __int128 whole = 0, frac = 0, scale = 1;
  size_t digits = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
    whole = whole * 10 + static_cast<unsigned>(s[i] - '0');
    if (whole > static_cast<unsigned __int128>(INT64_MAX)) return "too large";
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t fd = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++fd, ++digits) {
      if (fd >= 18) continue;  // beyond any unit's precision
      frac = frac * 10 + static_cast<unsigned>(s[i] - '0');
      scale *= 10;
    }
    if (fd == 0) return "not a size";
  }
  if (digits == 0) return "not a size";
  std::string unit;
  for (char c : s.substr(i)) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view u = unit;
  if (u.ends_with("ib") && u.size() == 3) u.remove_suffix(2);
  else if (u.ends_with("b") && u.size() == 2) u.remove_suffix(1);
  unsigned __int128 mult;
  if (u.empty() || u == "b") mult = 1;
  else if (u == "k") mult = 1ULL << 10;
  else if (u == "m") mult = 1ULL << 20;
  else if (u == "g") mult = 1ULL << 30;
  else if (u == "t") mult = 1ULL << 40;
  else {
    std::string_view given = s.substr(i);
    // "12QB": the unit is the Q.
    if (given.size() == 2 && (given[1] == 'b' || given[1] == 'B')) given.remove_suffix(1);
    return "unknown unit " + quote(given) + " (use K, M, G, T)";
  }
  if (mult == 1 && frac != 0) return "not a whole number of bytes";
  unsigned __int128 v = whole * mult + frac * mult / scale;
  if (v > static_cast<unsigned __int128>(INT64_MAX)) return "too large";
  if (v == 0) return "must be a positive size";
  out = static_cast<int64_t>(v);
  return "";
}

}  // namespace

// ---- Cgroup -------------------------------------------------------------------

const std::string* Cgroup::limit_dir(std::string_view controller, bool* v2) const {
  const std::string* unified = nullptr;
  for (const auto& d : dirs_) {
    const CgroupHierarchy* h = hierarchy_of(layout_, d);
    if (!h) continue;
    if (!h->v2) {
      if (has(h->controllers, controller)) {
        *v2 = false;
        return &d;
      }
    } else if (has(h->controllers, v2_name(controller))) {
      unified = &d;
    }
  }
  *v2 = unified != nullptr;
  return unified;
}

const std::string* Cgroup::unified_leaf() const {
  for (const auto& d : dirs_) {
    const CgroupHierarchy* h = hierarchy_of(layout_, d);
    if (h && h->v2) return &d;
  }
  return nullptr;
}

std::vector<std::string> Cgroup::controllers_for(const Resources& r) {
  std::vector<std::string> out;
  if (r.memory_limit || r.memory_reservation || r.memory_swap || r.memory_swappiness ||
      r.disable_oom_killer || r.use_hierarchy || r.memory_kernel_tcp)
    out.push_back("memory");
  if (r.cpu_shares || r.cpu_quota || r.cpu_period || r.cpu_realtime_runtime || r.cpu_realtime_period ||
      r.cpu_idle)
    out.push_back("cpu");
  if (r.cpu_cpus || r.cpu_mems) out.push_back("cpuset");
  if (r.pids_limit) out.push_back("pids");
  if (r.blkio_weight || r.blkio_leaf_weight || !r.blkio_weight_device.empty() || !r.throttle_read_bps.empty() ||
      !r.throttle_write_bps.empty() || !r.throttle_read_iops.empty() || !r.throttle_write_iops.empty())
    out.push_back("blkio");
  if (!r.hugepage_limits.empty()) out.push_back("hugetlb");
  if (!r.devices.empty()) out.push_back("devices");
  if (r.net_class_id) out.push_back("net_cls");
  if (!r.net_priorities.empty()) out.push_back("net_prio");
  return out;
}

void Cgroup::apply(const Resources& r, bool fresh) const {
  // The place of `controller`, or an Error naming `field` (the first field
  // of the group that is set).
  auto place = [&](const std::string& controller, const std::string& field) {
    Place p;
    const std::string* dir = limit_dir(controller, &p.v2);
    if (!dir) no_controller(layout_, field, controller);
    p.dir = *dir;
    return p;
  };

  if (r.cpu_cpus || r.cpu_mems) cpuset(place("cpuset", r.cpu_cpus ? "cpu.cpus" : "cpu.mems"), r);

  if (r.cpu_shares || r.cpu_quota || r.cpu_period || r.cpu_realtime_runtime || r.cpu_realtime_period ||
      r.cpu_idle) {
    std::string field = r.cpu_shares ? "cpu.shares" : r.cpu_quota ? "cpu.quota" : r.cpu_period ? "cpu.period"
                        : r.cpu_realtime_runtime ? "cpu.realtimeRuntime"
                        : r.cpu_realtime_period  ? "cpu.realtimePeriod"
                                                 : "cpu.idle";
    Place p = place("cpu", field);
    p.v2 ? cpu_v2(p, r) : cpu_v1(p, r);
  }

  if (r.memory_limit || r.memory_reservation || r.memory_swap || r.memory_swappiness ||
      r.disable_oom_killer || r.use_hierarchy || r.memory_kernel_tcp) {
    std::string field = r.memory_limit ? "memory.limit" : r.memory_reservation ? "memory.reservation"
                        : r.memory_swap        ? "memory.swap"
                        : r.memory_swappiness  ? "memory.swappiness"
                        : r.disable_oom_killer ? "memory.disableOOMKiller"
                        : r.use_hierarchy      ? "memory.useHierarchy"
                                               : "memory.kernelTCP";
    Place p = place("memory", field);
    p.v2 ? memory_v2(p, r) : memory_v1(p, r);
  }

  if (r.pids_limit) {
    Place p = place("pids", "pids.limit");
    p.put("pids.limit", "pids.max", *r.pids_limit <= 0 ? std::string("max") : num(*r.pids_limit));
  }

  if (r.blkio_weight || r.blkio_leaf_weight || !r.blkio_weight_device.empty() || !r.throttle_read_bps.empty() ||
      !r.throttle_write_bps.empty() || !r.throttle_read_iops.empty() || !r.throttle_write_iops.empty()) {
    std::string field = r.blkio_weight                   ? "blockIO.weight"
                        : r.blkio_leaf_weight            ? "blockIO.leafWeight"
                        : !r.blkio_weight_device.empty() ? "blockIO.weightDevice"
                        : !r.throttle_read_bps.empty()   ? "blockIO.throttleReadBpsDevice"
                        : !r.throttle_write_bps.empty()  ? "blockIO.throttleWriteBpsDevice"
                        : !r.throttle_read_iops.empty()  ? "blockIO.throttleReadIOPSDevice"
                                                         : "blockIO.throttleWriteIOPSDevice";
    Place p = place("blkio", field);
    p.v2 ? blkio_v2(p, r) : blkio_v1(p, r);
  }

  if (!r.hugepage_limits.empty())
    hugetlb(place("hugetlb", "hugepageLimits[" + quote(r.hugepage_limits.begin()->first) + "]"), r);

  // v1 only: cgroup v2 has neither (the controller lookup says so).
  if (r.net_class_id)
    place("net_cls", "network.classID").put("network.classID", "net_cls.classid", num(uint64_t{*r.net_class_id}));
  if (!r.net_priorities.empty()) {
    Place p = place("net_prio", "network.priorities");
    for (const auto& [iface, prio] : r.net_priorities)
      p.put("network.priorities", "net_prio.ifpriomap", iface + " " + num(uint64_t{prio}));
  }

  if (!r.devices.empty()) {
    // A BPF program on the unified directory wherever there is one: the
    // kernel runs it before the v1 controller's list, and the instance is
    // cloned into that directory for free where a v1 join costs an RCU
    // grace period. Only a pure v1 host uses the v1 devices controller.
    bool v2 = false;
    if (const std::string* u = unified_leaf()) {
      if (unified_fd_) attach_device_program(unified_fd_.get(), *u, r.devices, !fresh);
      else attach_device_program(*u, r.devices);
    } else if (const std::string* dir = limit_dir("devices", &v2); dir && !v2) {
      devices_v1(Place{*dir, false}, r.devices);
    } else {
      no_controller(layout_, "devices", "devices");
    }
  }

  if (!r.unified.empty()) {
    const std::string* u = unified_leaf();
    if (!u) throw Error("unified: the host has no cgroup v2 hierarchy");
    unified_files(*u, r.unified);
  }
}

uint64_t Cgroup::oom_kills() const {
  bool v2 = false;
  const std::string* d = limit_dir("memory", &v2);
  if (!d) return 0;
  return read_key(*d + (v2 ? "/memory.events" : "/memory.oom_control"), "oom_kill").value_or(0);
}

CgroupStats Cgroup::stats() const {
  CgroupStats s;
  bool v2 = false;
  const std::string* unified = unified_leaf();

  // CPU: v1 cpuacct, else the unified cpu.stat (there even without the cpu
  // controller).
  std::optional<uint64_t> cpu;
  if (const std::string* d = limit_dir("cpuacct", &v2); d && !v2) cpu = read_u64(*d + "/cpuacct.usage");
  if (!cpu && unified)
    if (auto us = read_key(*unified + "/cpu.stat", "usage_usec")) cpu = *us * 1000;
  s.cpu_usage_ns = cpu.value_or(0);

  if (const std::string* d = limit_dir("memory", &v2)) {
    auto limit_of = [](std::optional<uint64_t> v) -> std::optional<uint64_t> {
      if (v && *v >= (uint64_t{1} << 62)) return std::nullopt;  // v1's "unlimited"
      return v;
    };
    if (!v2) {
      uint64_t usage = read_u64(*d + "/memory.usage_in_bytes").value_or(0);
      uint64_t inactive = read_key(*d + "/memory.stat", "total_inactive_file").value_or(0);
      s.memory_usage = usage > inactive ? usage - inactive : 0;
      s.memory_limit = limit_of(read_u64(*d + "/memory.limit_in_bytes"));
    } else {
      uint64_t usage = read_u64(*d + "/memory.current").value_or(0);
      uint64_t inactive = read_key(*d + "/memory.stat", "inactive_file").value_or(0);
      s.memory_usage = usage > inactive ? usage - inactive : 0;
      s.memory_limit = limit_of(read_u64(*d + "/memory.max"));  // "max": nullopt
    }
  }

  s.oom_kills = oom_kills();

  std::optional<uint64_t> pids;
  if (const std::string* d = limit_dir("pids", &v2)) {
    pids = read_u64(*d + "/pids.current");
    s.pids_limit = read_u64(*d + "/pids.max");  // "max": nullopt
  }
  if (!pids) {
    try {
      pids = this->pids().size();
    } catch (const Error&) {
    }
  }
  s.pids = pids.value_or(0);

  if (const std::string* d = limit_dir("blkio", &v2)) {
    std::string text;
    if (!v2) {
      // "8:0 Read 4096" lines, and a "Total" one.
      if (read_text(*d + "/blkio.throttle.io_service_bytes_recursive", text) != 0)
        read_text(*d + "/blkio.bfq.io_service_bytes_recursive", text);
      std::string_view rest(text);
      while (!rest.empty()) {
        size_t nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        size_t a = line.find(' ');
        if (a == std::string_view::npos) continue;
        size_t b = line.find(' ', a + 1);
        if (b == std::string_view::npos) continue;
        std::string_view op = line.substr(a + 1, b - a - 1);
        uint64_t n = to_u64(line.substr(b + 1)).value_or(0);
        if (op == "Read") s.io_read_bytes += n;
        else if (op == "Write") s.io_write_bytes += n;
      }
    } else if (read_text(*d + "/io.stat", text) == 0) {
      // "8:0 rbytes=1 wbytes=2 rios=3 ..." lines.
      size_t i = 0;
      while (i < text.size()) {
        size_t end = text.find_first_of(" \n", i);
        if (end == std::string::npos) end = text.size();
        std::string_view word(text.data() + i, end - i);
        if (word.starts_with("rbytes=")) s.io_read_bytes += to_u64(word.substr(7)).value_or(0);
        else if (word.starts_with("wbytes=")) s.io_write_bytes += to_u64(word.substr(7)).value_or(0);
        i = end + 1;
      }
    }
  }
  return s;
}

// ---- conversions and the command line -------------------------------------

uint64_t cpu_shares_to_weight(uint64_t shares) {
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t blkio_weight_to_io_weight(uint64_t weight) {
  weight = std::clamp<uint64_t>(weight, 10, 1000);
  return 1 + ((weight - 10) * 9999) / 990;
}

// Rounded to the nearest microsecond by hand: cpus is positive (parse_cpus),
// and std::llround alone would make every mult start load libm.
int64_t cpu_quota_for(double cpus, uint64_t period) {
  return static_cast<int64_t>(cpus * static_cast<double>(period) + 0.5);
}

int64_t parse_size(const std::string& value, const std::string& option) {
  int64_t out = 0;
  std::string why = size_of(value, out);
  if (!why.empty()) throw Error(option + " " + quote(value) + ": " + why, kExitUsage);
  return out;
}

double parse_cpus(const std::string& value, const std::string& option) {
  auto fail = [&](const std::string& why) { return Error(option + " " + value + ": " + why, kExitUsage); };
  size_t digits = 0, dots = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c >= '0' && c <= '9') ++digits;
    else if (c == '.') ++dots;
    else if (c == '-' && i == 0) continue;
    else throw fail("not a number of CPUs");
  }
  if (digits == 0 || dots > 1 || value.size() > 24) throw fail("not a number of CPUs");
  double cpus = std::strtod(value.c_str(), nullptr);
  if (!(cpus > 0)) throw fail("must be more than 0");
  // The kernel's least quota is 1 ms, its largest about 2^44 us.
  constexpr int64_t kMinQuota = 1000, kMaxQuota = (int64_t{1} << 44) - 1;
  if (cpus * static_cast<double>(kCpuPeriod) >= static_cast<double>(kMaxQuota)) throw fail("too large");
  if (cpu_quota_for(cpus) < kMinQuota) throw fail("below the kernel's minimum (0.01)");
  return cpus;
}

std::pair<std::pair<int64_t, int64_t>, uint64_t> parse_device_rate(const std::string& value,
                                                                   const std::string& option) {
  auto fail = [&](const std::string& why) { return Error(option + " " + quote(value) + ": " + why, kExitUsage); };
  size_t colon = value.rfind(':');
  const bool path = !value.empty() && value.front() == '/';
  if (colon == std::string::npos || colon == 0 || (!path && std::count(value.begin(), value.end(), ':') < 2))
    throw fail("expected DEVICE:RATE (like /dev/sda:10M or 8:0:10M)");
  std::string device = value.substr(0, colon);
  int64_t rate = 0;
  if (std::string why = size_of(std::string_view(value).substr(colon + 1), rate); !why.empty()) throw fail(why);

  std::pair<int64_t, int64_t> id;
  if (path) {
    struct stat st;
    if (::stat(device.c_str(), &st) != 0) throw fail(device + ": " + std::strerror(errno));
    if (!S_ISBLK(st.st_mode)) throw fail(device + " is not a block device");
    id = {static_cast<int64_t>(major(st.st_rdev)), static_cast<int64_t>(minor(st.st_rdev))};
  } else {
    size_t c = device.find(':');
    std::optional<uint64_t> maj, min;
    if (c != std::string::npos) {
      maj = to_u64(std::string_view(device).substr(0, c));
      min = to_u64(std::string_view(device).substr(c + 1));
    }
    if (!maj || !min || *maj > UINT32_MAX || *min > UINT32_MAX)
      throw fail("expected a block device path or MAJOR:MINOR before the rate, got " + quote(device));
    id = {static_cast<int64_t>(*maj), static_cast<int64_t>(*min)};
  }
  return {id, static_cast<uint64_t>(rate)};
}

}  // namespace mult
