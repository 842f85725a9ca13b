// Seccomp: the default profile, compiling profiles with libseccomp, the cache
// of compiled programs, and installing a program.
#include "seccomp.hh"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "dl.hh"
#include "error.hh"
#include "fd.hh"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace mult {
namespace {

// ---- the default profile --------------------------------------------------

// Calls denied with EPERM unless the instance holds one of `caps` (never, if
// `caps` is empty).
struct DenyGroup {
  std::vector<const char*> caps;
  std::vector<const char*> names;
};

const std::vector<DenyGroup>& deny_groups() {
  static const std::vector<DenyGroup> groups = {
      // Kernel state no namespace covers: keyrings, page-fault handling
      // across processes, the i386 virtual-8086 mode.
      {{}, {"keyctl", "add_key", "request_key", "userfaultfd", "vm86", "vm86old"}},
      {{"CAP_SYS_MODULE"}, {"init_module", "finit_module", "delete_module"}},
      // Not CAP_SYS_BOOT: instances get it so that reboot(2) restarts them
      // (in a PID namespace it only ends that namespace's init), but a new
      // kernel is the host's business. Only SYS_MODULE holders (--privileged)
      // come close to that already.
      {{"CAP_SYS_MODULE"}, {"kexec_load", "kexec_file_load"}},
      {{"CAP_SYS_ADMIN"},
       {"mount", "umount", "umount2", "pivot_root", "setns", "fsopen", "fsconfig",
        "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
        "quotactl", "quotactl_fd", "lookup_dcookie", "name_to_handle_at",
        "swapon", "swapoff"}},
      {{"CAP_BPF", "CAP_SYS_ADMIN"}, {"bpf"}},
      {{"CAP_PERFMON", "CAP_SYS_ADMIN"}, {"perf_event_open"}},
      // The realtime clock is not namespaced. (adjtimex/clock_adjtime are
      // denied whole: their mode is inside a struct the filter cannot read.)
      {{"CAP_SYS_TIME"},
       {"settimeofday", "stime", "clock_settime", "clock_settime64",
        "clock_adjtime", "clock_adjtime64", "adjtimex"}},
      {{"CAP_SYS_RAWIO"}, {"iopl", "ioperm"}},
      {{"CAP_SYSLOG"}, {"syslog"}},
      {{"CAP_SYS_PACCT"}, {"acct"}},
      {{"CAP_DAC_READ_SEARCH"}, {"open_by_handle_at"}},
  };
  return groups;
}

Json errno_rule(std::vector<std::string> names, int err, Json args = Json::array()) {
  Json rule = {{"names", std::move(names)},
               {"action", "SCMP_ACT_ERRNO"},
               {"errnoRet", err}};
  if (!args.empty()) rule["args"] = std::move(args);
  return rule;
}

Json masked_eq(unsigned index, uint64_t mask, uint64_t value) {
  return {{"index", index},
          {"value", mask},
          {"valueTwo", value},
          {"op", "SCMP_CMP_MASKED_EQ"}};
}

// personality(2): deny every persona but PER_LINUX (0), PER_LINUX32 (0x8),
// UNAME26 (0x20000), PER_LINUX32|UNAME26 and the query 0xffffffff.
//
// The filter cannot say "arg0 not in a set": a libseccomp rule takes one
// comparison per argument, and the default action here is ALLOW. So the
// denied set D is written as a union of rules, each a single MASKED_EQ that
// fixes two bits of the low 32: "bit b set and bit c clear", with b a bit
// outside 0x20008 (a "bad" bit). Such a rule never matches an allowed value
// (those have no bad bit, or no clear bit), and every such value is in D.
// Conversely take x in D: it has a bad bit set and, not being 0xffffffff, a
// clear bit. The rules are the edges of a cycle through the 30 bad bits plus
// bad[0] -> 3 and bad[0] -> 17. If some bad bit of x is clear, walking the
// cycle from a set bad bit reaches a clear one, over an edge that matches x.
// Otherwise all bad bits are set and the clear bit is 3 or 17, matched by one
// of the two extra edges. 32 rules, all with the same action, so there is no
// question of which rule wins.
//
// The masks have no bit above 31: the kernel reads persona as an unsigned
// int, so garbage in the upper half of the register must not matter.
void add_personality_rules(Json& rules) {
  constexpr uint32_t kAllowedBits = 0x20008;
  std::vector<unsigned> bad;
  for (unsigned bit = 0; bit < 32; ++bit)
    if (!(kAllowedBits & (1u << bit))) bad.push_back(bit);
  auto deny = [&](unsigned set, unsigned clear) {
    uint64_t s = uint64_t{1} << set, c = uint64_t{1} << clear;
    rules.push_back(errno_rule({"personality"}, EPERM,
                               Json::array({masked_eq(0, s | c, s)})));
  };
  for (size_t i = 0; i < bad.size(); ++i) deny(bad[i], bad[(i + 1) % bad.size()]);
  deny(bad[0], 3);
  deny(bad[0], 17);
}

// Without CAP_SYS_ADMIN: no new namespaces. unshare(2) and clone(2) get
// EPERM when any CLONE_NEW* bit of their flags (arg0 on x86, arm and arm64)
// is set: one MASKED_EQ rule per bit, since "any of these bits" is not one
// comparison. CLONE_NEWTIME shares its bit with the exit signal in clone(),
// which cannot make a time namespace, so it is checked for unshare only.
// clone3(2) passes its flags in memory the filter cannot read: it fails with
// ENOSYS, and libc falls back to clone().
void add_namespace_rules(Json& rules) {
  const uint64_t clone_ns[] = {CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS,
                               CLONE_NEWIPC, CLONE_NEWUSER,   CLONE_NEWPID,
                               CLONE_NEWNET};
  for (uint64_t flag : clone_ns)
    rules.push_back(errno_rule({"unshare", "clone"}, EPERM,
                               Json::array({masked_eq(0, flag, flag)})));
  rules.push_back(errno_rule({"unshare"}, EPERM,
                             Json::array({masked_eq(0, CLONE_NEWTIME, CLONE_NEWTIME)})));
  rules.push_back(errno_rule({"clone3"}, ENOSYS));
}

// ---- libseccomp, loaded when a filter is compiled --------------------------
//
// A start whose filter is in the cache installs it with seccomp(2) alone.
// A static mult has libseccomp linked in (CMakeLists.txt); a dynamic one
// loads it (dlopen) only to compile a filter, so that the loader does not
// map and relocate it at every start of mult and mult-oci.
//
// The functions mult calls, named once: each F(name) is seccomp_<name>.
#define MULT_SECCOMP_FUNCTIONS(F) \
  F(init) F(release) F(arch_add) F(attr_set) F(syscall_resolve_name) F(rule_add_array) F(export_bpf)

// Weak references: null where the library is not part of the program.
#define MULT_PRAGMA(text) _Pragma(#text)
#define MULT_WEAK(name) MULT_PRAGMA(weak seccomp_##name)
MULT_SECCOMP_FUNCTIONS(MULT_WEAK)
#undef MULT_WEAK
#undef MULT_PRAGMA

struct SeccompApi {
#define MULT_POINTER(name) decltype(&::seccomp_##name) name;
  MULT_SECCOMP_FUNCTIONS(MULT_POINTER)
#undef MULT_POINTER
};

// Fills `api`; "" or why not.
std::string load_seccomp_api(SeccompApi& api) {
  if (&::seccomp_init != nullptr) {  // linked in
#define MULT_LINKED(name) api.name = &::seccomp_##name;
    MULT_SECCOMP_FUNCTIONS(MULT_LINKED)
#undef MULT_LINKED
    return "";
  }
#define MULT_LOOKUP(name) , std::pair{&api.name, "seccomp_" #name}
  return load_library("libseccomp.so.2" MULT_SECCOMP_FUNCTIONS(MULT_LOOKUP));
#undef MULT_LOOKUP
}

// Throws Error("linux.seccomp: libseccomp is not available: ...").
const SeccompApi& lib() {
  return loaded_once<SeccompApi, load_seccomp_api>("linux.seccomp: libseccomp is not available: ");
}

// ---- compiling ------------------------------------------------------------

struct CtxDeleter {
  void operator()(void* ctx) const { lib().release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

constexpr const char* kPrefix = "linux.seccomp";

uint32_t action_value(const std::string& action, std::optional<unsigned> errno_ret,
                      const std::string& where) {
  auto ret = [&]() -> uint16_t {
    unsigned v = errno_ret.value_or(EPERM);
    if (v > 0xffff)
      throw Error(where + ": errnoRet " + std::to_string(v) +
                  " out of range (at most 65535)");
    return static_cast<uint16_t>(v);
  };
  if (action == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (action == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret());
  if (action == "SCMP_ACT_KILL") return SCMP_ACT_KILL;
  if (action == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (action == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (action == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (action == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret());
  if (action == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (action == "SCMP_ACT_NOTIFY")
    throw Error(where + ": SCMP_ACT_NOTIFY is not supported");
  throw Error(where + ": unknown seccomp action \"" + action + "\"");
}

struct ArchName {
  const char* name;
  uint32_t token;
};
constexpr ArchName kArches[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
};

struct OpName {
  const char* name;
  scmp_compare op;
};
constexpr OpName kOps[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

// SECCOMP_FILTER_FLAG_* for a profile flag. WAIT_KILLABLE_RECV only means
// something with a notify listener, which is not supported, and the kernel
// refuses it without one: it is accepted and dropped.
unsigned flag_value(const std::string& flag, const std::string& where) {
  if (flag == "SECCOMP_FILTER_FLAG_TSYNC") return SECCOMP_FILTER_FLAG_TSYNC;
  if (flag == "SECCOMP_FILTER_FLAG_LOG") return SECCOMP_FILTER_FLAG_LOG;
  if (flag == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") return SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  if (flag == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") return 0;
  throw Error(where + ": unknown seccomp flag \"" + flag + "\"");
}

std::string lib_error(int rc) { return std::string("libseccomp: ") + std::strerror(-rc); }

// Adds `rule`; returns how many libseccomp rules that made.
size_t add_rule(void* ctx, uint32_t default_action, const SeccompRule& rule,
                const std::string& where) {
  uint32_t action = action_value(rule.action, rule.errno_ret, where);
  // libseccomp refuses a rule that does what the default does (EACCES);
  // such a rule changes nothing, so it is dropped.
  if (action == default_action) return 0;

  std::vector<scmp_arg_cmp> conds;
  unsigned per_index[6] = {};
  bool repeated = false;
  for (size_t k = 0; k < rule.args.size(); ++k) {
    const SeccompArg& a = rule.args[k];
    std::string arg_where = where + ".args[" + std::to_string(k) + "]";
    if (a.index > 5) throw Error(arg_where + ": index must be at most 5");
    auto op = std::find_if(std::begin(kOps), std::end(kOps),
                           [&](const OpName& o) { return a.op == o.name; });
    if (op == std::end(kOps))
      throw Error(arg_where + ": unknown operator \"" + a.op + "\"");
    // For MASKED_EQ, OCI's value is the mask and valueTwo the expected
    // value, as libseccomp's datum_a and datum_b.
    conds.push_back({a.index, op->op, a.value, a.value_two});
    repeated = repeated || ++per_index[a.index] > 1;
  }

  size_t added = 0;
  for (const std::string& name : rule.names) {
    int nr = lib().syscall_resolve_name(name.c_str());
    // Unknown to libseccomp on every architecture: profiles list calls that
    // newer kernels have; like runc, skip them.
    if (nr == __NR_SCMP_ERROR) continue;
    auto add = [&](unsigned n, const scmp_arg_cmp* c) {
      // Not _exact: libseccomp maps the call on each architecture of the
      // filter and skips architectures that lack it.
      int rc = lib().rule_add_array(ctx, action, nr, n, c);
      if (rc < 0) throw Error(where + ": " + name + ": " + lib_error(rc));
      ++added;
    };
    if (!repeated) {
      add(conds.size(), conds.data());
    } else {
      // libseccomp takes one comparison per argument in a rule. Profiles
      // written for runc compare one argument several times and mean "any
      // of these" (runc adds one rule per comparison then): do the same.
      for (const scmp_arg_cmp& c : conds) add(1, &c);
    }
  }
  return added;
}

Ctx build_filter(const Seccomp& profile, unsigned* flags) {
  const std::string def_where = std::string(kPrefix) + ".defaultAction";
  uint32_t def = action_value(profile.default_action, profile.default_errno_ret, def_where);
  Ctx ctx(lib().init(def));
  if (!ctx) throw Error(def_where + ": libseccomp refused default action " + profile.default_action);

  for (size_t i = 0; i < profile.architectures.size(); ++i) {
    std::string where = std::string(kPrefix) + ".architectures[" + std::to_string(i) + "]";
    const std::string& name = profile.architectures[i];
    auto arch = std::find_if(std::begin(kArches), std::end(kArches),
                             [&](const ArchName& a) { return name == a.name; });
    if (arch == std::end(kArches))
      throw Error(where + ": unknown architecture \"" + name + "\"");
    int rc = lib().arch_add(ctx.get(), arch->token);
    if (rc < 0 && rc != -EEXIST) throw Error(where + ": " + name + ": " + lib_error(rc));
  }

  *flags = 0;
  for (size_t i = 0; i < profile.flags.size(); ++i)
    *flags |= flag_value(profile.flags[i],
                         std::string(kPrefix) + ".flags[" + std::to_string(i) + "]");

  size_t rules = 0;
  for (size_t i = 0; i < profile.syscalls.size(); ++i)
    rules += add_rule(ctx.get(), def, profile.syscalls[i],
                      std::string(kPrefix) + ".syscalls[" + std::to_string(i) + "]");
  // A binary tree of call numbers instead of one comparison after another:
  // the kernel walks the filter for every call number when it is installed
  // (to find the calls always allowed), most of the install's cost. Not for
  // a handful of rules, where it gains nothing, nor for none: libseccomp up
  // to 2.5.3 then loses the default action. A libseccomp without the
  // attribute makes the same filter as a list.
  if (rules >= 8) (void)lib().attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  return ctx;
}

// Reads all of `fd` from offset 0.
std::string read_all(int fd, size_t size_hint) {
  std::string out;
  out.resize(size_hint);
  size_t got = 0;
  for (;;) {
    if (got == out.size()) out.resize(out.size() * 2 + 4096);
    ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("seccomp: reading the exported filter");
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

// ---- the cache ------------------------------------------------------------

constexpr char kCacheMagic[8] = {'M', 'U', 'L', 'T', 'B', 'P', 'F', '1'};
constexpr uint64_t kMaxCachedInsns = 1u << 20;

struct CacheHeader {
  char magic[8];
  uint32_t flags;
  uint32_t key_len;
  uint64_t insn_count;
  uint64_t checksum;  // hash64 of flags and instructions (the key is compared)
};

// FNV-1a taken a 64-bit word at a time (the tail zero-padded, the length
// mixed in), then a final avalanche (splitmix64's). Byte-wise FNV-1a costs
// ~4 ns a byte here, most of a cache hit. Nothing rests on the hash being
// strong: it names the file, and the file holds the whole key to compare.
uint64_t hash64(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  auto p = static_cast<const unsigned char*>(data);
  auto mix = [&](uint64_t w) { h = (h ^ w) * 0x100000001b3ull; };
  const uint64_t total = n;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    mix(w);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  mix(tail);
  mix(total);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

void put_dec(std::string& out, uint64_t v, char end) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  out += end;
}
void put_str(std::string& out, const std::string& s) {
  put_dec(out, s.size(), ':');
  out += s;
}
void put_num(std::string& out, uint64_t v) { put_dec(out, v, ','); }
void put_opt(std::string& out, const std::optional<unsigned>& v) {
  if (v) put_num(out, *v);
  else out += "-,";
}

// The GNU build ID of the object this code is linked into, in hex; empty
// when the linker wrote none. It names the code that makes and compiles
// profiles: a program cached by another build is never taken for this one's.
struct BuildIdSearch {
  uintptr_t inside;  // an address in the object
  std::string id;
};

int find_build_id(dl_phdr_info* info, size_t, void* arg) {
  auto* search = static_cast<BuildIdSearch*>(arg);
  bool ours = false;
  for (int i = 0; i < info->dlpi_phnum && !ours; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    ours = ph.p_type == PT_LOAD && search->inside >= start && search->inside - start < ph.p_memsz;
  }
  if (!ours) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    auto align4 = [](size_t n) { return (n + 3) & ~size_t{3}; };
    while (end - p >= static_cast<ptrdiff_t>(sizeof(ElfW(Nhdr)))) {
      ElfW(Nhdr) n;
      std::memcpy(&n, p, sizeof n);
      const char* name = p + sizeof n;
      const char* desc = name + align4(n.n_namesz);
      if (desc + n.n_descsz > end) break;
      if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        static const char hex[] = "0123456789abcdef";
        for (uint32_t b = 0; b < n.n_descsz; ++b) {
          auto c = static_cast<unsigned char>(desc[b]);
          search->id += hex[c >> 4];
          search->id += hex[c & 0xf];
        }
        return 1;
      }
      p = desc + align4(n.n_descsz);
    }
  }
  return 1;
}

const std::string& build_id() {
  static const std::string id = [] {
    BuildIdSearch search{reinterpret_cast<uintptr_t>(&find_build_id), {}};
    dl_iterate_phdr(find_build_id, &search);
    return search.id;
  }();
  return id;
}

// The architecture this binary runs as: libseccomp's seccomp_arch_native(),
// without loading libseccomp.
constexpr uint32_t native_arch() {
#if defined(__x86_64__) && defined(__ILP32__)
  return SCMP_ARCH_X32;
#elif defined(__x86_64__)
  return SCMP_ARCH_X86_64;
#elif defined(__i386__)
  return SCMP_ARCH_X86;
#elif defined(__aarch64__)
  return SCMP_ARCH_AARCH64;
#elif defined(__arm__)
  return SCMP_ARCH_ARM;
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return SCMP_ARCH_PPC64LE;
#elif defined(__powerpc64__)
  return SCMP_ARCH_PPC64;
#elif defined(__s390x__)
  return SCMP_ARCH_S390X;
#elif defined(__riscv) && __riscv_xlen == 64
  return SCMP_ARCH_RISCV64;
#else
  return 0;  // not known here: the build ID in the key still tells builds apart
#endif
}

// What decides a compiled program besides the profile: the code (its build
// ID), the libseccomp version and the native architecture.
std::string key_context() {
  std::string k = "mult-seccomp-cache 2\n";
  k += "build " + (build_id().empty() ? std::string("-") : build_id()) + "\n";
  // The libseccomp this was built against, and the architecture it was
  // built for: known without loading the library (a program cached by an
  // older libseccomp is still the same filter).
  k += "libseccomp " + std::to_string(SCMP_VER_MAJOR) + "." + std::to_string(SCMP_VER_MINOR) +
       "." + std::to_string(SCMP_VER_MICRO) + "\n";
  k += "native " + std::to_string(native_arch()) + "\n";
  return k;
}

// Every field of the profile, unambiguously (strings carry their length),
// after the context. The cache file holds the key whole and a load compares
// it whole, so a hash collision cannot hand out another profile's program.
std::string profile_key(const Seccomp& p) {
  std::string k = key_context();
  k.reserve(4096);
  k += "profile\n";
  put_str(k, p.default_action);
  put_opt(k, p.default_errno_ret);
  put_num(k, p.architectures.size());
  for (const auto& a : p.architectures) put_str(k, a);
  put_num(k, p.flags.size());
  for (const auto& f : p.flags) put_str(k, f);
  put_str(k, p.listener_path);
  put_num(k, p.syscalls.size());
  for (const SeccompRule& r : p.syscalls) {
    put_num(k, r.names.size());
    for (const auto& n : r.names) put_str(k, n);
    put_str(k, r.action);
    put_opt(k, r.errno_ret);
    put_num(k, r.args.size());
    for (const SeccompArg& a : r.args) {
      put_num(k, a.index);
      put_num(k, a.value);
      put_num(k, a.value_two);
      put_str(k, a.op);
    }
  }
  return k;
}

// The default profile is named by its capabilities (sorted, each once): the
// build ID stands for the code that turns them into rules. Without a build
// ID nothing does, and the key is the whole profile's.
std::string cache_key(const Seccomp& p) {
  if (!p.default_for_caps) return profile_key(p);
  if (build_id().empty()) return profile_key(expand_seccomp(p));
  std::vector<std::string> caps = *p.default_for_caps;
  std::sort(caps.begin(), caps.end());
  caps.erase(std::unique(caps.begin(), caps.end()), caps.end());
  std::string k = key_context();
  k += "default\n";
  put_num(k, caps.size());
  for (const auto& c : caps) put_str(k, c);
  return k;
}

std::string cache_file(const std::string& key, const std::string& dir) {
  static const char hex[] = "0123456789abcdef";
  uint64_t h = hash64(key.data(), key.size());
  std::string name(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) name[i] = hex[h & 0xf];
  return dir + "/" + name + ".bpf";
}

uint64_t checksum(uint32_t flags, const sock_filter* insns, size_t n) {
  return hash64(insns, n * sizeof(sock_filter), hash64(&flags, sizeof flags));
}

// The program cached at `path` for `key`; nothing if the file is missing,
// not ours, short, corrupt or for another key.
std::optional<SeccompProgram> read_cache(const std::string& path, const std::string& key) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  struct stat st;
  // Only a file we wrote: anyone able to plant one could switch the filter off.
  if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & 022) != 0)
    return std::nullopt;
  auto size = static_cast<uint64_t>(st.st_size);
  if (size < sizeof(CacheHeader) ||
      size > sizeof(CacheHeader) + key.size() + kMaxCachedInsns * sizeof(sock_filter))
    return std::nullopt;
  std::string data;
  try {
    data = read_all(fd.get(), size);
  } catch (const Error&) {
    return std::nullopt;
  }
  if (data.size() != size) return std::nullopt;
  CacheHeader h;
  std::memcpy(&h, data.data(), sizeof h);
  if (std::memcmp(h.magic, kCacheMagic, sizeof kCacheMagic) != 0 || h.key_len != key.size() ||
      h.insn_count == 0 || h.insn_count > kMaxCachedInsns ||
      size != sizeof h + h.key_len + h.insn_count * sizeof(sock_filter) ||
      data.compare(sizeof h, h.key_len, key) != 0)
    return std::nullopt;
  SeccompProgram p;
  p.flags = h.flags;
  p.insns.resize(h.insn_count);
  std::memcpy(p.insns.data(), data.data() + sizeof h + h.key_len,
              h.insn_count * sizeof(sock_filter));
  if (checksum(p.flags, p.insns.data(), p.insns.size()) != h.checksum) return std::nullopt;
  return p;
}

void write_all(int fd, const void* data, size_t n, const std::string& what) {
  auto p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw sys_error(what);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// mkdir -p, mode 0700 for what it makes.
void make_dirs(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) < 0 && errno != EEXIST) throw sys_error(part);
  }
}

void write_cache_file(const std::string& path, const std::string& key,
                      const SeccompProgram& p) {
  if (p.insns.empty() || p.insns.size() > kMaxCachedInsns)
    throw Error(path + ": bad program size " + std::to_string(p.insns.size()));
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) make_dirs(dir);
  std::string tmp = path + ".XXXXXX";
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));  // mode 0600
  if (!fd) throw sys_error(tmp);
  try {
    CacheHeader h;
    std::memcpy(h.magic, kCacheMagic, sizeof kCacheMagic);
    h.flags = p.flags;
    h.key_len = static_cast<uint32_t>(key.size());
    h.insn_count = p.insns.size();
    h.checksum = checksum(h.flags, p.insns.data(), p.insns.size());
    std::string data(reinterpret_cast<const char*>(&h), sizeof h);
    data += key;
    data.append(reinterpret_cast<const char*>(p.insns.data()),
                p.insns.size() * sizeof(sock_filter));
    write_all(fd.get(), data.data(), data.size(), tmp);
    // No fsync: a file torn by a crash fails the checks on load and is
    // compiled again, which is cheaper than an fsync on every start.
    if (::close(fd.release()) < 0) throw sys_error(tmp);
    if (::rename(tmp.c_str(), path.c_str()) < 0) throw sys_error(path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace

Json default_seccomp_profile_json(const std::vector<std::string>& granted_caps) {
  auto granted = [&](const char* cap) {
    return std::find(granted_caps.begin(), granted_caps.end(), cap) != granted_caps.end();
  };
  Json rules = Json::array();
  for (const DenyGroup& g : deny_groups()) {
    if (std::any_of(g.caps.begin(), g.caps.end(), granted)) continue;
    rules.push_back(errno_rule(std::vector<std::string>(g.names.begin(), g.names.end()), EPERM));
  }
  if (!granted("CAP_SYS_ADMIN")) add_namespace_rules(rules);
  add_personality_rules(rules);

  // Every ABI the kernel may enter the instance through: a call made through
  // an architecture missing here kills the caller.
#if defined(__x86_64__)
  Json arches = Json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"});
#elif defined(__aarch64__)
  Json arches = Json::array({"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"});
#else
  Json arches = Json::array();  // the native one only
#endif
  return {{"defaultAction", "SCMP_ACT_ALLOW"},
          {"architectures", std::move(arches)},
          {"syscalls", std::move(rules)}};
}

Seccomp default_seccomp(std::vector<std::string> granted_caps) {
  Seccomp s;
  s.default_for_caps = std::move(granted_caps);
  return s;
}

Seccomp expand_seccomp(const Seccomp& profile) {
  if (!profile.default_for_caps) return profile;
  return parse_seccomp(default_seccomp_profile_json(*profile.default_for_caps), kPrefix);
}

Json seccomp_json(const Seccomp& profile) {
  if (profile.default_for_caps) return default_seccomp_profile_json(*profile.default_for_caps);
  Json j = {{"defaultAction", profile.default_action}};
  if (profile.default_errno_ret) j["defaultErrnoRet"] = *profile.default_errno_ret;
  if (!profile.architectures.empty()) j["architectures"] = profile.architectures;
  if (!profile.flags.empty()) j["flags"] = profile.flags;
  if (!profile.listener_path.empty()) j["listenerPath"] = profile.listener_path;
  Json rules = Json::array();
  for (const SeccompRule& r : profile.syscalls) {
    Json rule = {{"names", r.names}, {"action", r.action}};
    if (r.errno_ret) rule["errnoRet"] = *r.errno_ret;
    if (!r.args.empty()) {
      rule["args"] = Json::array();
      for (const SeccompArg& a : r.args)
        rule["args"].push_back(
            {{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
    }
    rules.push_back(std::move(rule));
  }
  if (!rules.empty()) j["syscalls"] = std::move(rules);
  return j;
}

SeccompProgram compile_seccomp(const Seccomp& profile) {
  if (profile.default_for_caps) return compile_seccomp(expand_seccomp(profile));
  SeccompProgram p;
  Ctx ctx = build_filter(profile, &p.flags);
  Fd mem(static_cast<int>(::syscall(SYS_memfd_create, "mult-seccomp", MFD_CLOEXEC)));
  if (!mem) throw sys_error("seccomp: memfd_create");
  int rc = lib().export_bpf(ctx.get(), mem.get());
  if (rc < 0) throw Error(std::string(kPrefix) + ": exporting the filter: " + lib_error(rc));
  std::string bpf = read_all(mem.get(), 4096);
  if (bpf.empty() || bpf.size() % sizeof(sock_filter) != 0)
    throw Error(std::string(kPrefix) + ": libseccomp exported " + std::to_string(bpf.size()) +
                " bytes, not a BPF program");
  p.insns.resize(bpf.size() / sizeof(sock_filter));
  std::memcpy(p.insns.data(), bpf.data(), bpf.size());
  return p;
}

std::string seccomp_cache_path(const Seccomp& profile, const std::string& cache_dir) {
  return cache_file(cache_key(profile), cache_dir);
}

void write_seccomp_cache(const std::string& path, const Seccomp& profile,
                         const SeccompProgram& program) {
  write_cache_file(path, cache_key(profile), program);
}

SeccompProgram load_seccomp(const Seccomp& profile, const std::string& cache_dir) {
  if (cache_dir.empty()) return compile_seccomp(profile);
  std::string key = cache_key(profile);
  std::string path = cache_file(key, cache_dir);
  if (auto cached = read_cache(path, key)) return std::move(*cached);
  SeccompProgram p = compile_seccomp(profile);
  try {
    write_cache_file(path, key, p);
  } catch (const Error&) {
    // The cache only saves time: an unwritable one costs a compile per start.
  }
  return p;
}

void install_seccomp(const SeccompProgram& program) {
  if (program.insns.empty()) throw Error("seccomp: empty filter program");
  if (program.insns.size() > USHRT_MAX)
    throw Error("seccomp: filter program too long (" + std::to_string(program.insns.size()) +
                " instructions)");
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.insns.size());
  prog.filter = const_cast<sock_filter*>(program.insns.data());
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &prog);
  if (rc == 0) return;
  if (rc > 0)  // TSYNC: the id of a thread that could not take the filter
    throw Error("seccomp: thread " + std::to_string(rc) +
                " could not be synchronized (SECCOMP_FILTER_FLAG_TSYNC)");
  if (errno == EACCES)
    throw Error("seccomp: installing a filter requires no_new_privs or CAP_SYS_ADMIN");
  throw sys_error("seccomp: installing the filter (" + std::to_string(program.insns.size()) +
                  " instructions, flags " + std::to_string(program.flags) + ")");
}

Seccomp parse_seccomp_json(const Json& j, const std::string& where) {
  std::string prefix = where.empty() ? "" : where + ": ";
  if (!j.is_object()) throw Error(prefix + "expected a JSON object");
  try {
    return parse_seccomp(j, "");
  } catch (const Error& e) {
    throw Error(prefix + e.what(), e.code());
  }
}

}  // namespace mult
