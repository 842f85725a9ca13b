// Device allow lists: an instance's default list, the rule semantics, the
// BPF program run by a small interpreter against the same semantics on a
// grid of accesses, the v1 lines; then on the host (root): the program on a
// real cgroup2 directory enforces the list, and goes with the directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "cgroup.hh"
#include "cgroup_devices.hh"
#include "error.hh"
#include "../common/bpf_programs.hh"

namespace mult {
namespace {

constexpr uint32_t R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;

DeviceRule rule(bool allow, const char* type, std::optional<int64_t> major, std::optional<int64_t> minor,
                const char* access) {
  return {allow, type, major, minor, access};
}

// Runs `prog` on one access as the kernel would, for the instructions
// device_program() emits; anything else fails the test. Returns r0.
uint64_t run(const std::vector<bpf_insn>& prog, char type, uint32_t major, uint32_t minor, uint32_t access) {
  bpf_cgroup_dev_ctx ctx{};
  ctx.access_type = (access << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
  ctx.major = major;
  ctx.minor = minor;
  uint64_t reg[11] = {};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const bpf_insn& i = prog[pc];
    const uint32_t dst = static_cast<uint32_t>(reg[i.dst_reg]), imm = static_cast<uint32_t>(i.imm);
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W: {
        EXPECT_EQ(i.src_reg, 1) << "loads from the context only";
        EXPECT_LE(i.off + 4u, sizeof ctx);
        uint32_t v;
        std::memcpy(&v, reinterpret_cast<const char*>(&ctx) + i.off, 4);
        reg[i.dst_reg] = v;
        break;
      }
      case BPF_ALU | BPF_MOV | BPF_X: reg[i.dst_reg] = static_cast<uint32_t>(reg[i.src_reg]); break;
      case BPF_ALU | BPF_MOV | BPF_K: reg[i.dst_reg] = imm; break;
      case BPF_ALU | BPF_RSH | BPF_K: reg[i.dst_reg] = dst >> imm; break;
      case BPF_ALU | BPF_AND | BPF_K: reg[i.dst_reg] = dst & imm; break;
      case BPF_ALU | BPF_XOR | BPF_K: reg[i.dst_reg] = dst ^ imm; break;
      case BPF_ALU | BPF_OR | BPF_X: reg[i.dst_reg] = dst | static_cast<uint32_t>(reg[i.src_reg]); break;
      case BPF_JMP32 | BPF_JNE | BPF_K:
      case BPF_JMP32 | BPF_JEQ | BPF_K: {
        EXPECT_GE(i.off, 0) << "no backward jumps";
        bool eq = dst == imm;
        if ((BPF_OP(i.code) == BPF_JEQ) == eq) pc += static_cast<size_t>(i.off);
        break;
      }
      case BPF_JMP | BPF_EXIT: return reg[0];
      default: ADD_FAILURE() << "unexpected instruction " << int(i.code) << " at " << pc; return 99;
    }
  }
  ADD_FAILURE() << "fell off the end of the program";
  return 99;
}

// The program decides as device_allowed() on every combination of a few
// types, numbers and accesses.
void expect_program_matches(const std::vector<DeviceRule>& rules) {
  const std::vector<bpf_insn> prog = device_program(rules);
  for (char type : {'c', 'b'})
    for (uint32_t major : {1u, 5u, 8u, 136u, 4000000000u})
      for (uint32_t minor : {0u, 1u, 3u, 5u, 9u, 4000000000u})
        for (uint32_t access : {R, W, M, R | W, R | M, W | M, R | W | M}) {
          bool want = device_allowed(rules, type, major, minor, access);
          ASSERT_EQ(run(prog, type, major, minor, access), want ? 1u : 0u)
              << type << " " << major << ":" << minor << " access " << access;
        }
}

Spec spec_with(std::vector<DeviceRule> rules, std::vector<Device> devices) {
  Spec s;
  if (!rules.empty()) s.linux.resources.emplace().devices = std::move(rules);
  s.linux.devices = std::move(devices);
  return s;
}

Device device(const char* path, char type, int64_t major, int64_t minor) {
  Device d;
  d.path = path;
  d.type = type;
  d.major = major;
  d.minor = minor;
  return d;
}

TEST(DeviceRules, DefaultsAreWhatAnInstancesDevHolds) {
  const auto& d = default_device_rules();
  const std::vector<DeviceRule> none;
  auto allowed = [&](char t, uint32_t a, uint32_t b, uint32_t acc) { return device_allowed(d, t, a, b, acc); };
  for (auto [major, minor] : {std::pair{1u, 3u}, {1u, 5u}, {1u, 7u}, {1u, 8u}, {1u, 9u}, {5u, 0u}, {5u, 2u}})
    EXPECT_TRUE(allowed('c', major, minor, R | W | M)) << major << ":" << minor;
  EXPECT_TRUE(allowed('c', 136, 0, R | W));
  EXPECT_TRUE(allowed('c', 136, 77, R | W));
  EXPECT_FALSE(allowed('c', 1, 1, R)) << "/dev/mem";
  EXPECT_FALSE(allowed('c', 1, 11, W)) << "/dev/kmsg";
  EXPECT_FALSE(allowed('c', 10, 229, R | W)) << "/dev/fuse";
  EXPECT_FALSE(allowed('c', 5, 1, R)) << "/dev/console";
  EXPECT_FALSE(allowed('b', 1, 3, R)) << "a block device with null's numbers";
  EXPECT_FALSE(allowed('b', 8, 0, M)) << "mknod of a disk";
  EXPECT_FALSE(device_allowed(none, 'c', 1, 3, R)) << "no rules: everything denied";
}

TEST(DeviceRules, InstanceListIsTheSpecsRulesThenDefaultsThenItsDevices) {
  Spec s = spec_with({rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(false, "c", 1, 3, "rwm")},
                     {device("/dev/fuse", 'c', 10, 229), device("/dev/loop0", 'b', 7, 0),
                      device("/dev/null", 'c', 1, 3), device("/dev/fifo", 'p', 0, 0),
                      device("/dev/u", 'u', 4, 64)});
  std::vector<DeviceRule> r = instance_device_rules(s);
  const size_t n = default_device_rules().size();
  ASSERT_EQ(r.size(), 2 + n + 3) << "fifo and the second null are no rules";
  EXPECT_FALSE(r[0].allow);
  EXPECT_EQ(r[1].major, 1);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(v1_device_lines(r[2 + i]), v1_device_lines(default_device_rules()[i]));
  EXPECT_EQ(v1_device_lines(r[2 + n]), std::vector<std::string>{"c 10:229 rwm"});
  EXPECT_EQ(v1_device_lines(r[3 + n]), std::vector<std::string>{"b 7:0 rwm"});
  EXPECT_EQ(v1_device_lines(r[4 + n]), std::vector<std::string>{"c 4:64 rwm"});
  // The spec's deny of /dev/null cannot take what the instance's /dev
  // needs away (runc's order); its devices come on top.
  EXPECT_TRUE(device_allowed(r, 'c', 1, 3, R | W));
  EXPECT_TRUE(device_allowed(r, 'c', 10, 229, R | W));
  EXPECT_TRUE(device_allowed(r, 'b', 7, 0, R | W | M));
  EXPECT_FALSE(device_allowed(r, 'b', 7, 1, R));

  // Without any rule in the spec: the defaults alone.
  std::vector<DeviceRule> plain = instance_device_rules(Spec{});
  EXPECT_EQ(plain.size(), n);
  EXPECT_FALSE(allows_every_device(plain));
}

TEST(DeviceRules, OrderAndPartialAccess) {
  // Allow all, then deny writes to null: the last match decides.
  std::vector<DeviceRule> r = {rule(true, "a", std::nullopt, std::nullopt, "rwm"), rule(false, "c", 1, 3, "w")};
  EXPECT_TRUE(device_allowed(r, 'c', 1, 3, R));
  EXPECT_FALSE(device_allowed(r, 'c', 1, 3, W));
  EXPECT_FALSE(device_allowed(r, 'c', 1, 3, R | W)) << "a deny naming any access asked for";
  EXPECT_TRUE(device_allowed(r, 'b', 1, 3, W));
  // An allow of reads does not allow a read-write open.
  std::vector<DeviceRule> ro = {rule(true, "c", 1, 5, "r")};
  EXPECT_TRUE(device_allowed(ro, 'c', 1, 5, R));
  EXPECT_FALSE(device_allowed(ro, 'c', 1, 5, R | W));
  // Any major, one minor.
  std::vector<DeviceRule> anymajor = {rule(true, "c", -1, 9, "rwm")};
  EXPECT_TRUE(device_allowed(anymajor, 'c', 42, 9, R));
  EXPECT_FALSE(device_allowed(anymajor, 'c', 42, 8, R));
}

TEST(DeviceRules, AllowsEveryDevice) {
  const auto all = rule(true, "a", std::nullopt, std::nullopt, "rwm");
  EXPECT_FALSE(allows_every_device({}));
  EXPECT_TRUE(allows_every_device({all}));
  EXPECT_TRUE(allows_every_device({rule(false, "a", std::nullopt, std::nullopt, "rwm"), all, rule(true, "c", 1, 3, "r")}));
  EXPECT_FALSE(allows_every_device({all, rule(false, "c", 1, 3, "w")}));
  EXPECT_FALSE(allows_every_device({rule(true, "a", std::nullopt, std::nullopt, "rw")}));
  EXPECT_FALSE(allows_every_device({rule(true, "c", std::nullopt, std::nullopt, "rwm")}));
  // --privileged's rule, then the defaults: nothing to enforce.
  Spec s = spec_with({all}, {});
  EXPECT_TRUE(allows_every_device(instance_device_rules(s)));
}

TEST(DeviceProgram, DecidesAsTheRules) {
  expect_program_matches({});
  expect_program_matches(default_device_rules());
  expect_program_matches(instance_device_rules(
      spec_with({rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "b", 8, std::nullopt, "r"),
                 rule(false, "c", 1, 3, "w"), rule(true, "c", std::nullopt, 1, "m")},
                {device("/dev/x", 'c', 5, 9)})));
  expect_program_matches({rule(true, "a", std::nullopt, std::nullopt, "rwm"), rule(false, "c", 1, 3, "w"),
                          rule(false, "b", std::nullopt, std::nullopt, "m"), rule(true, "c", 1, 5, "")});
  expect_program_matches({rule(true, "a", std::nullopt, std::nullopt, "rw"), rule(false, "c", 1, std::nullopt, "rwm"),
                          rule(true, "c", 1, 9, "rw")});
  // Every combination of a few rule shapes, two rules at a time.
  std::vector<DeviceRule> shapes;
  for (bool allow : {true, false})
    for (const char* type : {"a", "c", "b"})
      for (const char* access : {"r", "w", "m", "rw", "rwm"})
        for (auto [major, minor] : {std::pair<std::optional<int64_t>, std::optional<int64_t>>{std::nullopt, std::nullopt},
                                    {1, std::nullopt}, {1, 3}, {-1, 5}})
          shapes.push_back(rule(allow, type, major, minor, access));
  for (size_t i = 0; i < shapes.size(); i += 7)
    for (size_t j = 0; j < shapes.size(); j += 5) expect_program_matches({shapes[i], shapes[j]});
}

TEST(DeviceProgram, DefaultProgramIsSmall) {
  // Loaded on every start: a handful of instructions per rule.
  std::vector<bpf_insn> p = device_program(instance_device_rules(Spec{}));
  EXPECT_LE(p.size(), 6 + 11 * default_device_rules().size() + 2);
  // A rule that matches everything ends the program: nothing before it runs.
  std::vector<bpf_insn> q = device_program({rule(false, "c", 1, 3, "rwm"), rule(false, "a", std::nullopt, std::nullopt, "rwm")});
  EXPECT_EQ(q.size(), 6u + 2u);
}

TEST(DeviceRules, V1Lines) {
  EXPECT_EQ(v1_device_lines(rule(true, "c", 1, 3, "rwm")), std::vector<std::string>{"c 1:3 rwm"});
  EXPECT_EQ(v1_device_lines(rule(true, "c", 136, std::nullopt, "rw")), std::vector<std::string>{"c 136:* rw"});
  EXPECT_EQ(v1_device_lines(rule(false, "a", std::nullopt, std::nullopt, "rwm")), std::vector<std::string>{"a"});
  EXPECT_EQ(v1_device_lines(rule(true, "a", -1, -1, "r")), (std::vector<std::string>{"c *:* r", "b *:* r"}));
}

// ---- the host -----------------------------------------------------------------

using mult::test::bpf;
using mult::test::program_exists;
using mult::test::device_programs;

// Whether program `id` is gone, allowing the kernel's deferred release a
// few seconds (no timing is asserted: only that it goes).
bool freed(uint32_t id) {
  for (int i = 0; i < 500 && program_exists(id); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return !program_exists(id);
}

class DeviceProgramHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    const CgroupHierarchy* u = CgroupLayout::host().unified();
    if (!u) GTEST_SKIP() << "no cgroup2 hierarchy";
    dir_ = u->mount_point + "/mult-devices-test-" + std::to_string(::getpid());
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0) << std::strerror(errno);
  }
  void TearDown() override {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }

  // In a child moved into the directory: open `path` with `flags`; 0 when
  // it opened, else the errno.
  int open_inside(const char* path, int flags) {
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string self = std::to_string(::getpid());
      int procs = ::open((dir_ + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (procs < 0 || ::write(procs, self.data(), self.size()) < 0) ::_exit(200);
      int fd = ::open(path, flags | O_CLOEXEC);
      ::_exit(fd >= 0 ? 0 : errno);
    }
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status));
    return WEXITSTATUS(status);
  }

  std::string dir_;
};

TEST_F(DeviceProgramHostTest, DefaultListIsEnforcedAndGoesWithTheCgroup) {
  if (::access("/dev/kmsg", F_OK) != 0) GTEST_SKIP() << "no /dev/kmsg";
  std::string e;
  try {
    attach_device_program(dir_, instance_device_rules(Spec{}));
  } catch (const Error& err) {
    e = err.what();
  }
  if (e.find(std::strerror(ENOSYS)) != std::string::npos) GTEST_SKIP() << e;
  ASSERT_EQ(e, "");
  // The verifier walks each instruction once (no state per way into a
  // rule): what it costs every start stays linear in the rules.
  {
    std::vector<bpf_insn> insns = device_program(instance_device_rules(Spec{}));
    static const char kLicense[] = "GPL";
    std::string log(4096, '\0');
    bpf_attr a;
    std::memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insns = reinterpret_cast<uintptr_t>(insns.data());
    a.insn_cnt = static_cast<uint32_t>(insns.size());
    a.license = reinterpret_cast<uintptr_t>(kLicense);
    a.log_level = 4;  // statistics only
    a.log_buf = reinterpret_cast<uintptr_t>(log.data());
    a.log_size = static_cast<uint32_t>(log.size());
    long fd = bpf(BPF_PROG_LOAD, a);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ::close(static_cast<int>(fd));
    size_t at = log.find("processed ");
    ASSERT_NE(at, std::string::npos) << log;
    EXPECT_LE(std::stoul(log.substr(at + 10)), insns.size()) << log.c_str();
  }
  std::vector<uint32_t> ids = device_programs(dir_);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(open_inside("/dev/null", O_RDWR), 0);
  EXPECT_EQ(open_inside("/dev/urandom", O_RDONLY), 0);
  EXPECT_EQ(open_inside("/dev/kmsg", O_WRONLY), EPERM) << "1:11 is not on the list";

  // Replaced, not stacked; a rule of the spec opens kmsg.
  Spec s;
  s.linux.devices.push_back(device("/dev/kmsg", 'c', 1, 11));
  attach_device_program(dir_, instance_device_rules(s));
  std::vector<uint32_t> now = device_programs(dir_);
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now[0], ids[0]);
  EXPECT_TRUE(freed(ids[0])) << "the replaced program is freed";
  EXPECT_EQ(open_inside("/dev/kmsg", O_WRONLY), 0);

  // Rules that allow everything: no program at all.
  attach_device_program(dir_, {rule(true, "a", std::nullopt, std::nullopt, "rwm")});
  EXPECT_TRUE(device_programs(dir_).empty());
  EXPECT_EQ(open_inside("/dev/kmsg", O_WRONLY), 0);

  // The program lives as long as the directory: rmdir frees it (the
  // kernel releases a cgroup's programs from a work queue, soon after).
  attach_device_program(dir_, default_device_rules());
  ids = device_programs(dir_);
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_EQ(::rmdir(dir_.c_str()), 0) << std::strerror(errno);
  dir_.clear();
  EXPECT_TRUE(freed(ids[0])) << "program " << ids[0] << " outlived its cgroup";
}

}  // namespace
}  // namespace mult
