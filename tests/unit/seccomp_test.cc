// Unit tests for the seccomp module: the default profile, compiling, the
// cache, installing. Filters are installed in forked children only (the test
// process stays unfiltered); a child reports each failed check as a line on a
// pipe and the parent asserts there are none.
#include "seccomp.hh"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "error.hh"
#include "spec.hh"

namespace mult {
namespace {

const std::vector<std::string> kDefaultCaps = {
    "CAP_CHOWN",      "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",      "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP",    "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",       "CAP_AUDIT_WRITE",
};

Seccomp default_profile(const std::vector<std::string>& caps = kDefaultCaps) {
  return parse_seccomp(default_seccomp_profile_json(caps), "linux.seccomp");
}

// Every syscall name the profile's rules list.
std::set<std::string> rule_names(const Json& profile) {
  std::set<std::string> out;
  for (const Json& rule : profile["syscalls"])
    for (const Json& n : rule["names"]) out.insert(n.get<std::string>());
  return out;
}

// Checks made inside a child; each failure is one line on the pipe.
class Checks {
 public:
  explicit Checks(int fd) : fd_(fd) {}
  void fail(const std::string& what) {
    std::string line = what + "\n";
    if (::write(fd_, line.data(), line.size()) < 0) _exit(99);
  }
  // `rc` is what a libc call returned (-1 + errno on failure); `want` is the
  // errno expected, 0 for success.
  void expect(const std::string& what, long rc, int want) {
    int err = errno;
    if (want == 0 && rc < 0)
      fail(what + ": failed with " + strerrorname(err));
    else if (want != 0 && rc >= 0)
      fail(what + ": succeeded, expected " + strerrorname(want));
    else if (want != 0 && err != want)
      fail(what + ": failed with " + strerrorname(err) + ", expected " + strerrorname(want));
  }
  // `rc` is a raw kernel return value (-errno on failure).
  void expect_raw(const std::string& what, long rc, int want) {
    if (rc < 0 && rc > -4096) {
      errno = static_cast<int>(-rc);
      expect(what, -1, want);
    } else {
      expect(what, rc, want);
    }
  }

 private:
  static std::string strerrorname(int e) {
    return std::to_string(e) + " (" + std::strerror(e) + ")";
  }
  int fd_;
};

// Runs `body` in a forked child; returns the failures it reported plus a line
// if it did not exit 0.
std::string in_child(const std::function<void(Checks&)>& body) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(p[0]);
    Checks checks(p[1]);
    try {
      body(checks);
    } catch (const std::exception& e) {
      checks.fail(std::string("exception: ") + e.what());
    }
    _exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status))
    out += "child killed by signal " + std::to_string(WTERMSIG(status)) + "\n";
  else if (WEXITSTATUS(status) != 0)
    out += "child exited " + std::to_string(WEXITSTATUS(status)) + "\n";
  return out;
}

// The way of a child into its own mount namespace, so that a mount the filter
// fails to stop cannot touch the host; then no_new_privs and the filter.
void sandbox(Checks& c, const SeccompProgram& prog) {
  c.expect("unshare(CLONE_NEWNS) before the filter", unshare(CLONE_NEWNS), 0);
  c.expect("making / private", mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
  c.expect("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  install_seccomp(prog);
}

#if defined(__x86_64__)
// A system call through the i386 entry point.
long int80(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
               : "memory", "cc", "r8", "r9", "r10", "r11");
  return ret;
}

// Whether the kernel runs i386 system calls (IA32 emulation may be off).
bool have_ia32() {
  pid_t pid = fork();
  if (pid == 0) _exit(int80(20 /* i386 getpid */) == getpid() ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif

// ---- a classic BPF interpreter, to read compiled filters ------------------

// What the kernel hands a filter (struct seccomp_data).
struct CallData {
  uint32_t nr;
  uint32_t arch;
  uint64_t ip;
  uint64_t args[6];
};

// Runs `prog` on `data` as the kernel would; throws on an instruction it
// does not know (so a new kind of filter fails the test instead of passing).
uint32_t run_filter(const std::vector<sock_filter>& prog, const CallData& data) {
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  auto word = [&](uint32_t off) {
    if (off % 4 != 0 || off + 4 > sizeof data) throw std::runtime_error("bad load offset");
    uint32_t w;
    std::memcpy(&w, reinterpret_cast<const char*>(&data) + off, 4);
    return w;
  };
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& i = prog[pc];
    auto jump = [&](bool taken) { pc += taken ? i.jt : i.jf; };
    switch (i.code) {
      case BPF_LD | BPF_W | BPF_ABS: a = word(i.k); break;
      case BPF_LD | BPF_MEM: a = mem[i.k % BPF_MEMWORDS]; break;
      case BPF_LDX | BPF_MEM: x = mem[i.k % BPF_MEMWORDS]; break;
      case BPF_ST: mem[i.k % BPF_MEMWORDS] = a; break;
      case BPF_STX: mem[i.k % BPF_MEMWORDS] = x; break;
      case BPF_ALU | BPF_AND | BPF_K: a &= i.k; break;
      case BPF_ALU | BPF_OR | BPF_K: a |= i.k; break;
      case BPF_MISC | BPF_TAX: x = a; break;
      case BPF_MISC | BPF_TXA: a = x; break;
      case BPF_JMP | BPF_JA: pc += i.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: jump(a == i.k); break;
      case BPF_JMP | BPF_JGT | BPF_K: jump(a > i.k); break;
      case BPF_JMP | BPF_JGE | BPF_K: jump(a >= i.k); break;
      case BPF_JMP | BPF_JSET | BPF_K: jump((a & i.k) != 0); break;
      case BPF_JMP | BPF_JEQ | BPF_X: jump(a == x); break;
      case BPF_JMP | BPF_JGT | BPF_X: jump(a > x); break;
      case BPF_JMP | BPF_JGE | BPF_X: jump(a >= x); break;
      case BPF_RET | BPF_K: return i.k;
      default: throw std::runtime_error("unknown BPF instruction " + std::to_string(i.code));
    }
  }
  throw std::runtime_error("filter ran off its end");
}

struct ArchCase {
  const char* name;
  uint32_t token;   // SCMP_ARCH_*
  uint32_t audit;   // what the kernel puts in seccomp_data.arch
  bool wide_args;   // 64-bit arguments (i386's are 32 bits)
};

// What a profile (ALLOW by default, rules that each compare arguments at
// most once) says about calls on one architecture: the action of a rule whose
// call and comparisons match, else the default. Names are resolved per
// architecture by libseccomp, as compiling does.
class RuleModel {
 public:
  RuleModel(const Seccomp& p, const ArchCase& arch) : arch_(arch) {
    for (const SeccompRule& r : p.syscalls) {
      for (const std::string& n : r.names) {
        int nr = seccomp_syscall_resolve_name_arch(arch.token, n.c_str());
        if (nr >= 0) by_nr_.emplace_back(static_cast<uint32_t>(nr), &r);
      }
    }
  }
  uint32_t verdict(const CallData& d) const {
    for (const auto& [nr, r] : by_nr_) {
      if (nr != d.nr) continue;
      bool match = std::all_of(r->args.begin(), r->args.end(), [&](const SeccompArg& a) {
        if (a.op != "SCMP_CMP_MASKED_EQ") throw std::runtime_error("model knows MASKED_EQ only");
        uint64_t v = arch_.wide_args ? d.args[a.index] : d.args[a.index] & 0xffffffffu;
        return (v & a.value) == a.value_two;
      });
      if (!match) continue;
      if (r->action != "SCMP_ACT_ERRNO") throw std::runtime_error("model knows SCMP_ACT_ERRNO only");
      return SECCOMP_RET_ERRNO | *r->errno_ret;
    }
    return SECCOMP_RET_ALLOW;
  }

 private:
  ArchCase arch_;
  std::vector<std::pair<uint32_t, const SeccompRule*>> by_nr_;
};

// First arguments that reach every comparison of the default profile: none,
// each CLONE_NEW* flag, personas allowed and not, garbage in the upper half.
std::vector<uint64_t> interesting_arg0() {
  std::vector<uint64_t> v = {0, 0x8, 0x20000, 0x20008, 0xffffffff, 0x400000,
                             (1ull << 32) | 0x400000, 1ull << 32, ~0ull, 0x11 /* SIGCHLD */};
  for (int b = 0; b < 32; ++b) v.push_back(1ull << b);
  return v;
}

// Every call number of every architecture of the default profile, with each
// interesting first argument: `prog` must say what `profile`'s rules say.
// Returns the disagreements, one a line.
std::string compare_filter_with_rules(const SeccompProgram& prog, const Seccomp& profile) {
#if defined(__x86_64__)
  const ArchCase arches[] = {
      {"x86_64", SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64, true},
      {"i386", SCMP_ARCH_X86, AUDIT_ARCH_I386, false},
      {"x32", SCMP_ARCH_X32, AUDIT_ARCH_X86_64, true},
  };
#else
  return "";  // the architectures below are x86's
#endif
  const auto args0 = interesting_arg0();
  std::string out;
  for (const ArchCase& arch : arches) {
    RuleModel rules(profile, arch);
    uint32_t base = arch.token == SCMP_ARCH_X32 ? 0x40000000u : 0;
    for (uint32_t nr = base; nr < base + 1024; ++nr) {
      for (uint64_t arg0 : args0) {
        CallData d{nr, arch.audit, 0, {arg0, 0, 0, 0, 0, 0}};
        uint32_t got = run_filter(prog.insns, d), want = rules.verdict(d);
        if (got != want) {
          std::ostringstream line;
          line << arch.name << " call " << (nr - base) << " arg0 0x" << std::hex << arg0
               << ": filter 0x" << got << ", rules 0x" << want << "\n";
          out += line.str();
        }
      }
    }
  }
  // An architecture the profile does not list: killed.
  CallData arm{0, AUDIT_ARCH_AARCH64, 0, {}};
  if (run_filter(prog.insns, arm) != SECCOMP_RET_KILL_THREAD)
    out += "aarch64 call 0: not killed\n";
  return out;
}

// ---- the default profile --------------------------------------------------

TEST(SeccompDefault, ProfileParsesAndCompiles) {
  Json j = default_seccomp_profile_json(kDefaultCaps);
  EXPECT_EQ(j["defaultAction"], "SCMP_ACT_ALLOW");
#if defined(__x86_64__)
  EXPECT_EQ(j["architectures"],
            Json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
#endif
  Seccomp s = parse_seccomp(j, "linux.seccomp");
  EXPECT_EQ(s.default_action, "SCMP_ACT_ALLOW");
  for (const SeccompRule& r : s.syscalls) {
    EXPECT_EQ(r.action, "SCMP_ACT_ERRNO");
    ASSERT_TRUE(r.errno_ret.has_value());
    bool clone3 = r.names == std::vector<std::string>{"clone3"};
    EXPECT_EQ(*r.errno_ret, clone3 ? unsigned(ENOSYS) : unsigned(EPERM));
  }
  auto names = rule_names(j);
  for (const char* n :
       {"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "open_by_handle_at",
        "name_to_handle_at", "mount", "umount2", "umount", "pivot_root", "swapon",
        "swapoff", "syslog", "acct", "settimeofday", "clock_settime", "clock_adjtime",
        "adjtimex", "iopl", "ioperm", "quotactl", "lookup_dcookie", "userfaultfd", "vm86",
        "vm86old", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
        "mount_setattr", "setns", "unshare", "clone", "clone3", "personality"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_FALSE(names.count("reboot"));
  EXPECT_FALSE(names.count("ptrace"));

  SeccompProgram p = compile_seccomp(s);
  EXPECT_GT(p.insns.size(), 10u);
  EXPECT_LE(p.insns.size(), 4096u);  // BPF_MAXINSNS
  EXPECT_EQ(p.flags, 0u);
}

TEST(SeccompDefault, GrantedCapabilitiesAllowTheirCalls) {
  auto with = [](std::vector<std::string> extra) {
    std::vector<std::string> caps = kDefaultCaps;
    caps.insert(caps.end(), extra.begin(), extra.end());
    return rule_names(default_seccomp_profile_json(caps));
  };
  auto admin = with({"CAP_SYS_ADMIN"});
  for (const char* n : {"mount", "umount2", "pivot_root", "setns", "unshare", "clone",
                        "clone3", "fsopen", "move_mount", "open_tree", "quotactl",
                        "lookup_dcookie", "name_to_handle_at", "bpf", "perf_event_open"})
    EXPECT_FALSE(admin.count(n)) << n;
  for (const char* n : {"kexec_load", "init_module", "keyctl", "settimeofday", "iopl",
                        "syslog", "acct", "open_by_handle_at", "personality"})
    EXPECT_TRUE(admin.count(n)) << n;

  auto some = with({"CAP_SYS_MODULE", "CAP_SYS_BOOT", "CAP_SYS_TIME", "CAP_SYS_RAWIO",
                    "CAP_SYSLOG", "CAP_SYS_PACCT", "CAP_DAC_READ_SEARCH", "CAP_BPF",
                    "CAP_PERFMON"});
  for (const char* n : {"init_module", "finit_module", "delete_module", "kexec_load",
                        "kexec_file_load", "settimeofday", "clock_settime",
                        "clock_adjtime", "adjtimex", "iopl", "ioperm", "syslog", "acct",
                        "open_by_handle_at", "bpf", "perf_event_open"})
    EXPECT_FALSE(some.count(n)) << n;
  EXPECT_TRUE(some.count("mount"));
  EXPECT_TRUE(some.count("keyctl"));

  auto ptrace = with({"CAP_SYS_PTRACE"});
  EXPECT_EQ(ptrace, rule_names(default_seccomp_profile_json(kDefaultCaps)));
}

// The personality rules as data: each value's fate, as the rules decide it
// (a rule matches when value & mask == expected), over bit patterns that
// reach every rule, and compared to "in the allowed set".
TEST(SeccompDefault, PersonalityRulesDenyExactlyTheComplement) {
  std::vector<std::pair<uint64_t, uint64_t>> rules;  // mask, expected
  Json profile = default_seccomp_profile_json(kDefaultCaps);
  for (const Json& r : profile["syscalls"]) {
    if (r["names"] != Json::array({"personality"})) continue;
    ASSERT_EQ(r["args"].size(), 1u);
    const Json& a = r["args"][0];
    ASSERT_EQ(a["index"], 0);
    ASSERT_EQ(a["op"], "SCMP_CMP_MASKED_EQ");
    ASSERT_LE(a["value"].get<uint64_t>(), 0xffffffffull);
    rules.emplace_back(a["value"].get<uint64_t>(), a["valueTwo"].get<uint64_t>());
  }
  ASSERT_EQ(rules.size(), 32u);
  const std::set<uint32_t> allowed = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
  std::vector<uint32_t> values(allowed.begin(), allowed.end());
  for (int b = 0; b < 32; ++b) {
    values.push_back(1u << b);
    values.push_back(~(1u << b));
    values.push_back((1u << b) | 0x20008);
    for (int c = 0; c < 32; ++c) values.push_back(~((1u << b) | (1u << c)));
  }
  uint32_t x = 12345;
  for (int i = 0; i < 100000; ++i) values.push_back(x = x * 1664525u + 1013904223u);
  for (uint32_t v : values) {
    bool denied = std::any_of(rules.begin(), rules.end(), [&](auto& r) {
      return (v & r.first) == r.second;
    });
    EXPECT_EQ(denied, !allowed.count(v)) << std::hex << v;
  }
}

TEST(SeccompDefault, EnforcedInAChild) {
  SeccompProgram prog = compile_seccomp(default_profile());
  std::string failures = in_child([&](Checks& c) {
    sandbox(c, prog);
    c.expect("mount", mount("none", "/nonexistent-mult-test", "tmpfs", 0, nullptr), EPERM);
    c.expect("umount2", umount2("/nonexistent-mult-test", 0), EPERM);
    c.expect("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS), EPERM);
    c.expect("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER), EPERM);
    c.expect("unshare(CLONE_NEWNET|CLONE_FILES)", unshare(CLONE_NEWNET | CLONE_FILES), EPERM);
    c.expect("unshare(CLONE_NEWTIME)", unshare(0x80), EPERM);
    c.expect("unshare(1<<32 | CLONE_NEWNS)",
             syscall(SYS_unshare, (1ul << 32) | CLONE_NEWNS), EPERM);
    c.expect("unshare(0)", unshare(0), 0);
    c.expect("unshare(CLONE_FILES)", unshare(CLONE_FILES), 0);
    c.expect("setns", syscall(SYS_setns, -1, 0), EPERM);
    c.expect("keyctl", syscall(SYS_keyctl, 9999, 0, 0, 0, 0), EPERM);
    c.expect("add_key", syscall(SYS_add_key, nullptr, nullptr, nullptr, 0, 0), EPERM);
    c.expect("bpf", syscall(SYS_bpf, 0xffff, nullptr, 0), EPERM);
    c.expect("perf_event_open", syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0), EPERM);
    c.expect("init_module", syscall(SYS_init_module, nullptr, 0, ""), EPERM);
    // Bad flags and too many segments: EINVAL, were the call to get through.
    c.expect("kexec_load", syscall(SYS_kexec_load, 0, 1000, nullptr, 0x1000), EPERM);
    c.expect("settimeofday", syscall(SYS_settimeofday, nullptr, nullptr), EPERM);
    c.expect("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, nullptr, 0), EPERM);
    c.expect("fsopen", syscall(SYS_fsopen, "tmpfs", 0), EPERM);
    c.expect("userfaultfd", syscall(SYS_userfaultfd, 0), EPERM);
    c.expect("clone3", syscall(SYS_clone3, nullptr, 0), ENOSYS);
    long cloned =
        syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (cloned == 0) _exit(0);
    c.expect("clone(CLONE_NEWPID)", cloned, EPERM);

    c.expect("personality(0xffffffff)", personality(0xffffffff), 0);
    c.expect("personality(PER_LINUX)", personality(PER_LINUX), 0);
    c.expect("personality(PER_LINUX32)", personality(PER_LINUX32), 0);
    c.expect("personality(UNAME26)", personality(UNAME26), 0);
    c.expect("personality(PER_LINUX)", personality(PER_LINUX), 0);
    c.expect("personality(READ_IMPLIES_EXEC)", personality(READ_IMPLIES_EXEC), EPERM);
    c.expect("personality(ADDR_NO_RANDOMIZE)", personality(ADDR_NO_RANDOMIZE), EPERM);
    c.expect("personality(1<<32 | READ_IMPLIES_EXEC)",
             syscall(SYS_personality, (1ul << 32) | READ_IMPLIES_EXEC), EPERM);
    c.expect("personality(1<<32)", syscall(SYS_personality, 1ul << 32), 0);
    // The real filter against the allowed set, one bit and all but one bit.
    for (int b = 0; b < 32; ++b) {
      for (unsigned long v : {1ul << b, 0xfffffffful & ~(1ul << b)}) {
        bool ok = v == 0x8 || v == 0x20000;
        std::ostringstream name;
        name << "personality(0x" << std::hex << v << ")";
        c.expect(name.str(), syscall(SYS_personality, v), ok ? 0 : EPERM);
        if (ok) personality(PER_LINUX);
      }
    }

    c.expect("getpid", getpid() > 0 ? 0 : -1, 0);
    c.expect("reboot(bad magic) reaches the kernel", syscall(SYS_reboot, 0, 0, 0, nullptr),
             EINVAL);
    pid_t pid = fork();  // glibc's fork: clone without namespace flags
    if (pid == 0) _exit(7);
    c.expect("fork", pid, 0);
    int status = 0;
    if (pid > 0 && (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
                    WEXITSTATUS(status) != 7))
      c.fail("forked child did not exit 7");
  });
  EXPECT_EQ(failures, "");
}

#if defined(__x86_64__)
TEST(SeccompDefault, CoversTheI386EntryPoint) {
  if (!have_ia32()) GTEST_SKIP() << "the kernel runs no i386 system calls";
  SeccompProgram prog = compile_seccomp(default_profile());
  std::string failures = in_child([&](Checks& c) {
    sandbox(c, prog);
    c.expect_raw("i386 getpid", int80(20) == getpid() ? 0 : -EINVAL, 0);
    c.expect_raw("i386 mount", int80(21), EPERM);
    c.expect_raw("i386 umount", int80(22), EPERM);
    c.expect_raw("i386 unshare(CLONE_NEWNS)", int80(310, CLONE_NEWNS), EPERM);
    c.expect_raw("i386 keyctl", int80(288, 9999), EPERM);
    c.expect_raw("i386 personality(READ_IMPLIES_EXEC)", int80(136, READ_IMPLIES_EXEC),
                 EPERM);
    c.expect_raw("i386 clone3", int80(435), ENOSYS);
  });
  EXPECT_EQ(failures, "");
}

// x32 calls are x86_64 numbers with bit 30 set. The filter sees the number
// before the kernel decides whether it runs x32 at all, so a denied call gets
// EPERM even on a kernel with x32 off (where an allowed one gets ENOSYS).
TEST(SeccompDefault, CoversTheX32EntryPoint) {
  constexpr long kX32 = 0x40000000;
  SeccompProgram prog = compile_seccomp(default_profile());
  std::string failures = in_child([&](Checks& c) {
    sandbox(c, prog);
    c.expect("x32 mount", syscall(kX32 | SYS_mount, 0, 0, 0, 0, 0), EPERM);
    c.expect("x32 unshare(CLONE_NEWNS)", syscall(kX32 | SYS_unshare, CLONE_NEWNS), EPERM);
    c.expect("x32 bpf", syscall(kX32 | SYS_bpf, 0xffff, 0, 0), EPERM);
    long rc = syscall(kX32 | SYS_getpid);
    if (rc < 0 && errno != ENOSYS) c.fail("x32 getpid: " + std::string(strerror(errno)));
  });
  EXPECT_EQ(failures, "");

  // Without SCMP_ARCH_X32 listed, libseccomp sends every x32 number to the
  // bad-architecture action (kill).
  Seccomp native_only = default_profile();
  native_only.architectures = {"SCMP_ARCH_X86_64"};
  SeccompProgram p64 = compile_seccomp(native_only);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    install_seccomp(p64);
    syscall(kX32 | SYS_getpid);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << status;
}
#endif

TEST(SeccompDefault, SysAdminProfileAllowsMountsAndNamespaces) {
  std::vector<std::string> caps = kDefaultCaps;
  caps.push_back("CAP_SYS_ADMIN");
  SeccompProgram prog = compile_seccomp(default_profile(caps));
  std::string failures = in_child([&](Checks& c) {
    sandbox(c, prog);
    c.expect("mount", mount("none", "/nonexistent-mult-test", "tmpfs", 0, nullptr), ENOENT);
    c.expect("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS), 0);
    c.expect("clone3 reaches the kernel", syscall(SYS_clone3, nullptr, 0), EINVAL);
    c.expect("keyctl", syscall(SYS_keyctl, 9999, 0, 0, 0, 0), EPERM);
    c.expect("personality(READ_IMPLIES_EXEC)", personality(READ_IMPLIES_EXEC), EPERM);
  });
  EXPECT_EQ(failures, "");
}

// The compiled filter (a binary tree over call numbers, three ABIs) against
// the profile's rules, for every call number: it denies exactly what they
// deny. The kernel tests above try a sample of calls for real.
TEST(SeccompDefault, FilterDecidesEveryCallAsItsRulesSay) {
  std::vector<std::string> admin_caps = kDefaultCaps;
  admin_caps.push_back("CAP_SYS_ADMIN");
  Seccomp usual = default_profile(), admin = default_profile(admin_caps), bare = default_profile({});
  SeccompProgram usual_prog = compile_seccomp(usual);
  EXPECT_EQ(compare_filter_with_rules(usual_prog, usual), "");
  EXPECT_EQ(compare_filter_with_rules(compile_seccomp(admin), admin), "");
  EXPECT_EQ(compare_filter_with_rules(compile_seccomp(bare), bare), "");
  // The comparison sees a difference: the usual filter is not the rules of
  // CAP_SYS_ADMIN's profile (mount, clone with CLONE_NEWNS, ... differ).
  std::string diff = compare_filter_with_rules(usual_prog, admin);
  EXPECT_NE(diff.find("x86_64 call 165 arg0 0x0: filter 0x50001, rules 0x7fff0000"),
            std::string::npos) << diff.substr(0, 2000);
  EXPECT_NE(diff.find("i386 call 21 "), std::string::npos);
  EXPECT_NE(diff.find("x32 call 165 "), std::string::npos);
}

// ---- the default profile by name ----------------------------------------------

Json spec_with(const Json& annotations, const std::vector<std::string>& bounding) {
  Json doc = default_spec_json();
  doc["annotations"] = annotations;
  doc["process"]["capabilities"]["bounding"] = bounding;
  return doc;
}

std::string spec_error(const Json& doc) {
  try {
    parse_spec(doc);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SeccompByName, TheAnnotationNamesTheDefaultProfileOfTheBoundingSet) {
  std::vector<std::string> caps = kDefaultCaps;
  caps.push_back("CAP_SYS_ADMIN");
  Spec spec = parse_spec(spec_with({{kAnnotationSeccomp, "default"}}, caps));
  ASSERT_TRUE(spec.linux.seccomp.has_value());
  ASSERT_TRUE(spec.linux.seccomp->default_for_caps.has_value());
  EXPECT_EQ(*spec.linux.seccomp->default_for_caps, caps);
  EXPECT_TRUE(spec.linux.seccomp->syscalls.empty());  // made on demand only

  // Its rules, its JSON and its program are the default profile's.
  Seccomp full = expand_seccomp(*spec.linux.seccomp);
  EXPECT_FALSE(full.default_for_caps.has_value());
  EXPECT_EQ(seccomp_json(full), default_seccomp_profile_json(caps));
  EXPECT_EQ(seccomp_json(*spec.linux.seccomp), default_seccomp_profile_json(caps));
  EXPECT_EQ(compile_seccomp(*spec.linux.seccomp).insns.size(),
            compile_seccomp(default_profile(caps)).insns.size());

  // No capabilities at all: every group denied.
  Json bare = default_spec_json();
  bare["annotations"] = {{kAnnotationSeccomp, "default"}};
  bare["process"].erase("capabilities");
  Spec none = parse_spec(bare);
  ASSERT_TRUE(none.linux.seccomp && none.linux.seccomp->default_for_caps);
  EXPECT_TRUE(none.linux.seccomp->default_for_caps->empty());
  EXPECT_TRUE(rule_names(seccomp_json(*none.linux.seccomp)).count("mount"));

  // Without the annotation, no filter; an explicit one is kept as it is.
  EXPECT_FALSE(parse_spec(spec_with(Json::object(), caps)).linux.seccomp.has_value());
  Json own = spec_with(Json::object(), caps);
  own["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_LOG"}};
  Spec explicit_spec = parse_spec(own);
  ASSERT_TRUE(explicit_spec.linux.seccomp.has_value());
  EXPECT_FALSE(explicit_spec.linux.seccomp->default_for_caps.has_value());
  EXPECT_EQ(explicit_spec.linux.seccomp->default_action, "SCMP_ACT_LOG");
}

TEST(SeccompByName, BadAnnotationsNameTheField) {
  EXPECT_EQ(spec_error(spec_with({{kAnnotationSeccomp, "strict"}}, kDefaultCaps)),
            "annotations[\"org.mult.seccomp\"]: unknown seccomp profile \"strict\" "
            "(expected \"default\")");
  Json both = spec_with({{kAnnotationSeccomp, "default"}}, kDefaultCaps);
  both["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"}};
  EXPECT_EQ(spec_error(both),
            "annotations[\"org.mult.seccomp\"]: conflicts with linux.seccomp (give one of them)");
}

TEST(SeccompByName, JsonOfAListedProfileReadsBackTheSame) {
  Json j = Json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
    "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
      {"names": ["getpid", "getppid"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
       "args": [{"index": 1, "value": 12, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}]})");
  Seccomp s = parse_seccomp(j, "linux.seccomp");
  EXPECT_EQ(seccomp_json(s), j);
  EXPECT_EQ(seccomp_json(parse_seccomp(seccomp_json(s), "x")), j);
}

// ---- compiling other profiles ---------------------------------------------

TEST(SeccompCompile, CustomProfile) {
  Seccomp s = parse_seccomp_json(Json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
      {"names": ["getcwd", "no_such_call_in_any_kernel"], "action": "SCMP_ACT_ERRNO",
       "errnoRet": 38},
      {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
       "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]},
      {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
       "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 4242, "op": "SCMP_CMP_EQ"}]},
      {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}
    ]})"),
                                 "custom.json");
  SeccompProgram prog = compile_seccomp(s);
  EXPECT_EQ(prog.flags, unsigned(SECCOMP_FILTER_FLAG_LOG));
  std::string failures = in_child([&](Checks& c) {
    c.expect("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    install_seccomp(prog);
    char buf[4096];
    c.expect("getcwd", getcwd(buf, sizeof buf) ? 0 : -1, ENOSYS);
    c.expect("getpid", getpid() > 0 ? 0 : -1, 0);
    // Two comparisons of one argument: either one matches (as with runc).
    c.expect("kill(self, 0)", kill(getpid(), 0), EACCES);
    c.expect("kill(self, SIGUSR2)", kill(getpid(), SIGUSR2), EACCES);
    c.expect("kill(self, SIGCONT)", kill(getpid(), SIGCONT), 0);
    // Comparisons of different arguments: both must match.
    c.expect("getpriority(0, 4242)", syscall(SYS_getpriority, 0, 4242), EINVAL);
    c.expect("getpriority(PRIO_PROCESS, 0)", syscall(SYS_getpriority, 0, 0), 0);
  });
  EXPECT_EQ(failures, "");

  // SCMP_ACT_KILL_PROCESS
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    install_seccomp(prog);
    getppid();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << status;
}

// Rules that all fall away (they do what the default does): the filter is
// the default action alone, and allows.
TEST(SeccompCompile, ProfileWithoutEffectiveRulesAllows) {
  Seccomp s = parse_seccomp_json(Json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]})"), "none.json");
  SeccompProgram prog = compile_seccomp(s);
  std::string failures = in_child([&](Checks& c) {
    c.expect("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    install_seccomp(prog);
    c.expect("getpid", getpid() > 0 ? 0 : -1, 0);
    c.expect("unshare(0)", unshare(0), 0);
  });
  EXPECT_EQ(failures, "");
}

std::string compile_error(const Seccomp& s) {
  try {
    compile_seccomp(s);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SeccompCompile, ErrorsNameTheRule) {
  Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls.push_back({{"getcwd"}, "SCMP_ACT_ERRNO", 1, {}});
  s.syscalls.push_back({{"getpid"}, "SCMP_ACT_NOTIFY", std::nullopt, {}});
  EXPECT_EQ(compile_error(s), "linux.seccomp.syscalls[1]: SCMP_ACT_NOTIFY is not supported");

  s.syscalls[1] = {{"getpid"}, "SCMP_ACT_ERRNO", 70000, {}};
  EXPECT_EQ(compile_error(s),
            "linux.seccomp.syscalls[1]: errnoRet 70000 out of range (at most 65535)");

  s.syscalls[1] = {{"getpid"}, "SCMP_ACT_ERRNO", 1, {{7, 0, 0, "SCMP_CMP_EQ"}}};
  EXPECT_EQ(compile_error(s), "linux.seccomp.syscalls[1].args[0]: index must be at most 5");

  s.syscalls[1] = {{"getpid"}, "SCMP_ACT_ERRNO", 1, {{0, 0, 0, "SCMP_CMP_XX"}}};
  EXPECT_EQ(compile_error(s),
            "linux.seccomp.syscalls[1].args[0]: unknown operator \"SCMP_CMP_XX\"");

  s.syscalls.pop_back();
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"};
  EXPECT_EQ(compile_error(s),
            "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\"");

  // A rule that does what the default does is no error (libseccomp refuses
  // it; it changes nothing), nor is a name no kernel has.
  s.architectures.clear();
  s.syscalls.push_back({{"getpid", "not_a_syscall"}, "SCMP_ACT_ALLOW", std::nullopt, {}});
  EXPECT_EQ(compile_error(s), "");
}

TEST(SeccompParse, JsonFromAFile) {
  try {
    parse_seccomp_json(Json::parse(R"({"defaultAction": "SCMP_ACT_BOGUS"})"), "p.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "p.json: defaultAction: unknown seccomp action \"SCMP_ACT_BOGUS\"");
  }
  try {
    parse_seccomp_json(Json::array(), "p.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "p.json: expected a JSON object");
  }
  try {
    parse_seccomp(Json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]})"),
                  "linux.seccomp");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "linux.seccomp.syscalls[0].names: expected a non-empty array of strings");
  }
  // parse_spec() reads linux.seccomp the same way.
  Json doc = default_spec_json();
  doc["linux"]["seccomp"] = default_seccomp_profile_json(kDefaultCaps);
  Spec spec = parse_spec(doc);
  ASSERT_TRUE(spec.linux.seccomp.has_value());
  Seccomp direct = default_profile();
  EXPECT_EQ(spec.linux.seccomp->syscalls.size(), direct.syscalls.size());
  EXPECT_EQ(compile_seccomp(*spec.linux.seccomp).insns.size(),
            compile_seccomp(direct).insns.size());
}

TEST(SeccompInstall, NeedsNoNewPrivsOrSysAdmin) {
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) GTEST_SKIP() << "no_new_privs is set";
  SeccompProgram prog = compile_seccomp(default_profile());
  std::string failures = in_child([&](Checks& c) {
    cap_t caps = cap_get_proc();
    cap_value_t admin = CAP_SYS_ADMIN;
    if (!caps || cap_set_flag(caps, CAP_EFFECTIVE, 1, &admin, CAP_CLEAR) != 0 ||
        cap_set_proc(caps) != 0)
      c.fail("could not drop CAP_SYS_ADMIN");
    cap_free(caps);
    try {
      install_seccomp(prog);
      c.fail("installed without no_new_privs or CAP_SYS_ADMIN");
    } catch (const Error& e) {
      if (std::string(e.what()).find("requires no_new_privs or CAP_SYS_ADMIN") ==
          std::string::npos)
        c.fail(std::string("message: ") + e.what());
    }
  });
  EXPECT_EQ(failures, "");
  EXPECT_THROW(install_seccomp(SeccompProgram{}), Error);
}

// ---- the cache --------------------------------------------------------------

class SeccompCache : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mult-seccomp-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/cache/sub";  // made by load_seccomp
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + root_ + "'";
    EXPECT_EQ(system(cmd.c_str()), 0);
  }
  std::vector<std::string> files() {
    std::vector<std::string> out;
    DIR* d = opendir(dir_.c_str());
    if (!d) return out;
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') out.push_back(e->d_name);
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }
  static bool same(const SeccompProgram& a, const SeccompProgram& b) {
    return a.flags == b.flags && a.insns.size() == b.insns.size() &&
           std::memcmp(a.insns.data(), b.insns.data(),
                       a.insns.size() * sizeof(sock_filter)) == 0;
  }
  std::string root_, dir_;
};

TEST_F(SeccompCache, StoresAndReusesPrograms) {
  Seccomp s = default_profile();
  SeccompProgram compiled = compile_seccomp(s);
  SeccompProgram first = load_seccomp(s, dir_);
  EXPECT_TRUE(same(first, compiled));
  std::string path = seccomp_cache_path(s, dir_);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(files().size(), 1u);
  EXPECT_TRUE(same(load_seccomp(s, dir_), compiled));

  // A different profile, a different file.
  Seccomp other = s;
  other.syscalls[0].errno_ret = 13;
  EXPECT_NE(seccomp_cache_path(other, dir_), path);
  SeccompProgram o = load_seccomp(other, dir_);
  EXPECT_FALSE(same(o, compiled));
  EXPECT_EQ(files().size(), 2u);

  // No cache directory: compiled every time.
  EXPECT_TRUE(same(load_seccomp(s, ""), compiled));
}

TEST_F(SeccompCache, LoadsWhatTheFileHolds) {
  Seccomp s = default_profile();
  std::string path = seccomp_cache_path(s, dir_);
  // A program libseccomp would never make for this profile: served as is,
  // so a hit does not compile.
  SeccompProgram fake;
  fake.insns = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  fake.flags = 4;
  write_seccomp_cache(path, s, fake);
  EXPECT_TRUE(same(load_seccomp(s, dir_), fake));

  // The same file under another profile's name is no hit.
  Seccomp other = s;
  other.default_action = "SCMP_ACT_LOG";
  std::string other_path = seccomp_cache_path(other, dir_);
  ASSERT_EQ(rename(path.c_str(), other_path.c_str()), 0);
  EXPECT_TRUE(same(load_seccomp(other, dir_), compile_seccomp(other)));
}

TEST_F(SeccompCache, ReplacesCorruptFiles) {
  Seccomp s = default_profile();
  SeccompProgram compiled = compile_seccomp(s);
  std::string path = seccomp_cache_path(s, dir_);
  load_seccomp(s, dir_);
  std::string good;
  {
    std::ifstream in(path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(good.size(), compiled.insns.size() * sizeof(sock_filter));

  auto put = [&](const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
  };
  auto check_rewritten = [&](const char* what) {
    EXPECT_TRUE(same(load_seccomp(s, dir_), compiled)) << what;
    std::ifstream in(path, std::ios::binary);
    std::string now(std::istreambuf_iterator<char>(in), {});
    EXPECT_EQ(now, good) << what;
  };
  put("");
  check_rewritten("empty");
  put(good.substr(0, good.size() - 3));
  check_rewritten("short");
  std::string flipped = good;
  flipped[flipped.size() - 5] ^= 0x40;  // one bit of one instruction
  put(flipped);
  check_rewritten("bit flip");
  put(std::string(good.size(), 'x'));
  check_rewritten("garbage");
  // Well-formed but writable by others: not trusted.
  SeccompProgram fake;
  fake.insns = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  write_seccomp_cache(path, s, fake);
  ASSERT_EQ(chmod(path.c_str(), 0622), 0);
  check_rewritten("group/other-writable");
}

// The default profile named by its capabilities: a file of its own per
// capability set, with a key of a few hundred bytes instead of the whole
// profile, and the same checks as any cache file.
TEST_F(SeccompCache, DefaultProfileIsCachedByItsCapabilities) {
  Seccomp named = default_seccomp(kDefaultCaps);
  SeccompProgram compiled = compile_seccomp(default_profile());
  EXPECT_TRUE(same(load_seccomp(named, dir_), compiled));
  std::string path = seccomp_cache_path(named, dir_);
  struct stat named_st, full_st;
  ASSERT_EQ(stat(path.c_str(), &named_st), 0);
  EXPECT_EQ(named_st.st_mode & 07777, 0600u);
  EXPECT_TRUE(same(load_seccomp(named, dir_), compiled));
  EXPECT_EQ(files().size(), 1u);

  // The listed profile is another entry, whose key is the whole profile.
  Seccomp listed = default_profile();
  EXPECT_TRUE(same(load_seccomp(listed, dir_), compiled));
  std::string full_path = seccomp_cache_path(listed, dir_);
  EXPECT_NE(full_path, path);
  ASSERT_EQ(stat(full_path.c_str(), &full_st), 0);
  EXPECT_LT(named_st.st_size + 2048, full_st.st_size);

  // Order and repeats of the capabilities do not matter; another set does.
  std::vector<std::string> shuffled(kDefaultCaps.rbegin(), kDefaultCaps.rend());
  shuffled.push_back(kDefaultCaps[0]);
  EXPECT_EQ(seccomp_cache_path(default_seccomp(shuffled), dir_), path);
  std::vector<std::string> admin_caps = kDefaultCaps;
  admin_caps.push_back("CAP_SYS_ADMIN");
  Seccomp admin = default_seccomp(admin_caps);
  std::string admin_path = seccomp_cache_path(admin, dir_);
  EXPECT_NE(admin_path, path);
  SeccompProgram admin_prog = load_seccomp(admin, dir_);
  EXPECT_TRUE(same(admin_prog, compile_seccomp(default_profile(admin_caps))));
  EXPECT_FALSE(same(admin_prog, compiled));

  // A hit serves the file (nothing is compiled), but only under its own
  // key: CAP_SYS_ADMIN's program renamed to the usual set's file is no hit.
  SeccompProgram fake;
  fake.insns = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  write_seccomp_cache(path, named, fake);
  EXPECT_TRUE(same(load_seccomp(named, dir_), fake));
  ASSERT_EQ(rename(admin_path.c_str(), path.c_str()), 0);
  EXPECT_TRUE(same(load_seccomp(named, dir_), compiled));

  // A flipped bit is no hit either.
  std::string good;
  {
    std::ifstream in(path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  good[good.size() - 5] ^= 0x40;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << good;
  }
  EXPECT_TRUE(same(load_seccomp(named, dir_), compiled));
}

}  // namespace
}  // namespace mult
