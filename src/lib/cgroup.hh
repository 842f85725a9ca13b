// cgroups: one interface over cgroup v1, v2 and hybrid hosts. The layout is
// read at run time from mountinfo; on a hybrid host each controller is driven
// in the hierarchy where it is mounted.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fd.hh"
#include "spec.hh"

namespace mult {

enum class CgroupMode { kV1, kV2, kHybrid, kNone };

struct CgroupHierarchy {
  std::string mount_point;               // /sys/fs/cgroup/memory
  bool v2 = false;
  std::vector<std::string> controllers;  // v1: "memory", "name=systemd"; v2: from cgroup.controllers
};

struct CgroupLayout {
  CgroupMode mode = CgroupMode::kNone;
  std::vector<CgroupHierarchy> hierarchies;

  // Reads the cgroup mounts in `mountinfo`. `path_prefix` is prepended to
  // every mount point (tests point it at a fake tree in a temporary dir).
  static CgroupLayout detect(const std::string& mountinfo = "/proc/self/mountinfo",
                             const std::string& path_prefix = "");
  // A pure cgroup v2 host whose one hierarchy is mounted at `mount_point`.
  static CgroupLayout unified_at(const std::string& mount_point);
  // The process-wide layout of this host, detected once: unified_at() where
  // /sys/fs/cgroup is cgroup2 (most hosts; no mountinfo to read and parse),
  // detect() elsewhere.
  static const CgroupLayout& host();
  const CgroupHierarchy* unified() const;
  const CgroupHierarchy* v1_for(const std::string& controller) const;
  // Whether an instance that needs `controllers` joins hierarchy `h`: the
  // unified one always (clone3 puts it there for free), a v1 one only for a
  // controller it needs, since each v1 join costs an RCU grace period
  // (cgroup_threadgroup_rwsem) on the start path. "devices" never joins v1
  // where there is a unified hierarchy (a BPF program there enforces the
  // list). A pure v1 host adds the freezer, to track and stop the instance.
  bool joins(const CgroupHierarchy& h, const std::vector<std::string>& controllers) const;
};

// Usage of one instance's cgroup (Cgroup::stats()). A controller the cgroup is
// not in gives zeros (memory: nullopt); an unlimited limit is nullopt.
struct CgroupStats {
  uint64_t cpu_usage_ns = 0;
  // Without the inactive file cache, as docker shows it; nullopt when the
  // cgroup is in no memory hierarchy (a hybrid host's v1 one is joined only
  // for a limit): unknown, not zero.
  std::optional<uint64_t> memory_usage;
  std::optional<uint64_t> memory_limit;
  uint64_t pids = 0;
  std::optional<uint64_t> pids_limit;
  uint64_t io_read_bytes = 0, io_write_bytes = 0;
  uint64_t oom_kills = 0;
};

// The cgroup of one instance, in every hierarchy of the layout. Owns the
// directories it made: they are removed on destruction unless keep() was called.
class Cgroup {
 public:
  Cgroup() = default;
  Cgroup(Cgroup&&) noexcept;
  Cgroup& operator=(Cgroup&&) noexcept;
  ~Cgroup();

  // Makes `path` in every hierarchy. `path` is relative to mult's parent
  // ("mult/NAME") or absolute from each hierarchy's root ("/a/b"), as the
  // spec's cgroupsPath says. Missing parents are made and owned too.
  static Cgroup create(const CgroupLayout& layout, const std::string& path);
  // The same in the hierarchies an instance needing `controllers` joins.
  static Cgroup create(const CgroupLayout& layout, const std::string& path,
                       const std::vector<std::string>& controllers);
  // An existing instance's cgroup (for exec, stop, rm); owns nothing until adopt().
  static Cgroup open(const CgroupLayout& layout, const std::string& path);

  // The v2 directory for clone3(CLONE_INTO_CGROUP); -1 without a unified hierarchy.
  int unified_fd() const { return unified_fd_.get(); }
  // Puts `pid` into every hierarchy (skip_unified: it was cloned into it).
  void add_process(pid_t pid, bool skip_unified = false) const;
  // Puts `pid` into the unified hierarchy alone (it entered the v1 ones by
  // itself: CgroupEntry).
  void add_process_unified(pid_t pid) const;
  // Pids in the instance's cgroup.
  std::vector<pid_t> pids() const;
  // Makes this cgroup a member of every hierarchy an instance needing
  // `controllers` joins (CgroupLayout::joins) that it is not in yet, e.g. the
  // v1 cpu hierarchy for a cpu limit set by `mult update` on an instance
  // started without one. Makes the directories as create() does, then moves
  // every process of the instance into them: frozen meanwhile (freeze()),
  // so a fork is not lost, and checked again after the thaw. An instance
  // that was frozen stays frozen. The directories join dirs() (apply(),
  // stats(), remove() see them) and are owned when the rest is. Throws
  // Error; the directories it made are removed when no process was moved
  // yet, else they stay in dirs() (Cgroup::open finds them too). Nothing
  // for a cgroup without a path (an instance that has none).
  void join(const std::vector<std::string>& controllers);
  // SIGKILLs every process, even one forking in a loop: cgroup.kill on v2,
  // freeze, kill, thaw on v1.
  void kill_all() const;
  // Removes the directories (waits briefly for dying tasks) and the parents it
  // made when they are empty. Throws if a directory stays busy.
  void remove();
  // Stop owning: the directories outlive this object.
  void keep() { owned_.clear(); }
  // Take ownership of every directory of an opened cgroup (for rm).
  void adopt();

  const std::string& path() const { return path_; }
  // Absolute directories, one per hierarchy.
  const std::vector<std::string>& dirs() const { return dirs_; }

  // ---- freezing (cgroup_freeze.cc) ----
  // Freezes every process of the cgroup and waits until the kernel says it
  // is frozen: the v1 freezer (freezer.state FROZEN) when the cgroup is in
  // that hierarchy, else cgroup v2's cgroup.freeze. Throws Error when the
  // cgroup is in neither or it does not settle within a few seconds.
  void freeze() const;
  // Lets the processes run again (THAWED, cgroup.freeze 0).
  void thaw() const;
  // Whether the cgroup is frozen (or freezing): what freeze() asked for.
  bool frozen() const;

  // ---- limits and statistics (cgroup_limits.cc) ----
  // Writes every limit `r` sets, each in the hierarchy of its controller (its
  // v1 one, else the unified one), converting to cgroup v2 files there as the
  // runtime-spec says. Devices (on top of a default deny): a
  // BPF_CGROUP_DEVICE program on the unified directory where the cgroup has
  // one, also on a hybrid host (it replaces one an earlier apply()
  // attached), else the v1 devices controller. Throws Error naming the OCI
  // field ("memory.limit: ...") for a limit that cannot be set, including one
  // whose controller the host or this cgroup lacks. memory.kernel is
  // ignored (deprecated). `fresh`: the cgroup was just made, so it has no
  // device program yet to look for and replace.
  void apply(const Resources& r, bool fresh = false) const;
  // Usage and limits, read from wherever each controller is; never throws for
  // a missing controller or file (zeros).
  CgroupStats stats() const;
  // The OOM kills alone (what an ending instance reports): no other reads.
  uint64_t oom_kills() const;
  // Controllers an instance with `r` needs, for create(): any of "memory",
  // "cpu", "cpuset", "pids", "blkio" (the v1 name; v2 calls it io), "hugetlb",
  // "devices".
  static std::vector<std::string> controllers_for(const Resources& r);

 private:
  friend class CgroupEntry;
  // cgroup_limits.cc: this cgroup's directory where `controller` (v1 name) is
  // driven; *v2 tells whether it is the unified one. nullptr when it is in none.
  const std::string* limit_dir(std::string_view controller, bool* v2) const;
  const std::string* unified_leaf() const;
  // cgroup_freeze.cc: the file freeze() writes and whether it is cgroup v2's.
  std::string freeze_file(bool* v2) const;
  // nullptr: every hierarchy. (Named apart so that create(l, p, {}) means
  // "no controllers", not this.)
  static Cgroup create_in(const CgroupLayout& layout, const std::string& path,
                          const std::vector<std::string>* controllers);

  const CgroupLayout* layout_ = nullptr;
  std::string path_;
  std::vector<std::string> dirs_;
  std::vector<std::string> owned_;  // made by us, removed in reverse order
  bool adopted_ = false;            // remove() also tries the path's empty parents
  Fd unified_fd_;
};

// The v1 hierarchies of a new instance's cgroup, opened in mult before the
// clone so that the instance moves itself in (enter()) before it runs
// anything; it is cloned straight into the unified one. A thread that moves
// itself, writing "0" to a v1 `tasks` file, is moved without the global
// write lock a cgroup.procs write takes (cgroup_threadgroup_rwsem), whose
// percpu_down_write waits for an RCU grace period (~10 ms on this kind of
// host) unless it was taken just before: the kernel knows that the current
// thread cannot exit or exec under it. The files were opened by mult, so
// the kernel checks mult's credentials, also from inside a user namespace.
class CgroupEntry {
 public:
  CgroupEntry() = default;
  explicit CgroupEntry(const Cgroup& cg);
  // In the new process, while it has one thread: moves it into every
  // hierarchy opened (the files close on its exec). Changes nothing in
  // this object: a child sharing mult's memory may call it. Throws Error
  // naming the cgroup and directory.
  void enter() const;
  // Closes the files (mult, once the instance has its copies).
  void close() { tasks_.clear(); }

 private:
  std::string path_;
  std::vector<std::pair<Fd, std::string>> tasks_;  // a `tasks` file, its directory
};

// Default cgroup path of an instance: "mult/NAME".
std::string default_cgroup_path(const std::string& name);

// ---- conversions and command-line values (cgroup_limits.cc) ----

// cgroup v1 -> v2, as the runtime-spec's "cgroup v2 conversion" gives them.
// cpu.shares [2, 262144] -> cpu.weight [1, 10000] (values outside are clamped).
uint64_t cpu_shares_to_weight(uint64_t shares);
// blkio.weight [10, 1000] -> io.weight [1, 10000] (clamped likewise).
uint64_t blkio_weight_to_io_weight(uint64_t weight);

// The CFS period mult uses for --cpus, in microseconds.
inline constexpr uint64_t kCpuPeriod = 100000;
// The quota for `cpus` CPUs per `period`: cpus * period.
int64_t cpu_quota_for(double cpus, uint64_t period = kCpuPeriod);

// "256M", "1g", "512k", "1024", "1.5G", "2MB", "2MiB": bytes, K/M/G/T are
// powers of 1024, case-insensitive. Throws Error (kExitUsage) naming `option`:
// `--memory "12Q": unknown unit "Q" (use K, M, G, T)`.
int64_t parse_size(const std::string& value, const std::string& option);
// "0.5" -> 0.5 CPUs; at least 0.01 (a quota of 1000 us per 100 ms period).
double parse_cpus(const std::string& value, const std::string& option);
// "/dev/sda:10M" (a block device, resolved with stat) or "8:0:10M" ->
// ((major, minor), rate).
std::pair<std::pair<int64_t, int64_t>, uint64_t> parse_device_rate(const std::string& value,
                                                                   const std::string& option);

}  // namespace mult
