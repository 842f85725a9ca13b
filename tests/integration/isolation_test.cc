// What an instance can see and touch: its own PID 1 and processes, its own
// host name and SysV IPC, its own root, a read-only /sys, a minimal /dev.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <set>

#include "harness.hh"

#ifndef MULT_IPC_HELPER
#error "MULT_IPC_HELPER must name the static ipc_helper"
#endif

namespace mult_it {
namespace {

using IntegrationIsolation = MultTest;

std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

TEST_F(IntegrationIsolation, Pid1IsMultInitAndOnlyTheInstanceIsVisible) {
  CmdResult r = mult({"run", "--name", unique("pids"), "--", "/bin/sh", "-c",
                      "echo comm=$(cat /proc/1/comm); echo pids=$(ls -d /proc/[0-9]* | tr '\\n' ' ')"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "comm"), "mult-init") << r.describe();

  auto pids_text = field(r.out, "pids");
  ASSERT_TRUE(pids_text) << r.describe();
  std::set<long> pids;
  for (auto& w : split_words(*pids_text)) pids.insert(std::stol(w.substr(w.rfind('/') + 1)));
  EXPECT_TRUE(pids.count(1)) << *pids_text;
  // mult-init, the shell and perhaps a child of it: a handful, all small.
  EXPECT_LE(pids.size(), 6u) << *pids_text;
  EXPECT_LE(*pids.rbegin(), 10) << *pids_text;

  // No host process shows through: neither this test (by its command line)
  // nor the mult that runs the instance.
  std::string self_cmdline = read_text("/proc/self/cmdline");
  std::string self_pid = std::to_string(::getpid());
  std::string me = self_cmdline.substr(0, self_cmdline.find('\0'));
  ASSERT_FALSE(me.empty());
  r = mult({"run", "--name", unique("cmdlines"), "--", "/bin/sh", "-c",
            "for p in /proc/[0-9]*; do echo \"$p: $(tr '\\0' ' ' < $p/cmdline)\"; done; "
            "echo self=$(tr '\\0' ' ' 2>/dev/null < /proc/" + self_pid + "/cmdline)"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_FALSE(contains(r.out, me)) << r.describe();
  EXPECT_FALSE(contains(r.out, MULT_BIN)) << r.describe();
  EXPECT_TRUE(contains(r.out, "/proc/1: mult-init")) << r.describe();
  auto self_inside = field(r.out, "self");
  ASSERT_TRUE(self_inside) << r.describe();
  EXPECT_FALSE(contains(*self_inside, me)) << "pid " << self_pid << " inside is this test\n"
                                            << r.describe();

  // ps agrees: PID 1 is mult-init, a few lines only.
  r = mult({"run", "--name", unique("ps"), "--", "ps", "-o", "pid,comm"});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto lines = split_lines(r.out);
  ASSERT_GE(lines.size(), 3u) << r.out;  // header, mult-init, ps
  EXPECT_LE(lines.size(), 5u) << r.out;
  EXPECT_EQ(split_words(lines[1]), (std::vector<std::string>{"1", "mult-init"})) << r.out;
}

TEST_F(IntegrationIsolation, HostProcessCannotBeSignalled) {
  HostProcess& sleeper = spawn({"/bin/sleep", "100"});
  ASSERT_GT(sleeper.pid(), 0);
  ASSERT_TRUE(wait_until([&] { return contains(read_text("/proc/" + std::to_string(sleeper.pid()) + "/cmdline"), "sleep"); }, 5));
  std::string pid = std::to_string(sleeper.pid());

  CmdResult r = mult({"run", "--name", unique("kill"), "--", "/bin/sh", "-c",
                      "kill -0 " + pid + "; echo probe=$?; kill -KILL " + pid + "; echo kill=$?; "
                      "kill -TERM " + pid + "; echo term=$?"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_NE(field(r.out, "probe").value_or("0"), "0") << r.describe();
  EXPECT_NE(field(r.out, "kill").value_or("0"), "0") << r.describe();
  EXPECT_NE(field(r.out, "term").value_or("0"), "0") << r.describe();

  // Still alive on the host, untouched.
  EXPECT_TRUE(sleeper.running());
  EXPECT_TRUE(process_alive(sleeper.pid()));
  sleeper.kill_and_reap();
  EXPECT_FALSE(sleeper.running());
}

TEST_F(IntegrationIsolation, HostnameIsTheInstancesOwn) {
  const std::string host_before = host_name();
  CmdResult r = mult({"run", "--name", unique("h"), "--hostname", "foo", "--", "hostname"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(trim(r.out), "foo");

  std::string dflt = unique("dflt");
  r = mult({"run", "--name", dflt, "--", "hostname"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(trim(r.out), dflt) << "the host name defaults to the instance name";

  // B: an instance with the default capabilities cannot rename itself.
  std::string b = unique("b");
  r = mult({"run", "-d", "--name", b, "--hostname", "bhost", "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"exec", b, "--", "hostname", "evil"});
  EXPECT_NE(r.status, 0) << r.describe();

  // A: may set its host name (given CAP_SYS_ADMIN); the change stays in its
  // UTS namespace.
  std::string a = unique("a");
  r = mult({"create", a, "--hostname", "ahost", "--cap-add", "CAP_SYS_ADMIN", "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"start", a});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"exec", a, "--", "hostname"});
  EXPECT_EQ(trim(r.out), "ahost") << r.describe();
  r = mult({"exec", a, "--", "hostname", "bar"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"exec", a, "--", "hostname"});
  EXPECT_EQ(trim(r.out), "bar") << r.describe();

  EXPECT_EQ(host_name(), host_before) << "the host's name changed";
  r = mult({"exec", b, "--", "hostname"});
  EXPECT_EQ(trim(r.out), "bhost") << r.describe();
  r = mult({"run", "--name", unique("c"), "--hostname", "chost", "--", "hostname"});
  EXPECT_EQ(trim(r.out), "chost") << r.describe();
}

// Rows of /proc/sysvipc/<kind> (as printed by the script below) with `key`.
int rows_with_key(const std::string& out, const std::string& kind, const std::string& key) {
  int n = 0;
  bool in = false;
  for (const auto& line : split_lines(out)) {
    if (line.rfind("== ", 0) == 0) {
      in = line == "== " + kind;
      continue;
    }
    auto w = split_words(line);
    if (in && !w.empty() && w[0] == key) ++n;
  }
  return n;
}

const char* kListIpc = "for f in shm sem msg; do echo \"== $f\"; cat /proc/sysvipc/$f; done";

TEST_F(IntegrationIsolation, SysvIpcIsTheInstancesOwn) {
  // A key nobody else uses: positive, printed in decimal by /proc/sysvipc.
  unsigned long k = std::stoul(random_hex(4), nullptr, 16) % 0x3fffffff + 0x10000000;
  std::string key = std::to_string(k);
  std::string helper_bind = std::string(MULT_IPC_HELPER) + ":/bin/ipc_helper:ro";

  std::string a = unique("ipca");
  CmdResult r = mult({"run", "-d", "--name", a, "--bind", helper_bind, "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"exec", a, "--", "/bin/ipc_helper", "create", key});
  ASSERT_EQ(r.status, 0) << r.describe();
  // A second try fails: the objects exist (the helper does see them).
  r = mult({"exec", a, "--", "/bin/ipc_helper", "create", key});
  EXPECT_EQ(r.status, 1) << r.describe();
  r = mult({"exec", a, "--", "/bin/sh", "-c", kListIpc});
  ASSERT_EQ(r.status, 0) << r.describe();
  for (const char* kind : {"shm", "sem", "msg"})
    EXPECT_EQ(rows_with_key(r.out, kind, key), 1) << kind << " in A\n" << r.describe();

  // B sees none of them and can make its own with the same key.
  r = mult({"run", "--name", unique("ipcb"), "--bind", helper_bind, "--", "/bin/sh", "-c",
            std::string(kListIpc) + "; /bin/ipc_helper create " + key + "; echo created=$?"});
  ASSERT_EQ(r.status, 0) << r.describe();
  for (const char* kind : {"shm", "sem", "msg"})
    EXPECT_EQ(rows_with_key(r.out, kind, key), 0) << kind << " in B\n" << r.describe();
  EXPECT_EQ(field(r.out, "created"), "0") << r.describe();

  // Nor does the host.
  for (const char* kind : {"shm", "sem", "msg"}) {
    std::string text = "== " + std::string(kind) + "\n" + read_text(std::string("/proc/sysvipc/") + kind);
    EXPECT_EQ(rows_with_key(text, kind, key), 0) << kind << " on the host";
  }
}

TEST_F(IntegrationIsolation, NoWayOutOfTheRoot) {
  // A marker on the host, outside the rootfs, with content found nowhere else.
  std::string secret = "secret-" + random_hex(16);
  std::string marker = root() + "/marker-" + random_hex(4);
  write_text(marker, secret + "\n");
  ASSERT_EQ(read_text(marker), secret + "\n");

  std::string script =
      "cd /; cd ..; echo pwd1=$(pwd); cd ../../..; echo pwd2=$(pwd); "
      "echo root=$(stat -c %d:%i /); echo dotdot=$(stat -c %d:%i /..); "
      "echo selfroot=$(stat -L -c %d:%i /proc/self/root/); echo selflink=$(readlink /proc/self/root); "
      "echo p1root=$(stat -L -c %d:%i /proc/1/root/ 2>/dev/null); "
      "echo p1link=$(readlink /proc/1/root); "
      "echo os=$(grep ^ID= /proc/self/root/etc/os-release); "
      "cat /proc/1/root" + marker + "; echo cat1=$?; "
      "cat /../.." + marker + "; echo cat2=$?; "
      "cat " + marker + "; echo cat3=$?; "
      "cat /proc/self/root" + marker + "; echo cat4=$?; "
      "echo fds=$(ls /proc/self/fd | tr '\\n' ' '); "
      "echo initfds=$(ls /proc/1/fd | tr '\\n' ' '); "
      "ls -l /proc/self/fd";
  CmdResult r = mult({"run", "--name", unique("root"), "--", "/bin/sh", "-c", script});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "pwd1"), "/") << r.describe();
  EXPECT_EQ(field(r.out, "pwd2"), "/") << r.describe();
  EXPECT_EQ(field(r.out, "root"), field(r.out, "dotdot")) << "/.. is / itself\n" << r.describe();
  EXPECT_EQ(field(r.out, "root"), field(r.out, "selfroot")) << r.describe();
  EXPECT_EQ(field(r.out, "selflink"), "/") << r.describe();
  // PID 1 (mult-init) may be closed to inspection (not dumpable); when it is
  // not, its root is the instance's.
  if (!field(r.out, "p1root").value_or("").empty()) {
    EXPECT_EQ(field(r.out, "root"), field(r.out, "p1root")) << "PID 1's root\n" << r.describe();
    EXPECT_EQ(field(r.out, "p1link"), "/") << r.describe();
  }
  EXPECT_EQ(field(r.out, "os"), "ID=mult-busybox") << r.describe();
  for (const char* k : {"cat1", "cat2", "cat3", "cat4"})
    EXPECT_NE(field(r.out, k).value_or("0"), "0") << k << "\n" << r.describe();
  EXPECT_FALSE(contains(r.out, secret)) << r.describe();

  // Only stdio crosses into the command (3 is ls's own directory); PID 1
  // keeps nothing else open either.
  EXPECT_EQ(field(r.out, "fds"), "0 1 2 3") << r.describe();
  EXPECT_EQ(field(r.out, "initfds"), "0 1 2") << r.describe();
  int links = 0;
  for (const auto& line : split_lines(r.out)) {
    auto arrow = line.find(" -> ");
    if (arrow == std::string::npos) continue;
    auto w = split_words(line.substr(0, arrow));
    ASSERT_FALSE(w.empty());
    std::string fd = w.back(), target = line.substr(arrow + 4);
    if (fd == "3") continue;
    ++links;
    // What the harness gave: /dev/null and two pipes.
    EXPECT_TRUE(target == "/dev/null" || target.rfind("pipe:", 0) == 0) << line;
  }
  EXPECT_EQ(links, 3) << r.describe();
}

TEST_F(IntegrationIsolation, KernelInterfacesAreProtected) {
  bool host_has_sysrq = path_exists("/proc/sysrq-trigger");
  std::string script =
      // 'h' only prints help to the kernel log, should the write get through.
      "echo h > /proc/sysrq-trigger; echo sysrq=$?; "
      "test -e /proc/sysrq-trigger; echo sysrq_exists=$?; "
      "touch /sys/x; echo touch_sys=$?; "
      "test -e /sys/x; echo sys_x_exists=$?; "
      "mount -o remount,rw /sys; echo remount=$?; "
      "echo sysmount=$(grep ' /sys ' /proc/mounts); "
      "echo dev=$(ls /dev | tr '\\n' ' ')";
  CmdResult r = mult({"run", "--name", unique("kern"), "--", "/bin/sh", "-c", script});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_NE(field(r.out, "sysrq").value_or("0"), "0") << r.describe();
  // Absent on this kernel: then it cannot be made either.
  EXPECT_EQ(field(r.out, "sysrq_exists"), host_has_sysrq ? "0" : "1") << r.describe();
  EXPECT_NE(field(r.out, "touch_sys").value_or("0"), "0") << r.describe();
  EXPECT_EQ(field(r.out, "sys_x_exists"), "1") << r.describe();
  EXPECT_NE(field(r.out, "remount").value_or("0"), "0") << r.describe();
  EXPECT_FALSE(path_exists("/sys/x"));

  auto sysmount = split_words(field(r.out, "sysmount").value_or(""));
  ASSERT_GE(sysmount.size(), 4u) << r.describe();
  EXPECT_EQ(sysmount[2], "sysfs");
  std::string opts = "," + sysmount[3] + ",";
  EXPECT_TRUE(contains(opts, ",ro,")) << sysmount[3];

  EXPECT_EQ(field(r.out, "dev"),
            "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero")
      << r.describe();
}

TEST_F(IntegrationIsolation, NetworkIsPrivate) {
  std::string host_before = read_text("/proc/self/net/dev");
  CmdResult r = mult({"run", "--name", unique("net"), "--", "/bin/sh", "-c",
                      "echo links=$(ls /sys/class/net | tr '\\n' ' '); "
                      "echo lo=$(cat /sys/class/net/lo/flags); echo ns=$(readlink /proc/self/ns/net)"});
  ASSERT_EQ(r.status, 0) << r.describe();
  // Only its own loopback: none of the host's interfaces.
  EXPECT_EQ(field(r.out, "links"), "lo") << r.describe();
  // Up (IFF_UP), whether mult made the namespace ahead or the instance did.
  ASSERT_TRUE(field(r.out, "lo")) << r.describe();
  EXPECT_EQ(std::stoul(*field(r.out, "lo"), nullptr, 16) & 1, 1u) << r.describe();
  char host_ns[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/net", host_ns, sizeof host_ns - 1), 0);
  EXPECT_NE(field(r.out, "ns").value_or(host_ns), host_ns) << r.describe();
  std::string host_after = read_text("/proc/self/net/dev");
  auto names = [](const std::string& dev) {
    std::vector<std::string> out;
    for (const auto& line : split_lines(dev))
      if (auto colon = line.find(':'); colon != std::string::npos) out.push_back(trim(line.substr(0, colon)));
    return out;
  };
  EXPECT_EQ(names(host_after), names(host_before)) << "the host's interfaces changed";
}

// A host directory bound under /sys: bound from the host before pivot_root,
// and the sysfs around it still the instance's own network namespace's.
TEST_F(IntegrationIsolation, HostPathBoundUnderSys) {
  const std::string dir = root() + "/under-sys";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  write_text(dir + "/mark", "from the host\n");
  CmdResult r = mult({"run", "--bind", dir + ":/sys/kernel/mm:ro", "--", "/bin/sh", "-c",
                      "echo mark=$(cat /sys/kernel/mm/mark | tr ' ' _); echo links=$(ls /sys/class/net)"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "mark"), "from_the_host") << r.describe();
  EXPECT_EQ(field(r.out, "links"), "lo") << r.describe();
}

}  // namespace
}  // namespace mult_it
