// Resource control on real cgroups (a hybrid host: v1 controllers under
// /sys/fs/cgroup/<controller>, cgroup2 at /sys/fs/cgroup/unified): pids,
// memory and OOM, CPU quota and cpuset, live updates, hugetlb, bad values,
// stats. Every instance lives in mult/NAME of each hierarchy it joins;
// nothing may stay there after rm or a failed start (MultTest::TearDown
// checks every hierarchy as well).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "harness.hh"

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
  ASSERT_TRUE(row.contains("memoryUsage") && row["memoryUsage"].is_number()) << r.out;
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

}  // namespace
}  // namespace mult_it
