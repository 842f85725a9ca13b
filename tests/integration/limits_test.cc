// Resource control on real cgroups (a hybrid host: v1 controllers under
// /sys/fs/cgroup/<controller>, cgroup2 at /sys/fs/cgroup/unified): pids,
// memory and OOM, CPU quota and cpuset, live updates, hugetlb, bad values,
// stats. Every instance lives in mult/NAME of each hierarchy it joins;
// nothing may stay there after rm or a failed start (MultTest::TearDown
// checks every hierarchy as well).
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "harness.hh"
#include "oci_harness.hh"
#include "../common/bpf_programs.hh"

namespace mult_it {
namespace {

const std::string kCgroupRoot = "/sys/fs/cgroup";

// /sys/fs/cgroup/<hierarchy>/mult/NAME/<file>
std::string cg(const std::string& hierarchy, const std::string& name, const std::string& file) {
  return kCgroupRoot + "/" + hierarchy + "/mult/" + name + "/" + file;
}

std::optional<long long> read_number(const std::string& path) {
  std::string t = trim(read_text(path));
  if (t.empty()) return std::nullopt;
  try {
    return std::stoll(t);
  } catch (...) {
    return std::nullopt;
  }
}

// "KEY VALUE" lines (cpu.stat, pids.events): the value of `key`.
std::optional<long long> read_key(const std::string& path, const std::string& key) {
  for (const auto& line : split_lines(read_text(path))) {
    auto w = split_words(line);
    if (w.size() == 2 && w[0] == key) {
      try {
        return std::stoll(w[1]);
      } catch (...) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

bool one_line(const std::string& text) {
  std::string t = trim(text);
  return !t.empty() && t.find('\n') == std::string::npos;
}

class LimitsTest : public MultTest {
 protected:
  // MultTest::TearDown takes every directory of <root>/run but locks for an
  // instance, the seccomp filter cache (run/seccomp) too, and fails on
  // `rm -f seccomp` (a reserved name). The cache is only a cache: it goes
  // first.
  void TearDown() override {
    if (!root().empty()) run_command({"/bin/rm", "-rf", "--one-file-system", root() + "/run/seccomp"});
    MultTest::TearDown();
  }
  void make_image() {
    CmdResult r = mult({"run", "--name", unique("img"), "--", "true"});
    ASSERT_EQ(r.status, 0) << r.describe();
  }
  std::string start(const std::string& base, const Argv& options, const Argv& cmd) {
    std::string name = unique(base);
    Argv args = {"run", "-d", "--name", name};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back("--");
    args.insert(args.end(), cmd.begin(), cmd.end());
    CmdResult r = mult(args);
    EXPECT_EQ(r.status, 0) << r.describe();
    return r.status == 0 ? name : "";
  }
  void remove(const std::string& name) {
    CmdResult r = mult({"rm", "-f", name});
    EXPECT_EQ(r.status, 0) << r.describe();
    EXPECT_EQ(cgroup_dirs_of(name), std::vector<std::string>{}) << "after rm -f " << name;
  }
};

using IntegrationLimits = LimitsTest;

// A fork bomb that keeps forking at the ceiling: an outer loop restarts a
// shell that forks short sleeps until fork fails (and ash gives up).
TEST_F(IntegrationLimits, ForkBombIsContainedByPidsLimit) {
  make_image();
  std::string n = start("bomb", {"--pids-limit", "50"},
                        {"sh", "-c", "while :; do sh -c 'while :; do sleep 2 & done' 2>/dev/null; done"});
  ASSERT_FALSE(n.empty());
  const std::string current = cg("pids", n, "pids.current");
  EXPECT_EQ(trim(read_text(cg("pids", n, "pids.max"))), "50");
  bool full = wait_until([&] { return read_number(current).value_or(0) >= 45; }, 10);
  EXPECT_TRUE(full) << "the bomb never got near the limit: pids.current " << read_text(current);
  long long highest = 0;
  for (int i = 0; i < 25; ++i) {
    highest = std::max(highest, read_number(current).value_or(0));
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  EXPECT_LE(highest, 50);
  EXPECT_GT(read_key(cg("pids", n, "pids.events"), "max").value_or(0), 0) << "no fork was refused";
  auto entry = listed(n);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->value("state", ""), "running");
  EXPECT_LE(entry->value("pids", 0), 50);

  CmdResult r = mult({"rm", "-f", n});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_LT(r.seconds, 10) << r.describe();
  EXPECT_EQ(cgroup_dirs_of(n), std::vector<std::string>{});
  EXPECT_FALSE(listed(n).has_value());
}

TEST_F(IntegrationLimits, MemoryHogIsOomKilledAndReported) {
  make_image();
  const Argv hog = {"dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"};
  std::string n = unique("hog");
  Argv args = {"run", "--name", n, "--memory", "64M", "--"};
  args.insert(args.end(), hog.begin(), hog.end());
  CmdResult r = mult(args);
  EXPECT_EQ(r.status, 137) << r.describe();
  EXPECT_TRUE(contains(r.err, "out of memory")) << r.describe();
  EXPECT_EQ(cgroup_dirs_of(n), std::vector<std::string>{});

  // A persistent one: inspect remembers why it ended.
  std::string p = unique("hogp");
  args = {"create", p, "--memory", "64M", "--"};
  args.insert(args.end(), hog.begin(), hog.end());
  r = mult(args);
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"start", p});
  ASSERT_EQ(r.status, 0) << r.describe();
  bool ended = wait_until([&] {
    auto e = listed(p);
    return e && e->value("state", "") == "stopped";
  }, 15);
  EXPECT_TRUE(ended) << mult({"ls"}).out;
  r = mult({"inspect", p});
  ASSERT_EQ(r.status, 0) << r.describe();
  Json j = Json::parse(r.out);
  ASSERT_TRUE(j.contains("lastExit")) << r.out;
  EXPECT_EQ(j["lastExit"].value("oomKilled", false), true) << j["lastExit"].dump();
  EXPECT_GE(j["lastExit"].value("oomKills", 0), 1) << j["lastExit"].dump();
  EXPECT_EQ(cgroup_dirs_of(p), std::vector<std::string>{});
  r = mult({"rm", p});
  EXPECT_EQ(r.status, 0) << r.describe();
}

// --cpus 0.25 on a busy loop: about a quarter of one CPU; and stats.
TEST_F(IntegrationLimits, CpuQuotaHoldsABusyLoopNearAQuarter) {
  make_image();
  std::string n = start("cpu", {"--cpus", "0.25"}, {"sh", "-c", "while :; do :; done"});
  ASSERT_FALSE(n.empty());
  if (path_exists(cg("cpu", n, "cpu.cfs_quota_us"))) {
    EXPECT_EQ(trim(read_text(cg("cpu", n, "cpu.cfs_quota_us"))), "25000");
    EXPECT_EQ(trim(read_text(cg("cpu", n, "cpu.cfs_period_us"))), "100000");
  }
  // cgroup2's cpu.stat counts usage with or without its cpu controller.
  const std::string stat = cg("unified", n, "cpu.stat");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let it settle
  auto u0 = read_key(stat, "usage_usec");
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto u1 = read_key(stat, "usage_usec");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(u0 && u1) << stat << ":\n" << read_text(stat);
  double cpus = double(*u1 - *u0) / 1e6 / secs;
  EXPECT_GE(cpus, 0.10);
  EXPECT_LE(cpus, 0.45);

  CmdResult r = mult({"stats", "--no-stream", "--format", "json", n});
  ASSERT_EQ(r.status, 0) << r.describe();
  Json rows = Json::parse(r.out);
  ASSERT_TRUE(rows.is_array()) << r.out;
  ASSERT_EQ(rows.size(), 1u) << r.out;
  const Json& row = rows[0];
  EXPECT_EQ(row.value("name", ""), n);
  ASSERT_TRUE(row.contains("cpuPercent") && row["cpuPercent"].is_number()) << r.out;
  // Only --cpus: on a hybrid host no memory cgroup, and no figure rather than 0.
  const bool memcg = ::access(cg("memory", n, "memory.usage_in_bytes").c_str(), F_OK) == 0 ||
                     ::access(cg("unified", n, "memory.current").c_str(), F_OK) == 0;
  ASSERT_TRUE(row.contains("memoryUsage")) << r.out;
  EXPECT_EQ(row["memoryUsage"].is_number(), memcg) << r.out;
  EXPECT_EQ(row["memoryUsage"].is_null(), !memcg) << r.out;
  ASSERT_TRUE(row.contains("pids") && row["pids"].is_number()) << r.out;
  EXPECT_GT(row["cpuPercent"].get<double>(), 0) << r.out;
  EXPECT_LT(row["cpuPercent"].get<double>(), 60) << r.out;
  EXPECT_GE(row["pids"].get<long long>(), 1) << r.out;
  remove(n);
}

TEST_F(IntegrationLimits, CpusetPinsTheInstance) {
  make_image();
  CmdResult r = mult({"run", "--cpuset-cpus", "0", "--", "grep", "Cpus_allowed_list", "/proc/self/status"});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto w = split_words(r.out);
  ASSERT_EQ(w.size(), 2u) << r.out;
  EXPECT_EQ(w[1], "0") << r.out;
}

TEST_F(IntegrationLimits, UpdateRaisesAndLowersMemoryLimit) {
  make_image();
  std::string n = start("upd", {"--memory", "64M"}, {"sleep", "1000"});
  ASSERT_FALSE(n.empty());
  const std::string limit = cg("memory", n, "memory.limit_in_bytes");
  EXPECT_EQ(read_number(limit), 64LL << 20);
  CmdResult r = mult({"update", n, "--memory", "128M"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(read_number(limit), 128LL << 20);
  r = mult({"update", n, "--memory", "32M"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(read_number(limit), 32LL << 20);
  r = mult({"inspect", n});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(Json::parse(r.out)["spec"]["linux"]["resources"]["memory"].value("limit", 0LL), 32LL << 20)
      << r.out;
  // In a memory cgroup: stats and ls give its usage.
  r = mult({"stats", "--no-stream", "--format", "json", n});
  ASSERT_EQ(r.status, 0) << r.describe();
  Json row = Json::parse(r.out).at(0);
  ASSERT_TRUE(row["memoryUsage"].is_number()) << r.out;
  EXPECT_GT(row["memoryUsage"].get<long long>(), 0) << r.out;
  EXPECT_EQ(row["memoryLimit"], Json(32LL << 20)) << r.out;
  Json listed;
  for (const Json& i : ls_json())
    if (i.value("name", "") == n) listed = i;
  ASSERT_TRUE(listed.is_object() && listed["memory"].is_number()) << mult({"ls"}).out;
  // A bad value changes nothing.
  r = mult({"update", n, "--memory", "12Q"});
  EXPECT_NE(r.status, 0) << r.describe();
  EXPECT_TRUE(contains(r.err, "--memory")) << r.describe();
  EXPECT_EQ(read_number(limit), 32LL << 20);
  remove(n);
}

TEST_F(IntegrationLimits, HugetlbLimitLandsInTheUnifiedHierarchy) {
  if (!contains(read_text(kCgroupRoot + "/unified/cgroup.controllers"), "hugetlb"))
    GTEST_SKIP() << "no hugetlb controller in cgroup2 on this host";
  make_image();
  std::string n = start("huge", {"--hugetlb", "2MB:4M"}, {"sleep", "1000"});
  ASSERT_FALSE(n.empty());
  EXPECT_EQ(read_number(cg("unified", n, "hugetlb.2MB.max")), 4LL << 20);
  remove(n);
}

// Bad values: one line naming the option, and no cgroup anywhere.
TEST_F(IntegrationLimits, BadValuesNameTheOptionAndLeaveNoCgroup) {
  make_image();
  const std::vector<Argv> bad = {
      {"--memory", "12Q"}, {"--cpus", "0"}, {"--pids-limit", "abc"}, {"--cpuset-cpus", "99"}};
  Snapshot before = take_snapshot(root());
  for (const auto& opt : bad) {
    for (const char* how : {"run", "run -d", "create"}) {
      std::string n = unique("bad");
      Argv args = std::string(how) == "create" ? Argv{"create", n} : Argv{"run", "--name", n};
      if (std::string(how) == "run -d") args.push_back("-d");
      args.insert(args.end(), opt.begin(), opt.end());
      args.insert(args.end(), {"--", "true"});
      CmdResult r = mult(args);
      EXPECT_NE(r.status, 0) << r.describe();
      EXPECT_TRUE(one_line(r.err)) << r.describe();
      EXPECT_TRUE(contains(r.err, opt[0])) << "should name " << opt[0] << "\n" << r.describe();
      EXPECT_EQ(cgroup_dirs_of(n), std::vector<std::string>{}) << r.describe();
      EXPECT_FALSE(listed(n).has_value()) << r.describe();
      EXPECT_EQ(snapshot_diff(before, take_snapshot(root())), "") << r.describe();
    }
  }
  // A value only the kernel refuses, after the cgroup was made: it goes too.
  std::string n = unique("bad");
  CmdResult r = mult({"run", "--name", n, "--hugetlb", "3MB:4M", "--", "true"});
  EXPECT_NE(r.status, 0) << r.describe();
  EXPECT_TRUE(one_line(r.err)) << r.describe();
  EXPECT_EQ(cgroup_dirs_of(n), std::vector<std::string>{});
  // And a persistent instance whose start fails keeps only its definition.
  std::string p = unique("badp");
  r = mult({"create", p, "--hugetlb", "3MB:4M", "--", "true"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"start", p});
  EXPECT_NE(r.status, 0) << r.describe();
  EXPECT_TRUE(one_line(r.err)) << r.describe();
  EXPECT_EQ(cgroup_dirs_of(p), std::vector<std::string>{});
  r = mult({"rm", p});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(snapshot_diff(before, take_snapshot(root())), "");
}

// Limits in several hierarchies at once: every directory goes with rm.
TEST_F(IntegrationLimits, NoCgroupRemainsAfterRm) {
  make_image();
  std::string n = start("all", {"--memory", "64M", "--cpus", "0.5", "--cpuset-cpus", "0", "--pids-limit", "100"},
                        {"sleep", "1000"});
  ASSERT_FALSE(n.empty());
  auto dirs = cgroup_dirs_of(n);
  for (const char* h : {"memory", "cpu", "cpuset", "pids", "unified"})
    EXPECT_TRUE(std::count(dirs.begin(), dirs.end(), kCgroupRoot + "/" + h + "/mult/" + n)) << h;
  EXPECT_EQ(read_number(cg("pids", n, "pids.max")), 100);
  remove(n);
}

// ---- devices ------------------------------------------------------------------

using mult::test::program_exists;
using mult::test::device_programs;

// A shell line that prints "NAME ok" or "NAME EPERM"/"NAME failed" for a
// command that opens or makes a device node.
// (`err`: a writable file for its message.)
std::string probe(const std::string& name, const std::string& cmd, const std::string& err = "/tmp/e") {
  // A subshell: a failed redirection of a special builtin (:) ends it alone.
  return "if (" + cmd + ") 2>" + err + "; then echo " + name + " ok; elif grep -q 'not permitted' " + err +
         "; then echo " + name + " EPERM; else echo " + name + " failed; cat " + err + "; fi; ";
}

// The default list: the instance's /dev works, a device outside the list
// (the host's /dev/kmsg bound in, 1:11) cannot be opened, nor can one be
// made, even by root with CAP_MKNOD on a mount that allows device nodes.
TEST_F(IntegrationLimits, DefaultDeviceListAllowsOnlyWhatDevHolds) {
  if (!path_exists("/dev/kmsg")) GTEST_SKIP() << "no /dev/kmsg on this host";
  make_image();
  std::string n = unique("dev");
  std::string script = probe("null", "echo x >/dev/null") + probe("urandom", "head -c 1 /dev/urandom >/dev/null") +
                       probe("kmsg", ": >/dev/kmsg") + probe("mknod-kmsg", "mknod /tmp/kmsg c 1 11") +
                       probe("mknod-disk", "mknod /tmp/disk b 7 0") + probe("mknod-zero", "mknod /tmp/zero c 1 5");
  CmdResult r = mult({"run", "-d", "--name", n, "--bind", "/dev/kmsg:/dev/kmsg", "--", "sh", "-c",
                      script + "exec sleep 1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  // Only the unified cgroup (free to join): no v1 devices directory.
  EXPECT_FALSE(path_exists(cg("devices", n, ""))) << "a v1 devices join costs a grace period";
  std::vector<uint32_t> ids = device_programs(cg("unified", n, ""));
  ASSERT_EQ(ids.size(), 1u) << "one device program on the instance's cgroup2 directory";
  remove(n);
  // The kernel frees a removed cgroup's programs from a work queue.
  EXPECT_TRUE(wait_until([&] { return !program_exists(ids[0]); }, 5))
      << "device program " << ids[0] << " outlived the instance";

  // The same script in the foreground, for its output.
  r = mult({"run", "--name", unique("dev"), "--bind", "/dev/kmsg:/dev/kmsg", "--", "sh", "-c", script});
  EXPECT_EQ(r.status, 0) << r.describe();
  for (const char* line : {"null ok", "urandom ok", "kmsg EPERM", "mknod-kmsg EPERM", "mknod-disk EPERM",
                           "mknod-zero ok"})
    EXPECT_TRUE(contains(r.out, line)) << line << "\n" << r.describe();
}

// --privileged: every device, no program at all.
TEST_F(IntegrationLimits, PrivilegedOpensEveryDevice) {
  if (!path_exists("/dev/kmsg")) GTEST_SKIP() << "no /dev/kmsg on this host";
  make_image();
  CmdResult r = mult({"run", "--name", unique("priv"), "--privileged", "--bind", "/dev/kmsg:/dev/kmsg", "--", "sh",
                      "-c", probe("kmsg", ": >/dev/kmsg") + probe("mknod-kmsg", "mknod /tmp/kmsg c 1 11")});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "kmsg ok")) << r.describe();
  EXPECT_TRUE(contains(r.out, "mknod-kmsg ok")) << r.describe();
}

using OciDevices = OciTest;

// The OCI face: linux.devices and linux.resources.devices open more, on
// top of the default list; engines' lone "deny all" keeps /dev working.
TEST_F(OciDevices, SpecDevicesAndRulesOpenMore) {
  if (!path_exists("/dev/kmsg")) GTEST_SKIP() << "no /dev/kmsg on this host";
  const std::string script = probe("null", "echo x >/dev/null", "/out/e") + probe("kmsg", ": >/dev/kmsg", "/out/e") +
                             probe("made", ": >/dev/made-kmsg", "/out/e");
  auto bind_kmsg = [](Json& c) {
    c["mounts"].push_back({{"destination", "/dev/kmsg"}, {"type", "bind"}, {"source", "/dev/kmsg"},
                           {"options", {"rbind"}}});
  };
  // Nothing asked: kmsg is out; the deny all an engine sends changes nothing.
  for (bool deny_all : {false, true}) {
    std::string b = make_bundle(deny_all ? "deny" : "plain", {"sh", "-c", script}, [&](Json& c) {
      bind_kmsg(c);
      if (deny_all) c["linux"]["resources"]["devices"] = Json::array({{{"allow", false}, {"access", "rwm"}}});
    });
    CmdResult r = oci({"run", "--bundle", b, unique("dev")});
    EXPECT_EQ(r.status, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "null ok")) << r.describe();
    EXPECT_TRUE(contains(r.out, "kmsg EPERM")) << r.describe();
  }
  // A rule allowing writes to 1:11 opens the bound node.
  std::string b = make_bundle("rule", {"sh", "-c", script}, [&](Json& c) {
    bind_kmsg(c);
    c["linux"]["resources"]["devices"] = Json::array(
        {{{"allow", false}, {"access", "rwm"}}, {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 11}, {"access", "w"}}});
  });
  CmdResult r = oci({"run", "--bundle", b, unique("dev")});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "kmsg ok")) << r.describe();
  // A linux.devices entry is made (mknod) and opens without any rule.
  b = make_bundle("device", {"sh", "-c", script}, [&](Json& c) {
    c["linux"]["devices"] = Json::array(
        {{{"path", "/dev/made-kmsg"}, {"type", "c"}, {"major", 1}, {"minor", 11}, {"fileMode", 0600}}});
  });
  r = oci({"run", "--bundle", b, unique("dev")});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "made ok")) << r.describe();
}

// ---- rootless limits through a delegated cgroup -----------------------------------

// A cgroup2 subtree of the test's own, delegated to nobody as systemd's
// Delegate=yes would: T (root's, hugetlb enabled for its children), T/user
// (nobody's: directory, cgroup.procs, cgroup.subtree_control, cgroup.threads)
// with the user's processes in the leaf T/user/shell, and T/other, a leaf
// that is not delegated. Removed, with anything below, when destroyed.
class DelegatedTree {
 public:
  explicit DelegatedTree(const std::string& top) : top_(top) {}
  ~DelegatedTree() { remove(); }

  // "" or why it could not be made.
  std::string make(uid_t uid) {
    if (::mkdir(top_.c_str(), 0755) != 0) return "mkdir " + top_ + ": " + std::strerror(errno);
    made_ = true;
    write_text(top_ + "/cgroup.subtree_control", "+hugetlb");
    if (!contains(read_text(top_ + "/cgroup.subtree_control"), "hugetlb")) return "cannot enable hugetlb in " + top_;
    for (const char* d : {"/user", "/user/shell", "/other"})
      if (::mkdir((top_ + d).c_str(), 0755) != 0) return "mkdir " + top_ + d + ": " + std::strerror(errno);
    for (const char* d : {"/user", "/user/shell"})
      for (const char* f : {"", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"})
        if (::chown((top_ + d + f).c_str(), uid, uid) != 0) return "chown " + top_ + d + f + ": " + std::strerror(errno);
    return "";
  }
  const std::string& top() const { return top_; }

  void remove() {
    if (!made_) return;
    // Deepest first; a cgroup whose last task is still dying is busy a moment.
    CmdResult dirs = run_command({"/usr/bin/find", top_, "-depth", "-type", "d"});
    for (const auto& d : split_lines(dirs.out))
      wait_until([&] { return ::rmdir(d.c_str()) == 0 || errno == ENOENT; }, 5);
    made_ = false;
  }

 private:
  std::string top_;
  bool made_ = false;
};

// Single-quoted for sh -c.
std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

TEST_F(IntegrationLimits, RootlessLimitsThroughADelegatedCgroup) {
  if (!path_exists("/usr/bin/setpriv")) GTEST_SKIP() << "no setpriv";
  const std::string unified = kCgroupRoot + "/unified";
  if (!contains(read_text(unified + "/cgroup.subtree_control"), "hugetlb"))
    GTEST_SKIP() << "hugetlb is not enabled below the cgroup2 root on this host";
  const uid_t nobody = 65534;
  DelegatedTree tree(unified + "/deleg-test-" + std::to_string(::getpid()));
  std::string why = tree.make(nobody);
  ASSERT_EQ(why, "");
  const std::string user = tree.top() + "/user";

  ASSERT_EQ(::chmod(root().c_str(), 0711), 0);
  std::string base = root() + "/rootless", home = base + "/home", state = base + "/state";
  for (const auto& d : {base, home, state}) {
    ASSERT_EQ(::mkdir(d.c_str(), 0755), 0) << d;
    ASSERT_EQ(::chown(d.c_str(), nobody, nobody), 0) << d;
  }
  // mult as nobody, started from the cgroup `from`.
  auto as_nobody = [&](const std::string& from, const Argv& args) {
    std::string cmd = "echo $$ > " + from + "/cgroup.procs && exec /usr/bin/setpriv --reuid=65534 --regid=65534 "
                      "--clear-groups /usr/bin/env HOME=" + home + " " + MULT_BIN + " --root " + state;
    for (const auto& a : args) cmd += " " + sh_quote(a);
    return run_command({"/bin/sh", "-c", cmd}, 60);
  };
  const std::string leaf = user + "/shell";

  // Limits below the delegated cgroup T/user: the instance's is T/user/mult/NAME.
  std::string n = unique("deleg");
  CmdResult r = as_nobody(leaf, {"run", "-d", "--name", n, "--hugetlb", "2MB:4M", "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(trim(read_text(user + "/mult/" + n + "/hugetlb.2MB.max")), std::to_string(4 << 20));
  EXPECT_FALSE(trim(read_text(user + "/mult/" + n + "/cgroup.procs")).empty()) << "the instance is in it";
  r = as_nobody(leaf, {"rm", "-f", n});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_FALSE(path_exists(user + "/mult")) << "rm leaves nothing below the delegated cgroup";
  EXPECT_TRUE(path_exists(user)) << "and keeps the delegated cgroup itself";

  // What is missing, named in one line; nothing made.
  auto refused = [&](const std::string& from, const Argv& limit, const std::string& says) {
    std::string m = unique("deleg");
    Argv args = {"run", "--name", m};
    args.insert(args.end(), limit.begin(), limit.end());
    args.insert(args.end(), {"--", "true"});
    CmdResult f = as_nobody(from, args);
    EXPECT_NE(f.status, 0) << f.describe();
    EXPECT_TRUE(one_line(f.err)) << f.describe();
    EXPECT_TRUE(contains(f.err, says)) << "should say: " << says << "\n" << f.describe();
    EXPECT_FALSE(path_exists(user + "/mult")) << f.describe();
  };
  // A controller this host has in cgroup v1 only.
  refused(leaf, {"--memory", "64M"}, "memory: the host has this controller in cgroup v1 only");
  // Started from a cgroup that is not the user's.
  refused(tree.top() + "/other", {"--hugetlb", "2MB:4M"},
          "cgroup2 " + tree.top().substr(unified.size()) + "/other is not delegated to uid 65534");
  // A process of its own in the delegated cgroup: hugetlb cannot be enabled below it.
  write_text(user + "/cgroup.subtree_control", "-hugetlb");
  refused(user, {"--hugetlb", "2MB:4M"}, "has processes of its own");
  // hugetlb not delegated at all.
  write_text(tree.top() + "/cgroup.subtree_control", "-hugetlb");
  refused(leaf, {"--hugetlb", "2MB:4M"}, "cgroup.controllers lacks hugetlb");
  EXPECT_EQ(cgroup_dirs_of(n), std::vector<std::string>{});
}

}  // namespace
}  // namespace mult_it
