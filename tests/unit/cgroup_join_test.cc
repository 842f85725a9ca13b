// Cgroup::join: an instance's cgroup joining the v1 hierarchies of
// controllers it did not need at start (mult update), over fake trees and on
// the host (root only).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "cgroup.hh"
#include "error.hh"
#include "test_files.hh"

namespace fs = std::filesystem;

namespace mult {
namespace {

using test::slurp;
using test::spit;

// Create's own overload takes a pointer: a bare {} would pick that one.
const std::vector<std::string> kNoControllers;

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::set<pid_t> procs_of(const std::string& dir) {
  std::set<pid_t> out;
  std::ifstream in(dir + "/cgroup.procs");
  for (pid_t p; in >> p;) out.insert(p);
  return out;
}

bool under(const std::string& dir, const CgroupHierarchy& h) {
  return dir.size() > h.mount_point.size() && dir.compare(0, h.mount_point.size(), h.mount_point) == 0 &&
         dir[h.mount_point.size()] == '/';
}

// ---- fake trees -------------------------------------------------------------

class CgroupJoinFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.empty()) << "no temporary directory";
  }

  CgroupLayout layout(const std::string& lines, const std::vector<std::string>& mounts) {
    for (const auto& m : mounts) fs::create_directories(tmp_ + m);
    spit(tmp_ + "/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" + lines);
    return CgroupLayout::detect(tmp_ + "/mountinfo", tmp_);
  }

  CgroupLayout v2_layout() {
    layout("26 25 0:23 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n", {"/sys/fs/cgroup"});
    spit(tmp_ + "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
    spit(tmp_ + "/sys/fs/cgroup/cgroup.subtree_control", "");
    return CgroupLayout::detect(tmp_ + "/mountinfo", tmp_);
  }

  CgroupLayout hybrid_layout() {
    return layout(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
        "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
        {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/freezer",
         "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"});
  }

  // Every directory under the fake cgroup mounts.
  std::vector<std::string> all_dirs(const CgroupLayout& l) {
    std::vector<std::string> out;
    for (const auto& h : l.hierarchies)
      for (auto it = fs::recursive_directory_iterator(h.mount_point); it != fs::recursive_directory_iterator(); ++it)
        if (it->is_directory()) out.push_back(it->path().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  test::TempDir dir_{"mult-cgroup-join-test"};
  std::string tmp_ = dir_.path();
};

TEST_F(CgroupJoinFakeTest, V2OnlyJoinIsANoOp) {
  CgroupLayout l = v2_layout();
  ASSERT_EQ(l.mode, CgroupMode::kV2);
  Cgroup cg = Cgroup::create(l, "mult/a", kNoControllers);
  const std::vector<std::string> before = cg.dirs();
  ASSERT_EQ(before, std::vector<std::string>{tmp_ + "/sys/fs/cgroup/mult/a"});
  const std::vector<std::string> tree = all_dirs(l);
  cg.join({"cpu", "memory", "pids", "cpuset", "blkio", "hugetlb", "devices"});
  cg.join({});
  EXPECT_EQ(cg.dirs(), before);
  EXPECT_EQ(all_dirs(l), tree);
  cg.remove();
  EXPECT_TRUE(all_dirs(l).empty()) << all_dirs(l).front();
}

TEST_F(CgroupJoinFakeTest, HybridJoinMakesTheMissingHierarchiesInLayoutOrder) {
  CgroupLayout l = hybrid_layout();
  ASSERT_EQ(l.mode, CgroupMode::kHybrid);
  const std::string root = tmp_ + "/sys/fs/cgroup";
  Cgroup cg = Cgroup::create(l, "mult/a", kNoControllers);
  ASSERT_EQ(cg.dirs(), std::vector<std::string>{root + "/unified/mult/a"});

  // Without the memory hierarchy a memory limit cannot be set, and the
  // message names no internal API.
  Resources r;
  r.pids_limit = 10;
  EXPECT_EQ(error_of([&] { cg.apply(r); }), "pids.limit: the instance's cgroup is not in the pids hierarchy");

  // No process in it: nothing to freeze (a fake tree has no freezer files).
  cg.join({"pids", "memory"});
  EXPECT_EQ(cg.dirs(), (std::vector<std::string>{root + "/memory/mult/a", root + "/pids/mult/a",
                                                 root + "/unified/mult/a"}));
  for (const auto& d : cg.dirs()) EXPECT_TRUE(fs::is_directory(d)) << d;
  EXPECT_FALSE(exists(root + "/cpu,cpuacct/mult")) << "not needed";
  EXPECT_FALSE(exists(root + "/freezer/mult"));

  // Joined again, or for what it is in already: nothing changes.
  cg.join({"memory"});
  cg.join({"pids", "memory"});
  EXPECT_EQ(cg.dirs().size(), 3u);

  // Then cpu and cpuset too.
  cg.join({"cpu", "cpuset"});
  EXPECT_EQ(cg.dirs(), (std::vector<std::string>{root + "/cpu,cpuacct/mult/a", root + "/cpuset/mult/a",
                                                 root + "/memory/mult/a", root + "/pids/mult/a",
                                                 root + "/unified/mult/a"}));

  // The created cgroup owns what join made: remove() takes it all.
  cg.remove();
  EXPECT_TRUE(all_dirs(l).empty()) << all_dirs(l).front();
}

TEST_F(CgroupJoinFakeTest, HybridJoinOfAnOwnedCgroupIsRolledBackWithIt) {
  CgroupLayout l = hybrid_layout();
  {
    Cgroup cg = Cgroup::create(l, "mult/a", kNoControllers);
    cg.join({"memory"});
    EXPECT_TRUE(fs::is_directory(tmp_ + "/sys/fs/cgroup/memory/mult/a"));
  }
  EXPECT_TRUE(all_dirs(l).empty()) << all_dirs(l).front();
}

TEST_F(CgroupJoinFakeTest, OpenedCgroupKeepsWhatJoinMadeAndAdoptRemovesIt) {
  CgroupLayout l = hybrid_layout();
  const std::string root = tmp_ + "/sys/fs/cgroup";
  Cgroup::create(l, "mult/a", kNoControllers).keep();
  {
    // mult update: an opened cgroup owns nothing, and the instance outlives it.
    Cgroup cg = Cgroup::open(l, "mult/a");
    cg.join({"memory", "cpu"});
    EXPECT_EQ(cg.dirs().size(), 3u);
  }
  EXPECT_TRUE(fs::is_directory(root + "/memory/mult/a"));
  EXPECT_TRUE(fs::is_directory(root + "/cpu,cpuacct/mult/a"));

  // mult rm: open finds every hierarchy, adopt takes the parents too.
  Cgroup cg = Cgroup::open(l, "mult/a");
  EXPECT_EQ(cg.dirs(), (std::vector<std::string>{root + "/cpu,cpuacct/mult/a", root + "/memory/mult/a",
                                                 root + "/unified/mult/a"}));
  cg.adopt();
  cg.remove();
  EXPECT_TRUE(all_dirs(l).empty()) << all_dirs(l).front();
}

TEST_F(CgroupJoinFakeTest, FailedJoinRemovesWhatItMade) {
  CgroupLayout l = hybrid_layout();
  const std::string root = tmp_ + "/sys/fs/cgroup";
  Cgroup cg = Cgroup::create(l, "mult/a", kNoControllers);
  // In pids, "mult" is a file: its mkdir fails after memory's succeeded.
  spit(root + "/pids/mult", "");
  EXPECT_NE(error_of([&] { cg.join({"memory", "pids"}); }).find("mkdir " + root + "/pids/mult/a"),
            std::string::npos);
  EXPECT_EQ(cg.dirs(), std::vector<std::string>{root + "/unified/mult/a"});
  EXPECT_FALSE(exists(root + "/memory/mult"));
  fs::remove(root + "/pids/mult");
  cg.remove();
  EXPECT_TRUE(all_dirs(l).empty()) << all_dirs(l).front();
}

TEST_F(CgroupJoinFakeTest, JoinOfAMissingCgroupFails) {
  CgroupLayout l = hybrid_layout();
  Cgroup cg = Cgroup::open(l, "mult/gone");
  EXPECT_EQ(error_of([&] { cg.join({"memory"}); }), "cgroup \"mult/gone\": does not exist");
  EXPECT_TRUE(all_dirs(l).empty());
  // An instance without a cgroup (rootless): nothing to join.
  Cgroup none = Cgroup::open(l, "");
  none.join({"memory"});
  EXPECT_TRUE(none.dirs().empty());
  Cgroup().join({"memory"});
  EXPECT_TRUE(all_dirs(l).empty());
}

// ---- the host ---------------------------------------------------------------

// Forks a child every 3 ms that sleeps 300 ms, for at most 30 s (a bound in
// case the test fails before killing it).
[[noreturn]] void fork_loop(int gate) {
  char c;
  while (::read(gate, &c, 1) < 0 && errno == EINTR) {
  }
  ::close(gate);
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < end) {
    pid_t p = ::fork();
    if (p == 0) {
      ::usleep(300 * 1000);
      ::_exit(0);
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::usleep(3000);
  }
  ::_exit(0);
}

class CgroupJoinHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    try {
      layout_ = &CgroupLayout::host();
    } catch (const Error& e) {
      GTEST_SKIP() << e.what();
    }
    if (layout_->hierarchies.empty()) GTEST_SKIP() << "no cgroup mounted";
    path_ = "mult-join-test-" + std::to_string(::getpid());
    // The orphans of the fork loop come to us.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    subreaper_ = true;
  }

  void TearDown() override {
    if (path_.empty()) return;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    for (;;) {
      bool any = false;
      for (const auto& h : layout_->hierarchies) {
        std::string dir = h.mount_point + "/" + path_;
        if (exists(dir + "/freezer.state")) spit(dir + "/freezer.state", "THAWED");
        if (exists(dir + "/cgroup.freeze")) spit(dir + "/cgroup.freeze", "0");
        for (pid_t p : procs_of(dir)) {
          any = true;
          ::kill(p, SIGKILL);
        }
      }
      if (child_ > 0) ::kill(child_, SIGKILL);
      reap();
      if (!any || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (child_ > 0) ::waitpid(child_, nullptr, 0);
    reap();
    if (subreaper_) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    for (const auto& h : layout_->hierarchies) {
      std::string dir = h.mount_point + "/" + path_;
      for (int i = 0; i < 200 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  void reap() {
    for (pid_t p; (p = ::waitpid(-1, nullptr, WNOHANG)) > 0;)
      if (p == child_) child_ = -1;
  }

  // Starts the fork loop in `cg`.
  void start(const Cgroup& cg) {
    int gate[2];
    ASSERT_EQ(::pipe2(gate, O_CLOEXEC), 0);
    child_ = ::fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      ::close(gate[1]);
      fork_loop(gate[0]);
    }
    ::close(gate[0]);
    cg.add_process(child_);
    ASSERT_EQ(::write(gate[1], "x", 1), 1);
    ::close(gate[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_GE(cg.pids().size(), 2u) << "the loop forks";
  }

  // The directories of `cg` in the v1 hierarchies.
  std::vector<std::string> v1_dirs(const Cgroup& cg) {
    std::vector<std::string> out;
    for (const auto& d : cg.dirs())
      for (const auto& h : layout_->hierarchies)
        if (!h.v2 && under(d, h)) out.push_back(d);
    return out;
  }

  // Frozen, nothing forks or exits: each directory lists every process.
  void expect_everyone_everywhere(const Cgroup& cg) {
    bool was_frozen = cg.frozen();
    if (!was_frozen) cg.freeze();
    std::vector<pid_t> pids = cg.pids();
    std::set<pid_t> all(pids.begin(), pids.end());
    EXPECT_GE(all.size(), 2u);
    for (const auto& d : cg.dirs()) EXPECT_EQ(procs_of(d), all) << d;
    if (!was_frozen) cg.thaw();
  }

  // kill_all, reap, remove, and nothing left in any hierarchy.
  void kill_and_remove(Cgroup& cg) {
    cg.kill_all();
    ASSERT_GT(child_, 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child_, &status, 0), child_);
    child_ = -1;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!cg.pids().empty() && std::chrono::steady_clock::now() < deadline) {
      reap();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(cg.pids().empty());
    cg.remove();
    EXPECT_TRUE(cg.dirs().empty());
    for (const auto& h : layout_->hierarchies) EXPECT_FALSE(exists(h.mount_point + "/" + path_)) << h.mount_point;
  }

  const CgroupLayout* layout_ = nullptr;
  std::string path_;
  pid_t child_ = -1;
  bool subreaper_ = false;
};

TEST_F(CgroupJoinHostTest, JoinMovesAForkingInstance) {
  Cgroup cg = Cgroup::create(*layout_, path_, kNoControllers);
  const size_t before = cg.dirs().size();
  start(cg);
  if (HasFatalFailure()) return;

  cg.join({"cpu", "memory", "pids"});
  EXPECT_FALSE(cg.frozen()) << "thawed after the move";
  std::vector<std::string> want;
  for (const auto& h : layout_->hierarchies)
    if (layout_->joins(h, {"cpu", "memory", "pids"})) want.push_back(h.mount_point + "/" + path_);
  EXPECT_EQ(cg.dirs(), want);
  if (layout_->mode == CgroupMode::kHybrid) {
    EXPECT_GT(cg.dirs().size(), before);
    EXPECT_EQ(v1_dirs(cg).size(), 3u);
  }
  expect_everyone_everywhere(cg);

  // Processes forked after the join are born in the new directories too.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  expect_everyone_everywhere(cg);

  // Limits go where the controllers are now, and read back.
  Resources r;
  r.memory_limit = 64 << 20;
  r.pids_limit = 1000;
  cg.apply(r);
  if (const CgroupHierarchy* m = layout_->v1_for("memory")) {
    EXPECT_EQ(slurp(m->mount_point + "/" + path_ + "/memory.limit_in_bytes"), "67108864\n");
  } else if (layout_->unified()) {
    EXPECT_EQ(slurp(layout_->unified()->mount_point + "/" + path_ + "/memory.max"), "67108864\n");
  }
  if (const CgroupHierarchy* p = layout_->v1_for("pids")) {
    EXPECT_EQ(slurp(p->mount_point + "/" + path_ + "/pids.max"), "1000\n");
  } else if (layout_->unified()) {
    EXPECT_EQ(slurp(layout_->unified()->mount_point + "/" + path_ + "/pids.max"), "1000\n");
  }
  CgroupStats st = cg.stats();
  EXPECT_EQ(st.memory_limit, std::optional<uint64_t>(64 << 20));
  EXPECT_EQ(st.pids_limit, std::optional<uint64_t>(1000));
  EXPECT_GE(st.pids, 2u);

  kill_and_remove(cg);
}

TEST_F(CgroupJoinHostTest, APausedInstanceStaysFrozen) {
  Cgroup cg = Cgroup::create(*layout_, path_, kNoControllers);
  start(cg);
  if (HasFatalFailure()) return;
  cg.freeze();
  cg.join({"memory"});
  EXPECT_TRUE(cg.frozen());
  expect_everyone_everywhere(cg);
  cg.thaw();
  EXPECT_FALSE(cg.frozen());
  kill_and_remove(cg);
}

TEST_F(CgroupJoinHostTest, UpdatedThenRemovedByAnotherHandle) {
  // mult run, then mult update (an opened handle that owns nothing), then
  // mult rm (open + adopt): the joined directories go with the instance.
  Cgroup::create(*layout_, path_, kNoControllers).keep();
  Cgroup first = Cgroup::open(*layout_, path_);
  start(first);
  if (HasFatalFailure()) return;
  {
    Cgroup update = Cgroup::open(*layout_, path_);
    update.join({"cpu", "pids"});
    Resources r;
    r.cpu_quota = 20000;
    r.cpu_period = 100000;
    update.apply(r);
  }
  if (const CgroupHierarchy* c = layout_->v1_for("cpu")) {
    EXPECT_EQ(slurp(c->mount_point + "/" + path_ + "/cpu.cfs_quota_us"), "20000\n");
    EXPECT_EQ(procs_of(c->mount_point + "/" + path_).count(child_), 1u);
  }
  Cgroup rm = Cgroup::open(*layout_, path_);
  std::vector<std::string> want;
  for (const auto& h : layout_->hierarchies)
    if (layout_->joins(h, {"cpu", "pids"})) want.push_back(h.mount_point + "/" + path_);
  EXPECT_EQ(rm.dirs(), want);
  rm.adopt();
  kill_and_remove(rm);
}

}  // namespace
}  // namespace mult
