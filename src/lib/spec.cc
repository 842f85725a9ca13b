// parse_spec(): validates an OCI runtime-spec (1.2) config.json and builds the
// typed Spec. Reading goes through Field, a cursor that carries the JSON path
// of the value it points at, so every error names the bad field.
#include "spec.hh"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

#include "error.hh"
#include "store.hh"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace mult {
namespace {

constexpr uint64_t kU16 = std::numeric_limits<uint16_t>::max();
constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();

std::string quote(const std::string& s) { return Json(s).dump(); }

bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

template <class List>
bool contains(const List& list, std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// A value in the document together with its JSON path. An absent field (a
// missing key, or null) is a Field with no value: optional readers return
// nothing for it, required readers fail with "missing".
class Field {
 public:
  Field(const Json* value, std::string path)
      : value_(value), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  bool present() const { return value_ != nullptr && !value_->is_null(); }
  bool is_array() const { return present() && value_->is_array(); }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ": " + what);
  }

  void require_present() const {
    if (!present()) fail("missing");
  }
  void require_object() const {
    require_present();
    if (!value_->is_object()) fail("expected an object");
  }

  // The member `name` of this object (absent if this field is absent).
  Field key(const std::string& name) const {
    std::string child = path_.empty() ? name : path_ + "." + name;
    if (!present()) return Field(nullptr, child);
    if (!value_->is_object()) fail("expected an object");
    auto it = value_->find(name);
    return Field(it == value_->end() ? nullptr : &*it, child);
  }

  // The elements of this array; none if absent.
  std::vector<Field> items() const {
    std::vector<Field> out;
    if (!present()) return out;
    if (!value_->is_array()) fail("expected an array");
    for (size_t i = 0; i < value_->size(); ++i)
      out.emplace_back(&(*value_)[i], path_ + "[" + std::to_string(i) + "]");
    return out;
  }

  // The members of this object (name, field); none if absent.
  std::vector<std::pair<std::string, Field>> members() const {
    std::vector<std::pair<std::string, Field>> out;
    if (!present()) return out;
    if (!value_->is_object()) fail("expected an object");
    for (auto it = value_->begin(); it != value_->end(); ++it) {
      const std::string& k = it.key();
      std::string child = is_identifier(k) ? path_ + "." + k
                                           : path_ + "[" + quote(k) + "]";
      out.emplace_back(k, Field(&it.value(), child));
    }
    return out;
  }

  std::string get_string() const {
    require_present();
    if (!value_->is_string()) fail("expected a string");
    return value_->get<std::string>();
  }

  bool get_bool() const {
    require_present();
    if (!value_->is_boolean()) fail("expected a boolean");
    return value_->get<bool>();
  }

  uint64_t get_uint(uint64_t max = std::numeric_limits<uint64_t>::max()) const {
    require_present();
    bool negative =
        value_->is_number_integer() && !value_->is_number_unsigned() &&
        value_->get<int64_t>() < 0;
    if (!value_->is_number_integer() || negative)
      fail("expected an unsigned integer");
    uint64_t v = value_->get<uint64_t>();
    if (v > max) fail("out of range (at most " + std::to_string(max) + ")");
    return v;
  }

  int64_t get_int(int64_t min = kI64Min, int64_t max = kI64Max) const {
    require_present();
    if (!value_->is_number_integer()) fail("expected an integer");
    if (value_->is_number_unsigned() &&
        value_->get<uint64_t>() > static_cast<uint64_t>(max))
      fail("out of range (at most " + std::to_string(max) + ")");
    int64_t v = value_->get<int64_t>();
    if (v < min || v > max) fail(range_text(min, max));
    return v;
  }

  // A string that names an absolute path.
  std::string get_abs_path() const {
    std::string s = get_string();
    if (s.empty() || s[0] != '/') fail("must be an absolute path");
    return s;
  }

  std::optional<std::string> opt_string() const {
    if (!present()) return std::nullopt;
    return get_string();
  }
  std::string string_or(const std::string& def) const {
    return present() ? get_string() : def;
  }
  std::optional<bool> opt_bool() const {
    if (!present()) return std::nullopt;
    return get_bool();
  }
  bool bool_or(bool def) const { return present() ? get_bool() : def; }
  std::optional<uint64_t> opt_uint(
      uint64_t max = std::numeric_limits<uint64_t>::max()) const {
    if (!present()) return std::nullopt;
    return get_uint(max);
  }
  std::optional<int64_t> opt_int(int64_t min = kI64Min,
                                 int64_t max = kI64Max) const {
    if (!present()) return std::nullopt;
    return get_int(min, max);
  }

  // An array of strings; empty if absent.
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    for (const Field& item : items()) out.push_back(item.get_string());
    return out;
  }
  // An array of absolute paths; empty if absent.
  std::vector<std::string> abs_paths() const {
    std::vector<std::string> out;
    for (const Field& item : items()) out.push_back(item.get_abs_path());
    return out;
  }
  // An object of string values; empty if absent.
  std::map<std::string, std::string> string_map() const {
    std::map<std::string, std::string> out;
    for (const auto& [name, value] : members()) out[name] = value.get_string();
    return out;
  }

 private:
  static std::string range_text(int64_t min, int64_t max) {
    if (min == kI64Min && max == kI64Max) return "out of range for int64";
    if (max == kI64Max) return "must be at least " + std::to_string(min);
    if (min == kI64Min) return "must be at most " + std::to_string(max);
    return "must be between " + std::to_string(min) + " and " +
           std::to_string(max);
  }

  const Json* value_;
  std::string path_;
};

// ---- name tables ----------------------------------------------------------

struct NamespaceKind {
  std::string_view name;
  int flag;
};
constexpr NamespaceKind kNamespaces[] = {
    {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET},
    {"mount", CLONE_NEWNS},  {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},   {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

struct RlimitKind {
  std::string_view name;
  int resource;
};
constexpr RlimitKind kRlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

// Indexed by capability number (linux/capability.h), 0 .. 40.
constexpr std::string_view kCapabilities[] = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",          "CAP_FSETID",         "CAP_KILL",
    "CAP_SETGID",          "CAP_SETUID",         "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",       "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",     "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",       "CAP_SYS_BOOT",       "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",           "CAP_LEASE",          "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",        "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",       "CAP_SYSLOG",         "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",
    "CAP_BPF",             "CAP_CHECKPOINT_RESTORE",
};

constexpr std::string_view kPropagations[] = {
    "shared",  "slave",  "private",  "unbindable",
    "rshared", "rslave", "rprivate", "runbindable",
};

constexpr std::string_view kSeccompActions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
};

constexpr std::string_view kSeccompArchitectures[] = {
    "SCMP_ARCH_X86",      "SCMP_ARCH_X86_64",      "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",      "SCMP_ARCH_AARCH64",     "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",   "SCMP_ARCH_MIPS64N32",   "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",    "SCMP_ARCH_PPC64LE",     "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",    "SCMP_ARCH_PARISC",      "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
};

constexpr std::string_view kSeccompFlags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

constexpr std::string_view kSeccompOperators[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};

// A string that must be one of `names`; `what` names the kind in the error.
template <class List>
std::string get_enum(const Field& f, const List& names, const char* what) {
  std::string s = f.get_string();
  if (!contains(names, s)) f.fail(std::string("unknown ") + what + " " + quote(s));
  return s;
}

// ---- top level ------------------------------------------------------------

std::string parse_oci_version(const Field& f) {
  std::string v = f.get_string();
  bool major_one = v.size() >= 3 && v.compare(0, 2, "1.") == 0 &&
                   std::isdigit(static_cast<unsigned char>(v[2]));
  if (!major_one) f.fail("unsupported version " + quote(v) + " (expected 1.x)");
  return v;
}

Root parse_root(const Field& f) {
  f.require_object();
  Root root;
  root.path = f.key("path").get_string();
  if (root.path.empty()) f.key("path").fail("must not be empty");
  root.readonly = f.key("readonly").bool_or(false);
  return root;
}

std::vector<Mount> parse_mounts(const Field& f) {
  std::vector<Mount> mounts;
  for (const Field& item : f.items()) {
    item.require_object();
    Mount m;
    m.destination = item.key("destination").get_abs_path();
    m.type = item.key("type").string_or("");
    m.source = item.key("source").string_or("");
    m.options = item.key("options").strings();
    mounts.push_back(std::move(m));
  }
  return mounts;
}

Hook parse_hook(const Field& f) {
  f.require_object();
  Hook h;
  h.path = f.key("path").get_abs_path();
  h.args = f.key("args").strings();
  h.env = f.key("env").strings();
  Field timeout = f.key("timeout");
  if (timeout.present()) {
    int64_t t = timeout.get_int(kI64Min, std::numeric_limits<int>::max());
    if (t <= 0) timeout.fail("must be greater than zero");
    h.timeout = static_cast<int>(t);
  }
  return h;
}

std::vector<Hook> parse_hook_list(const Field& f) {
  std::vector<Hook> hooks;
  for (const Field& item : f.items()) hooks.push_back(parse_hook(item));
  return hooks;
}

Hooks parse_hooks(const Field& f) {
  Hooks h;
  h.prestart = parse_hook_list(f.key("prestart"));
  h.create_runtime = parse_hook_list(f.key("createRuntime"));
  h.create_container = parse_hook_list(f.key("createContainer"));
  h.start_container = parse_hook_list(f.key("startContainer"));
  h.poststart = parse_hook_list(f.key("poststart"));
  h.poststop = parse_hook_list(f.key("poststop"));
  return h;
}

// ---- process --------------------------------------------------------------

User parse_user(const Field& f) {
  User u;
  if (!f.present()) return u;
  f.require_object();
  u.uid = f.key("uid").get_uint(kU32);
  u.gid = f.key("gid").get_uint(kU32);
  if (auto umask = f.key("umask").opt_uint(0777)) u.umask = *umask;
  for (const Field& g : f.key("additionalGids").items())
    u.additional_gids.push_back(g.get_uint(kU32));
  return u;
}

// process.args, seccomp names: an array of strings with at least one entry.
std::vector<std::string> nonempty_strings(const Field& f) {
  if (!f.is_array() || f.items().empty())
    f.fail("expected a non-empty array of strings");
  return f.strings();
}

std::vector<std::string> parse_env(const Field& f) {
  std::vector<std::string> env;
  for (const Field& item : f.items()) {
    std::string e = item.get_string();
    if (e.empty() || e[0] == '=' || e.find('=') == std::string::npos)
      item.fail("expected NAME=VALUE, got " + quote(e));
    env.push_back(std::move(e));
  }
  return env;
}

std::vector<std::string> parse_capability_set(const Field& f) {
  std::vector<std::string> caps;
  for (const Field& item : f.items())
    caps.push_back(get_enum(item, kCapabilities, "capability"));
  return caps;
}

Capabilities parse_capabilities(const Field& f) {
  f.require_object();
  Capabilities c;
  c.bounding = parse_capability_set(f.key("bounding"));
  c.effective = parse_capability_set(f.key("effective"));
  c.inheritable = parse_capability_set(f.key("inheritable"));
  c.permitted = parse_capability_set(f.key("permitted"));
  c.ambient = parse_capability_set(f.key("ambient"));
  return c;
}

Rlimit parse_rlimit(const Field& f) {
  f.require_object();
  Rlimit r;
  Field type = f.key("type");
  r.type = type.get_string();
  auto kind = std::find_if(std::begin(kRlimits), std::end(kRlimits),
                           [&](const RlimitKind& k) { return k.name == r.type; });
  if (kind == std::end(kRlimits)) type.fail("unknown rlimit " + quote(r.type));
  r.resource = kind->resource;
  r.soft = f.key("soft").get_uint();
  r.hard = f.key("hard").get_uint();
  if (r.soft > r.hard)
    f.key("soft").fail("exceeds the hard limit (" + std::to_string(r.soft) +
                       " > " + std::to_string(r.hard) + ")");
  return r;
}

std::vector<Rlimit> parse_rlimits(const Field& f) {
  std::vector<Rlimit> rlimits;
  std::set<std::string> seen;
  for (const Field& item : f.items()) {
    Rlimit r = parse_rlimit(item);
    if (!seen.insert(r.type).second)
      item.key("type").fail("duplicate rlimit " + quote(r.type));
    rlimits.push_back(std::move(r));
  }
  return rlimits;
}

Process parse_process(const Field& f) {
  f.require_object();
  Process p;
  p.terminal = f.key("terminal").bool_or(false);
  if (Field size = f.key("consoleSize"); size.present()) {
    size.require_object();
    p.console_height = size.key("height").get_uint(kU32);
    p.console_width = size.key("width").get_uint(kU32);
  }
  p.user = parse_user(f.key("user"));
  p.args = nonempty_strings(f.key("args"));
  p.env = parse_env(f.key("env"));
  p.cwd = f.key("cwd").get_abs_path();
  if (Field caps = f.key("capabilities"); caps.present())
    p.capabilities = parse_capabilities(caps);
  p.rlimits = parse_rlimits(f.key("rlimits"));
  p.no_new_privileges = f.key("noNewPrivileges").bool_or(false);
  if (auto adj = f.key("oomScoreAdj").opt_int(-1000, 1000))
    p.oom_score_adj = static_cast<int>(*adj);
  p.apparmor_profile = f.key("apparmorProfile").string_or("");
  p.selinux_label = f.key("selinuxLabel").string_or("");
  return p;
}

// ---- linux: namespaces, ids, devices --------------------------------------

std::vector<Namespace> parse_namespaces(const Field& f) {
  std::vector<Namespace> out;
  std::set<std::string> seen;
  for (const Field& item : f.items()) {
    item.require_object();
    Namespace ns;
    Field type = item.key("type");
    ns.type = type.get_string();
    if (namespace_flag(ns.type) == 0)
      type.fail("unknown namespace " + quote(ns.type));
    if (!seen.insert(ns.type).second)
      type.fail("duplicate namespace " + quote(ns.type));
    if (Field path = item.key("path"); path.present()) ns.path = path.get_abs_path();
    out.push_back(std::move(ns));
  }
  return out;
}

std::vector<IdMapping> parse_id_mappings(const Field& f) {
  std::vector<IdMapping> out;
  for (const Field& item : f.items()) {
    item.require_object();
    IdMapping m;
    m.container_id = item.key("containerID").get_uint(kU32);
    m.host_id = item.key("hostID").get_uint(kU32);
    m.size = item.key("size").get_uint(kU32);
    if (m.size == 0) item.key("size").fail("must be greater than zero");
    out.push_back(m);
  }
  return out;
}

Device parse_device(const Field& f) {
  f.require_object();
  Device d;
  d.path = f.key("path").get_abs_path();
  Field type = f.key("type");
  std::string t = type.get_string();
  if (t.size() != 1 || std::string_view("cbup").find(t[0]) == std::string_view::npos)
    type.fail("unknown device type " + quote(t) + " (expected c, b, u or p)");
  d.type = t[0];
  if (d.type != 'p' || f.key("major").present())
    d.major = f.key("major").get_int(0);
  if (d.type != 'p' || f.key("minor").present())
    d.minor = f.key("minor").get_int(0);
  if (auto mode = f.key("fileMode").opt_uint(07777)) d.file_mode = *mode;
  if (auto uid = f.key("uid").opt_uint(kU32)) d.uid = *uid;
  if (auto gid = f.key("gid").opt_uint(kU32)) d.gid = *gid;
  return d;
}

std::vector<Device> parse_devices(const Field& f) {
  std::vector<Device> out;
  for (const Field& item : f.items()) out.push_back(parse_device(item));
  return out;
}

// ---- linux.resources ------------------------------------------------------

DeviceRule parse_device_rule(const Field& f) {
  f.require_object();
  DeviceRule r;
  r.allow = f.key("allow").get_bool();
  Field type = f.key("type");
  r.type = type.string_or("a");
  if (r.type != "a" && r.type != "b" && r.type != "c")
    type.fail("unknown device type " + quote(r.type) + " (expected a, b or c)");
  r.major = f.key("major").opt_int(-1);
  r.minor = f.key("minor").opt_int(-1);
  Field access = f.key("access");
  r.access = access.string_or("rwm");
  if (r.access.find_first_not_of("rwm") != std::string::npos)
    access.fail("expected a combination of r, w and m, got " + quote(r.access));
  return r;
}

void parse_memory(const Field& f, Resources& r) {
  r.memory_limit = f.key("limit").opt_int(-1);
  r.memory_reservation = f.key("reservation").opt_int(-1);
  r.memory_swap = f.key("swap").opt_int(-1);
  r.memory_kernel = f.key("kernel").opt_int(-1);
  r.memory_kernel_tcp = f.key("kernelTCP").opt_int(-1);
  r.memory_swappiness = f.key("swappiness").opt_uint(100);
  r.disable_oom_killer = f.key("disableOOMKiller").opt_bool();
  r.use_hierarchy = f.key("useHierarchy").opt_bool();
}

void parse_cpu(const Field& f, Resources& r) {
  r.cpu_shares = f.key("shares").opt_uint();
  r.cpu_quota = f.key("quota").opt_int(-1);
  r.cpu_period = f.key("period").opt_uint();
  r.cpu_realtime_runtime = f.key("realtimeRuntime").opt_int(-1);
  r.cpu_realtime_period = f.key("realtimePeriod").opt_uint();
  r.cpu_cpus = f.key("cpus").opt_string();
  r.cpu_mems = f.key("mems").opt_string();
  r.cpu_idle = f.key("idle").opt_int();
}

std::vector<ThrottleDevice> parse_throttle_devices(const Field& f) {
  std::vector<ThrottleDevice> out;
  for (const Field& item : f.items()) {
    item.require_object();
    ThrottleDevice d;
    d.major = item.key("major").get_int(0);
    d.minor = item.key("minor").get_int(0);
    d.rate = item.key("rate").get_uint();
    out.push_back(d);
  }
  return out;
}

std::vector<WeightDevice> parse_weight_devices(const Field& f) {
  std::vector<WeightDevice> out;
  for (const Field& item : f.items()) {
    item.require_object();
    WeightDevice d;
    d.major = item.key("major").get_int(0);
    d.minor = item.key("minor").get_int(0);
    d.weight = item.key("weight").opt_uint(kU16);
    d.leaf_weight = item.key("leafWeight").opt_uint(kU16);
    out.push_back(d);
  }
  return out;
}

void parse_block_io(const Field& f, Resources& r) {
  r.blkio_weight = f.key("weight").opt_uint(kU16);
  r.blkio_leaf_weight = f.key("leafWeight").opt_uint(kU16);
  r.blkio_weight_device = parse_weight_devices(f.key("weightDevice"));
  r.throttle_read_bps = parse_throttle_devices(f.key("throttleReadBpsDevice"));
  r.throttle_write_bps = parse_throttle_devices(f.key("throttleWriteBpsDevice"));
  r.throttle_read_iops = parse_throttle_devices(f.key("throttleReadIOPSDevice"));
  r.throttle_write_iops =
      parse_throttle_devices(f.key("throttleWriteIOPSDevice"));
}

std::map<std::string, uint64_t> parse_hugepage_limits(const Field& f) {
  std::map<std::string, uint64_t> out;
  for (const Field& item : f.items()) {
    item.require_object();
    Field size = item.key("pageSize");
    std::string page_size = size.get_string();
    if (page_size.empty()) size.fail("must not be empty");
    if (out.count(page_size)) size.fail("duplicate page size " + quote(page_size));
    out[page_size] = item.key("limit").get_uint();
  }
  return out;
}

Resources parse_resources(const Field& f) {
  f.require_object();
  Resources r;
  for (const Field& item : f.key("devices").items())
    r.devices.push_back(parse_device_rule(item));
  parse_memory(f.key("memory"), r);
  parse_cpu(f.key("cpu"), r);
  if (Field pids = f.key("pids"); pids.present())
    r.pids_limit = pids.key("limit").get_int(-1);
  parse_block_io(f.key("blockIO"), r);
  r.hugepage_limits = parse_hugepage_limits(f.key("hugepageLimits"));
  if (Field net = f.key("network"); net.present()) {
    net.require_object();
    if (Field id = net.key("classID"); id.present()) r.net_class_id = uint32_t(id.get_uint(kU32));
    for (const Field& p : net.key("priorities").items()) {
      p.require_object();
      Field name = p.key("name");
      std::string iface = name.get_string();
      // One line "NAME PRIO" of net_prio.ifpriomap: an interface name.
      if (iface.empty() || iface.size() > 15 || iface.find_first_of(" \t\n/:") != std::string::npos)
        name.fail("not an interface name: " + quote(iface));
      r.net_priorities.emplace_back(iface, uint32_t(p.key("priority").get_uint(kU32)));
    }
  }
  r.unified = f.key("unified").string_map();
  return r;
}

// ---- linux.seccomp --------------------------------------------------------

bool action_takes_errno(const std::string& action) {
  return action == "SCMP_ACT_ERRNO" || action == "SCMP_ACT_TRACE";
}

// errnoRet/defaultErrnoRet: only for actions that return an errno.
std::optional<unsigned> parse_errno_ret(const Field& f, const std::string& action) {
  if (!f.present()) return std::nullopt;
  auto ret = static_cast<unsigned>(f.get_uint(kU32));
  if (!action_takes_errno(action))
    f.fail("not allowed with action " + action);
  return ret;
}

SeccompArg parse_seccomp_arg(const Field& f) {
  f.require_object();
  SeccompArg a;
  a.index = f.key("index").get_uint(5);
  a.value = f.key("value").get_uint();
  a.value_two = f.key("valueTwo").opt_uint().value_or(0);
  a.op = get_enum(f.key("op"), kSeccompOperators, "operator");
  return a;
}

SeccompRule parse_seccomp_rule(const Field& f) {
  f.require_object();
  SeccompRule rule;
  rule.names = nonempty_strings(f.key("names"));
  rule.action = get_enum(f.key("action"), kSeccompActions, "seccomp action");
  rule.errno_ret = parse_errno_ret(f.key("errnoRet"), rule.action);
  for (const Field& arg : f.key("args").items())
    rule.args.push_back(parse_seccomp_arg(arg));
  return rule;
}

Seccomp parse_seccomp(const Field& f) {
  f.require_object();
  Seccomp s;
  Field def = f.key("defaultAction");
  s.default_action = get_enum(def, kSeccompActions, "seccomp action");
  if (s.default_action == "SCMP_ACT_NOTIFY")
    def.fail("SCMP_ACT_NOTIFY cannot be the default action");
  s.default_errno_ret = parse_errno_ret(f.key("defaultErrnoRet"), s.default_action);
  for (const Field& item : f.key("architectures").items())
    s.architectures.push_back(get_enum(item, kSeccompArchitectures, "architecture"));
  for (const Field& item : f.key("flags").items())
    s.flags.push_back(get_enum(item, kSeccompFlags, "seccomp flag"));
  s.listener_path = f.key("listenerPath").string_or("");
  bool notify = false;
  for (const Field& item : f.key("syscalls").items()) {
    s.syscalls.push_back(parse_seccomp_rule(item));
    notify = notify || s.syscalls.back().action == "SCMP_ACT_NOTIFY";
  }
  if (notify && s.listener_path.empty())
    f.key("listenerPath").fail("required when SCMP_ACT_NOTIFY is used");
  return s;
}

// annotations["org.mult.seccomp"] = "default": mult's default profile, made
// for what the process may ever hold (its bounding set), in place of a
// linux.seccomp object. The spec stays small, and a start whose compiled
// filter is cached never makes the profile's rules.
void parse_seccomp_annotation(Spec& s) {
  auto it = s.annotations.find(kAnnotationSeccomp);
  if (it == s.annotations.end()) return;
  std::string where = std::string("annotations[") + quote(kAnnotationSeccomp) + "]";
  if (it->second != "default")
    throw Error(where + ": unknown seccomp profile " + quote(it->second) + " (expected \"default\")");
  if (s.linux.seccomp) throw Error(where + ": conflicts with linux.seccomp (give one of them)");
  Seccomp d;
  d.default_for_caps.emplace();
  if (s.process && s.process->capabilities) *d.default_for_caps = s.process->capabilities->bounding;
  s.linux.seccomp = std::move(d);
}

// ---- linux: the rest ------------------------------------------------------

std::string parse_personality(const Field& f) {
  f.require_object();
  Field domain = f.key("domain");
  std::string d = domain.get_string();
  if (d != "LINUX" && d != "LINUX32")
    domain.fail("unknown domain " + quote(d) + " (expected LINUX or LINUX32)");
  f.key("flags").strings();  // no flags are defined yet; check the type only
  return d;
}

std::map<std::string, std::pair<int64_t, uint32_t>> parse_time_offsets(
    const Field& f) {
  std::map<std::string, std::pair<int64_t, uint32_t>> out;
  for (const auto& [clock, value] : f.members()) {
    if (clock != "monotonic" && clock != "boottime")
      value.fail("unknown clock " + quote(clock) + " (expected monotonic or boottime)");
    value.require_object();
    int64_t secs = value.key("secs").opt_int().value_or(0);
    auto nanos = value.key("nanosecs").opt_uint(999999999).value_or(0);
    out[clock] = {secs, static_cast<uint32_t>(nanos)};
  }
  return out;
}

Linux parse_linux(const Field& f) {
  Linux l;
  if (!f.present()) return l;
  f.require_object();
  l.namespaces = parse_namespaces(f.key("namespaces"));
  l.uid_mappings = parse_id_mappings(f.key("uidMappings"));
  l.gid_mappings = parse_id_mappings(f.key("gidMappings"));
  l.devices = parse_devices(f.key("devices"));
  l.cgroups_path = f.key("cgroupsPath").string_or("");
  if (Field res = f.key("resources"); res.present())
    l.resources = parse_resources(res);
  l.sysctl = f.key("sysctl").string_map();
  l.masked_paths = f.key("maskedPaths").abs_paths();
  l.readonly_paths = f.key("readonlyPaths").abs_paths();
  if (Field prop = f.key("rootfsPropagation"); prop.present())
    l.rootfs_propagation = get_enum(prop, kPropagations, "propagation");
  if (Field sec = f.key("seccomp"); sec.present()) l.seccomp = parse_seccomp(sec);
  if (Field pers = f.key("personality"); pers.present())
    l.personality = parse_personality(pers);
  l.time_offsets = parse_time_offsets(f.key("timeOffsets"));
  l.mount_label = f.key("mountLabel").string_or("");
  if (Field rdt = f.key("intelRdt"); rdt.present()) {
    rdt.require_object();
    l.has_intel_rdt = true;
  }
  return l;
}

// Rules that tie fields in different parts of the document together.
void check_cross_fields(const Spec& s) {
  bool uts = s.linux.has_namespace("uts");
  if (!s.hostname.empty() && !uts)
    throw Error("hostname: requires a new uts namespace");
  if (!s.domainname.empty() && !uts)
    throw Error("domainname: requires a new uts namespace");
  if (!s.linux.time_offsets.empty() && !s.linux.has_namespace("time"))
    throw Error("linux.timeOffsets: requires a time namespace");
}

}  // namespace

int namespace_flag(const std::string& type) {
  for (const auto& ns : kNamespaces)
    if (ns.name == type) return ns.flag;
  return 0;
}

Seccomp parse_seccomp(const Json& j, const std::string& path_prefix) {
  return parse_seccomp(Field(&j, path_prefix));
}

bool Linux::has_namespace(const std::string& type) const {
  return find_namespace(type) != nullptr;
}

const Namespace* Linux::find_namespace(const std::string& type) const {
  for (const auto& ns : namespaces)
    if (ns.type == type) return &ns;
  return nullptr;
}

bool Resources::empty() const {
  return devices.empty() && !memory_limit && !memory_reservation &&
         !memory_swap && !memory_kernel && !memory_kernel_tcp &&
         !memory_swappiness && !disable_oom_killer && !use_hierarchy &&
         !cpu_shares && !cpu_period && !cpu_realtime_period && !cpu_quota &&
         !cpu_realtime_runtime && !cpu_idle && !cpu_cpus && !cpu_mems &&
         !pids_limit && !blkio_weight && !blkio_leaf_weight &&
         blkio_weight_device.empty() && throttle_read_bps.empty() &&
         throttle_write_bps.empty() && throttle_read_iops.empty() &&
         throttle_write_iops.empty() && hugepage_limits.empty() &&
         !net_class_id && net_priorities.empty() && unified.empty();
}

Spec parse_spec(const Json& doc) {
  if (!doc.is_object()) throw Error("config: expected a JSON object");
  Field top(&doc, "");
  Spec s;
  s.oci_version = parse_oci_version(top.key("ociVersion"));
  s.root = parse_root(top.key("root"));
  if (Field process = top.key("process"); process.present())
    s.process = parse_process(process);
  s.hostname = top.key("hostname").string_or("");
  s.domainname = top.key("domainname").string_or("");
  s.mounts = parse_mounts(top.key("mounts"));
  s.hooks = parse_hooks(top.key("hooks"));
  s.annotations = top.key("annotations").string_map();
  s.linux = parse_linux(top.key("linux"));
  parse_seccomp_annotation(s);
  check_cross_fields(s);
  return s;
}

Spec load_spec_file(const std::string& path) {
  std::string text;
  if (int err = try_read_file(path, text)) throw sys_error(path, err);
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const Json::parse_error& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " tag.
    std::string detail = e.what();
    if (auto end = detail.find("] "); detail.rfind("[json.", 0) == 0 &&
                                      end != std::string::npos)
      detail.erase(0, end + 2);
    throw Error(path + ": invalid JSON: " + detail);
  }
  try {
    return parse_spec(doc);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what(), e.code());
  }
}

std::vector<std::string> all_capabilities() {
  return {std::begin(kCapabilities), std::end(kCapabilities)};
}

}  // namespace mult
