// The instance spec: the OCI runtime-spec config.json (1.2), the one model of
// an instance. parse_spec() validates a JSON document and turns it into the
// typed Spec below; every error names the JSON path of the bad field.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mult {

using Json = nlohmann::ordered_json;

inline constexpr const char* kOciVersion = "1.2.0";

struct Rlimit {
  int resource = 0;  // RLIMIT_* number
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t soft = 0, hard = 0;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct User {
  uid_t uid = 0;
  gid_t gid = 0;
  std::optional<mode_t> umask;
  std::vector<gid_t> additional_gids;
};

struct Process {
  bool terminal = false;
  unsigned console_width = 0, console_height = 0;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile;
  std::string selinux_label;
};

struct Root {
  std::string path;
  bool readonly = false;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct Namespace {
  std::string type;  // pid network mount ipc uts user cgroup time
  std::string path;  // join this one instead of making a new one
};

struct IdMapping {
  uint32_t container_id = 0, host_id = 0, size = 0;
};

struct Device {
  std::string path;
  char type = 'c';  // c, b, u or p
  int64_t major = 0, minor = 0;
  std::optional<mode_t> file_mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

struct DeviceRule {
  bool allow = false;
  std::string type = "a";  // a, c or b
  std::optional<int64_t> major, minor;
  std::string access = "rwm";
};

struct ThrottleDevice {
  int64_t major = 0, minor = 0;
  uint64_t rate = 0;
};

struct WeightDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint16_t> weight, leaf_weight;
};

struct Resources {
  std::vector<DeviceRule> devices;
  // memory
  std::optional<int64_t> memory_limit, memory_reservation, memory_swap,
      memory_kernel, memory_kernel_tcp;
  std::optional<uint64_t> memory_swappiness;
  std::optional<bool> disable_oom_killer, use_hierarchy;
  // cpu
  std::optional<uint64_t> cpu_shares, cpu_period, cpu_realtime_period;
  std::optional<int64_t> cpu_quota, cpu_realtime_runtime, cpu_idle;
  std::optional<std::string> cpu_cpus, cpu_mems;
  // pids
  std::optional<int64_t> pids_limit;
  // block I/O
  std::optional<uint16_t> blkio_weight, blkio_leaf_weight;
  std::vector<WeightDevice> blkio_weight_device;
  std::vector<ThrottleDevice> throttle_read_bps, throttle_write_bps,
      throttle_read_iops, throttle_write_iops;
  // hugetlb: page size ("2MB") -> limit in bytes
  std::map<std::string, uint64_t> hugepage_limits;
  // network (v1 net_cls, net_prio): class id; interface -> priority
  std::optional<uint32_t> net_class_id;
  std::vector<std::pair<std::string, uint32_t>> net_priorities;
  // cgroup v2 files written as they are
  std::map<std::string, std::string> unified;
  bool empty() const;
};

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0, value_two = 0;
  std::string op;
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;
  std::optional<unsigned> errno_ret;
  std::vector<SeccompArg> args;
};

// The annotation by which a spec asks for mult's default seccomp profile
// ("default") instead of listing a profile in linux.seccomp.
inline constexpr const char* kAnnotationSeccomp = "org.mult.seccomp";

struct Seccomp {
  // Set for mult's default profile, asked for by kAnnotationSeccomp: the
  // capabilities it is made for (the process's bounding set). The fields
  // below are empty then: seccomp.cc makes the rules only when no compiled
  // program is cached (expand_seccomp()).
  std::optional<std::vector<std::string>> default_for_caps;
  std::string default_action;
  std::optional<unsigned> default_errno_ret;
  std::vector<std::string> architectures;
  std::vector<std::string> flags;
  std::string listener_path;
  std::vector<SeccompRule> syscalls;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string rootfs_propagation;
  std::optional<Seccomp> seccomp;
  std::optional<std::string> personality;  // LINUX or LINUX32
  std::map<std::string, std::pair<int64_t, uint32_t>> time_offsets;  // clock -> (secs, nanosecs)
  std::string mount_label;
  bool has_intel_rdt = false;

  bool has_namespace(const std::string& type) const;
  const Namespace* find_namespace(const std::string& type) const;
};

struct Hook {
  std::string path;
  std::vector<std::string> args, env;
  std::optional<int> timeout;
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container,
      poststart, poststop;
  // Hooks that run before the container's process execs (and may look at
  // its namespaces then).
  bool any_before_exec() const {
    return !prestart.empty() || !create_runtime.empty() || !create_container.empty() ||
           !start_container.empty();
  }
};

struct Spec {
  std::string oci_version;
  std::optional<Process> process;
  Root root;
  std::string hostname, domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  Linux linux;
};

// Validates `doc` and returns the typed spec. Throws Error whose message starts
// with the JSON path of the first bad field: `linux.namespaces[2].type: ...`.
Spec parse_spec(const Json& doc);

// Reads and parses a config.json file; errors name the file as well.
Spec load_spec_file(const std::string& path);

// The default spec of a new instance, as the runtime-spec's defaults and
// `runc spec` give it: every namespace but user, /proc, /dev, /dev/pts,
// /dev/shm, /dev/mqueue, /sys read-only, masked and read-only paths.
Json default_spec_json();

// Validates an OCI linux.seccomp object (the same reader parse_spec() uses
// for linux.seccomp). Errors start with `path_prefix` as the JSON path of `j`:
// parse_seccomp(j, "linux.seccomp") fails with "linux.seccomp.defaultAction: ...".
Seccomp parse_seccomp(const Json& j, const std::string& path_prefix);

// Every capability name this build knows, CAP_CHOWN .. CAP_CHECKPOINT_RESTORE.
std::vector<std::string> all_capabilities();

// Namespace type name -> CLONE_NEW* flag; 0 if unknown.
int namespace_flag(const std::string& type);

}  // namespace mult
