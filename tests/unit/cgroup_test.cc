// Cgroup: layout detection and directory handling over fake trees, then the
// real thing on the host (root only).
#include "cgroup.hh"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "error.hh"
#include "test_files.hh"

namespace fs = std::filesystem;

namespace mult {
namespace {

using test::slurp;
using test::spit;

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> V(std::initializer_list<const char*> l) { return {l.begin(), l.end()}; }

// ---- fake trees -------------------------------------------------------------

class CgroupFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.empty()) << "no temporary directory";
  }

  // Writes a mountinfo and makes each mount point in the fake tree.
  std::string mountinfo(const std::string& text, const std::vector<std::string>& mounts) {
    for (const auto& m : mounts) fs::create_directories(tmp_ + m);
    std::string file = tmp_ + "/mountinfo";
    spit(file, text);
    return file;
  }

  // Pure v2: one cgroup2 at /sys/fs/cgroup.
  CgroupLayout v2_layout() {
    std::string mi = mountinfo(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "25 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
        "26 25 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n"
        "27 22 0:24 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n",
        {"/sys/fs/cgroup"});
    spit(tmp_ + "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
    spit(tmp_ + "/sys/fs/cgroup/cgroup.subtree_control", "");
    return CgroupLayout::detect(mi, tmp_);
  }

  static constexpr const char* kV1Lines =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup "
      "cgroup rw,cpu,cpuacct\n"
      "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime shared:10 - cgroup cgroup rw,cpuset,clone_children\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "36 31 0:33 / /sys/fs/cgroup/free\\040zer rw,relatime - cgroup cgroup rw,freezer\n"
      "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
      "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
      // The memory hierarchy bound a second time: same hierarchy, skipped.
      "50 22 0:32 / /mnt/memory rw,relatime - cgroup cgroup rw,memory\n";

  std::vector<std::string> v1_mounts() {
    return V({"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/memory",
              "/sys/fs/cgroup/free zer", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/systemd"});
  }

  CgroupLayout v1_layout() {
    std::string mi = mountinfo(std::string("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n") + kV1Lines, v1_mounts());
    spit(tmp_ + "/sys/fs/cgroup/cpuset/cpuset.cpus", "0-3\n");
    spit(tmp_ + "/sys/fs/cgroup/cpuset/cpuset.mems", "0\n");
    return CgroupLayout::detect(mi, tmp_);
  }

  CgroupLayout hybrid_layout() {
    auto mounts = v1_mounts();
    mounts.push_back("/sys/fs/cgroup/unified");
    std::string mi = mountinfo(std::string("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n") + kV1Lines +
                                   "41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime "
                                   "shared:5 - cgroup2 cgroup2 rw,nsdelegate\n",
                               mounts);
    spit(tmp_ + "/sys/fs/cgroup/cpuset/cpuset.cpus", "0-3\n");
    spit(tmp_ + "/sys/fs/cgroup/cpuset/cpuset.mems", "0\n");
    // No cgroup.controllers at all: a hybrid host with nothing on v2.
    return CgroupLayout::detect(mi, tmp_);
  }

  // Every directory under the fake tree's cgroup mounts, for "nothing left".
  std::vector<std::string> all_dirs(const CgroupLayout& layout) {
    std::vector<std::string> out;
    for (const auto& h : layout.hierarchies)
      for (auto it = fs::recursive_directory_iterator(h.mount_point); it != fs::recursive_directory_iterator(); ++it) {
        // The v2 mount in hybrid sits inside no other, but skip nested mounts anyway.
        if (it->is_directory()) out.push_back(it->path().string());
      }
    std::sort(out.begin(), out.end());
    return out;
  }

  test::TempDir dir_{"mult-cgroup-test"};
  std::string tmp_ = dir_.path();
};

TEST_F(CgroupFakeTest, DetectsPureV2) {
  CgroupLayout l = v2_layout();
  EXPECT_EQ(l.mode, CgroupMode::kV2);
  ASSERT_EQ(l.hierarchies.size(), 1u);
  EXPECT_TRUE(l.hierarchies[0].v2);
  EXPECT_EQ(l.hierarchies[0].mount_point, tmp_ + "/sys/fs/cgroup");
  EXPECT_EQ(l.hierarchies[0].controllers, V({"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}));
  EXPECT_EQ(l.unified(), &l.hierarchies[0]);
  EXPECT_EQ(l.v1_for("memory"), nullptr);
}

// host()'s shortcut where /sys/fs/cgroup is cgroup2: the layout detect()
// finds from mountinfo, without it.
TEST_F(CgroupFakeTest, UnifiedAtEqualsDetectedPureV2) {
  CgroupLayout detected = v2_layout();
  CgroupLayout l = CgroupLayout::unified_at(tmp_ + "/sys/fs/cgroup");
  EXPECT_EQ(l.mode, detected.mode);
  ASSERT_EQ(l.hierarchies.size(), detected.hierarchies.size());
  EXPECT_EQ(l.hierarchies[0].v2, detected.hierarchies[0].v2);
  EXPECT_EQ(l.hierarchies[0].mount_point, detected.hierarchies[0].mount_point);
  EXPECT_EQ(l.hierarchies[0].controllers, detected.hierarchies[0].controllers);
}

TEST_F(CgroupFakeTest, DetectsPureV1) {
  CgroupLayout l = v1_layout();
  EXPECT_EQ(l.mode, CgroupMode::kV1);
  EXPECT_EQ(l.unified(), nullptr);
  ASSERT_EQ(l.hierarchies.size(), 6u);  // the second memory mount is skipped
  std::string root = tmp_ + "/sys/fs/cgroup/";
  EXPECT_EQ(l.hierarchies[0].mount_point, root + "cpu,cpuacct");
  EXPECT_EQ(l.hierarchies[0].controllers, V({"cpu", "cpuacct"}));
  EXPECT_EQ(l.hierarchies[1].controllers, V({"cpuset"}));
  EXPECT_EQ(l.hierarchies[2].controllers, V({"memory"}));
  EXPECT_EQ(l.hierarchies[3].mount_point, root + "free zer");  // \040 unescaped
  EXPECT_EQ(l.hierarchies[3].controllers, V({"freezer"}));
  EXPECT_EQ(l.hierarchies[4].controllers, V({"pids"}));
  EXPECT_EQ(l.hierarchies[5].controllers, V({"name=systemd"}));
  for (const auto& h : l.hierarchies) EXPECT_FALSE(h.v2);
  ASSERT_NE(l.v1_for("cpuacct"), nullptr);
  EXPECT_EQ(l.v1_for("cpuacct"), &l.hierarchies[0]);
  EXPECT_EQ(l.v1_for("cpu"), &l.hierarchies[0]);
  EXPECT_EQ(l.v1_for("name=systemd"), &l.hierarchies[5]);
  EXPECT_EQ(l.v1_for("hugetlb"), nullptr);
}

TEST_F(CgroupFakeTest, DetectsHybridAndNone) {
  CgroupLayout l = hybrid_layout();
  EXPECT_EQ(l.mode, CgroupMode::kHybrid);
  ASSERT_EQ(l.hierarchies.size(), 7u);
  ASSERT_NE(l.unified(), nullptr);
  EXPECT_EQ(l.unified()->mount_point, tmp_ + "/sys/fs/cgroup/unified");
  EXPECT_TRUE(l.unified()->controllers.empty());
  EXPECT_EQ(l.v1_for("memory")->mount_point, tmp_ + "/sys/fs/cgroup/memory");

  std::string mi = mountinfo("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", {});
  CgroupLayout none = CgroupLayout::detect(mi, tmp_);
  EXPECT_EQ(none.mode, CgroupMode::kNone);
  EXPECT_TRUE(none.hierarchies.empty());

  EXPECT_THROW(CgroupLayout::detect(tmp_ + "/no-such-mountinfo", tmp_), Error);
}

TEST_F(CgroupFakeTest, HostLayoutIsCached) {
  EXPECT_EQ(&CgroupLayout::host(), &CgroupLayout::host());
}

TEST_F(CgroupFakeTest, DefaultPath) { EXPECT_EQ(default_cgroup_path("web"), "mult/web"); }

TEST_F(CgroupFakeTest, V2CreateEnablesControllersAndRemoves) {
  CgroupLayout l = v2_layout();
  std::string root = tmp_ + "/sys/fs/cgroup";
  {
    Cgroup cg = Cgroup::create(l, "mult/a");
    EXPECT_EQ(cg.path(), "mult/a");
    ASSERT_EQ(cg.dirs(), std::vector<std::string>{root + "/mult/a"});
    EXPECT_TRUE(fs::is_directory(root + "/mult/a"));
    EXPECT_EQ(slurp(root + "/cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");
    // The unified fd is the leaf.
    ASSERT_GE(cg.unified_fd(), 0);
    struct stat a, b;
    ASSERT_EQ(::fstat(cg.unified_fd(), &a), 0);
    ASSERT_EQ(::stat((root + "/mult/a").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    EXPECT_NE(::fcntl(cg.unified_fd(), F_GETFD) & FD_CLOEXEC, 0);

    // add_process writes to the existing cgroup.procs (cgroupfs has it).
    spit(root + "/mult/a/cgroup.procs", "");
    cg.add_process(4242, /*skip_unified=*/true);
    EXPECT_EQ(slurp(root + "/mult/a/cgroup.procs"), "");
    cg.add_process(4242);
    EXPECT_EQ(slurp(root + "/mult/a/cgroup.procs"), "4242");
    spit(root + "/mult/a/cgroup.procs", "7\n3\n7\n");
    EXPECT_EQ(cg.pids(), (std::vector<pid_t>{3, 7}));
    fs::remove(root + "/mult/a/cgroup.procs");

    cg.remove();
    EXPECT_EQ(cg.unified_fd(), -1);
    EXPECT_FALSE(exists(root + "/mult/a"));
    EXPECT_FALSE(exists(root + "/mult"));  // made by create(), so removed too
  }
  EXPECT_TRUE(fs::is_directory(root));
}

TEST_F(CgroupFakeTest, V2EnablesInEveryParentAndKeepsExistingOnes) {
  CgroupLayout l = v2_layout();
  std::string root = tmp_ + "/sys/fs/cgroup";
  fs::create_directories(root + "/mult");
  spit(root + "/mult/cgroup.subtree_control", "");
  {
    Cgroup cg = Cgroup::create(l, "mult/b");
    EXPECT_EQ(slurp(root + "/cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");
    EXPECT_EQ(slurp(root + "/mult/cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");
    // The leaf's own subtree_control is not touched (it would hold tasks).
    EXPECT_FALSE(exists(root + "/mult/b/cgroup.subtree_control"));
    cg.remove();
  }
  EXPECT_FALSE(exists(root + "/mult/b"));
  EXPECT_TRUE(fs::is_directory(root + "/mult"));  // it was there before
}

TEST_F(CgroupFakeTest, V1CreateMakesEveryHierarchy) {
  CgroupLayout l = v1_layout();
  std::vector<std::string> before = all_dirs(l);
  Cgroup cg = Cgroup::create(l, "mult/x");
  ASSERT_EQ(cg.dirs().size(), l.hierarchies.size());
  EXPECT_EQ(cg.unified_fd(), -1);
  for (size_t i = 0; i < l.hierarchies.size(); ++i) {
    EXPECT_EQ(cg.dirs()[i], l.hierarchies[i].mount_point + "/mult/x");
    EXPECT_TRUE(fs::is_directory(cg.dirs()[i]));
  }
  // In a plain directory the new cpuset has no files to copy into; create()
  // read the parent's and went on.
  for (const auto& d : cg.dirs()) spit(d + "/cgroup.procs", "");
  cg.add_process(99);
  for (const auto& d : cg.dirs()) EXPECT_EQ(slurp(d + "/cgroup.procs"), "99") << d;

  spit(cg.dirs()[0] + "/cgroup.procs", "5\n3\n");
  spit(cg.dirs()[2] + "/cgroup.procs", "3\n9\n");
  EXPECT_EQ(cg.pids(), (std::vector<pid_t>{3, 5, 9, 99}));
  for (const auto& d : cg.dirs()) fs::remove(d + "/cgroup.procs");

  std::vector<std::string> dirs = cg.dirs();
  cg.remove();
  for (const auto& d : dirs) EXPECT_FALSE(exists(d)) << d;
  EXPECT_EQ(all_dirs(l), before);
}

TEST_F(CgroupFakeTest, V1AddProcessNamesTheFile) {
  CgroupLayout l = v1_layout();
  Cgroup cg = Cgroup::create(l, "mult/x");
  // No cgroup.procs in a plain directory: the error names the file.
  try {
    cg.add_process(1);
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(cg.dirs()[0] + "/cgroup.procs"), std::string::npos) << what;
    EXPECT_NE(what.find(std::strerror(ENOENT)), std::string::npos) << what;
  }
}

TEST_F(CgroupFakeTest, AbsolutePath) {
  CgroupLayout l = v1_layout();
  Cgroup cg = Cgroup::create(l, "/a/b");
  for (size_t i = 0; i < l.hierarchies.size(); ++i)
    EXPECT_EQ(cg.dirs()[i], l.hierarchies[i].mount_point + "/a/b");
  cg.remove();
  for (const auto& h : l.hierarchies) EXPECT_FALSE(exists(h.mount_point + "/a"));
}

TEST_F(CgroupFakeTest, DestructorRollsBackExactlyWhatItMade) {
  CgroupLayout l = hybrid_layout();
  std::string mem = tmp_ + "/sys/fs/cgroup/memory";
  fs::create_directories(mem + "/mult/other");  // someone else's
  std::vector<std::string> before = all_dirs(l);
  {
    Cgroup cg = Cgroup::create(l, "mult/x/y");
    EXPECT_EQ(cg.dirs().size(), l.hierarchies.size());
    EXPECT_GE(cg.unified_fd(), 0);
    EXPECT_TRUE(fs::is_directory(mem + "/mult/x/y"));
  }
  EXPECT_EQ(all_dirs(l), before);
  EXPECT_TRUE(fs::is_directory(mem + "/mult/other"));
}

TEST_F(CgroupFakeTest, HybridSkipUnified) {
  CgroupLayout l = hybrid_layout();
  Cgroup cg = Cgroup::create(l, "mult/x");
  for (const auto& d : cg.dirs()) spit(d + "/cgroup.procs", "");
  cg.add_process(77, /*skip_unified=*/true);
  for (const auto& d : cg.dirs()) {
    bool v2 = d == tmp_ + "/sys/fs/cgroup/unified/mult/x";
    EXPECT_EQ(slurp(d + "/cgroup.procs"), v2 ? "" : "77") << d;
  }
  for (const auto& d : cg.dirs()) fs::remove(d + "/cgroup.procs");
}

TEST_F(CgroupFakeTest, DuplicateLeafFailsAndLeavesNothing) {
  CgroupLayout l = v1_layout();
  std::string pids = tmp_ + "/sys/fs/cgroup/pids";
  fs::create_directories(pids + "/mult/x");  // the leaf exists in one (late) hierarchy
  std::vector<std::string> before = all_dirs(l);
  try {
    Cgroup::create(l, "mult/x");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cgroup \"mult/x\": already exists");
  }
  EXPECT_EQ(all_dirs(l), before);
  EXPECT_TRUE(fs::is_directory(pids + "/mult/x"));
}

TEST_F(CgroupFakeTest, BadPathsAreRejected) {
  CgroupLayout l = v1_layout();
  std::vector<std::string> before = all_dirs(l);
  for (const char* p : {"../x", "a//b", "", "/", "a/../b", "a/./b", "a/b/", "..", "mult/.."}) {
    EXPECT_THROW(Cgroup::create(l, p), Error) << p;
    // "" opens the cgroup of an instance that has none (rootless): empty.
    if (std::string(p).empty()) EXPECT_TRUE(Cgroup::open(l, p).dirs().empty());
    else EXPECT_THROW(Cgroup::open(l, p), Error) << p;
  }
  EXPECT_EQ(all_dirs(l), before);
}

TEST_F(CgroupFakeTest, KeepOpenAdoptRemove) {
  CgroupLayout l = v1_layout();
  std::string mem = tmp_ + "/sys/fs/cgroup/memory";
  {
    Cgroup cg = Cgroup::create(l, "mult/k");
    cg.keep();
  }
  for (const auto& h : l.hierarchies) EXPECT_TRUE(fs::is_directory(h.mount_point + "/mult/k"));

  // open() finds what exists and owns nothing.
  fs::remove(tmp_ + "/sys/fs/cgroup/pids/mult/k");
  {
    Cgroup cg = Cgroup::open(l, "mult/k");
    EXPECT_EQ(cg.dirs().size(), l.hierarchies.size() - 1);
    for (const auto& d : cg.dirs()) EXPECT_NE(d, tmp_ + "/sys/fs/cgroup/pids/mult/k");
  }
  for (const auto& h : l.hierarchies)
    if (h.controllers[0] != "pids") {
      EXPECT_TRUE(fs::is_directory(h.mount_point + "/mult/k"));
    }

  // A sibling keeps one "mult" parent alive.
  fs::create_directories(mem + "/mult/sibling");
  {
    Cgroup cg = Cgroup::open(l, "mult/k");
    cg.adopt();
    cg.remove();
  }
  for (const auto& h : l.hierarchies) {
    EXPECT_FALSE(exists(h.mount_point + "/mult/k")) << h.mount_point;
    if (h.mount_point == mem) {
      EXPECT_TRUE(fs::is_directory(mem + "/mult/sibling"));
    } else if (h.controllers[0] == "pids") {
      // Not part of the opened cgroup: its parent is not looked at.
      EXPECT_TRUE(fs::is_directory(h.mount_point + "/mult")) << h.mount_point;
    } else {
      EXPECT_FALSE(exists(h.mount_point + "/mult")) << h.mount_point;
    }
  }
  EXPECT_TRUE(fs::is_directory(tmp_ + "/sys/fs/cgroup/pids"));
}

TEST_F(CgroupFakeTest, AdoptThenDestroyRemovesLeaves) {
  CgroupLayout l = v2_layout();
  { Cgroup::create(l, "mult/d").keep(); }
  {
    Cgroup cg = Cgroup::open(l, "mult/d");
    EXPECT_GE(cg.unified_fd(), 0);
    cg.adopt();
  }
  EXPECT_FALSE(exists(tmp_ + "/sys/fs/cgroup/mult/d"));
  EXPECT_TRUE(fs::is_directory(tmp_ + "/sys/fs/cgroup/mult"));  // adopt() owns leaves only
}

TEST_F(CgroupFakeTest, MovedFromOwnsNothing) {
  CgroupLayout l = v1_layout();
  std::string leaf = tmp_ + "/sys/fs/cgroup/memory/mult/m";
  Cgroup b;
  {
    Cgroup a = Cgroup::create(l, "mult/m");
    b = std::move(a);
    EXPECT_TRUE(a.dirs().empty());
  }
  EXPECT_TRUE(fs::is_directory(leaf));  // a's destructor removed nothing
  {
    Cgroup c(std::move(b));
    EXPECT_TRUE(b.dirs().empty());
    EXPECT_EQ(c.dirs().size(), l.hierarchies.size());
  }
  EXPECT_FALSE(exists(leaf));
  EXPECT_FALSE(exists(tmp_ + "/sys/fs/cgroup/memory/mult"));

  // Assigning over an owning cgroup rolls it back.
  Cgroup d = Cgroup::create(l, "mult/n");
  d = Cgroup::create(l, "mult/o");
  EXPECT_FALSE(exists(tmp_ + "/sys/fs/cgroup/memory/mult/n"));
  EXPECT_TRUE(fs::is_directory(tmp_ + "/sys/fs/cgroup/memory/mult/o"));
}

TEST_F(CgroupFakeTest, RemoveReportsADirThatStays) {
  CgroupLayout l = v2_layout();
  std::string root = tmp_ + "/sys/fs/cgroup";
  Cgroup cg = Cgroup::create(l, "mult/r");
  spit(root + "/mult/r/stray", "");  // rmdir fails: ENOTEMPTY
  try {
    cg.remove();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(root + "/mult/r"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_directory(root + "/mult/r"));
  fs::remove(root + "/mult/r/stray");
  cg.remove();  // again, now that it can go
  EXPECT_FALSE(exists(root + "/mult"));
}

// ---- the host ---------------------------------------------------------------

// A child that waits on `gate` before doing `what`, so that it is in the
// cgroup before it forks anything.
enum class Behaviour { kPause, kForkLoop, kForkChain };

[[noreturn]] void child_main(int gate, Behaviour what) {
  char c;
  while (::read(gate, &c, 1) < 0 && errno == EINTR) {}
  switch (what) {
    case Behaviour::kPause:
      for (;;) ::pause();
    case Behaviour::kForkLoop:
      // Keeps forking short-lived workers, each of which forks too.
      for (;;) {
        pid_t p = ::fork();
        if (p == 0) {
          if (::fork() == 0) ::usleep(5000);
          ::usleep(5000);
          ::_exit(0);
        }
        if (p < 0) ::usleep(200);
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {}
      }
    case Behaviour::kForkChain:
      // Forks its successor and exits: the process keeps moving.
      for (;;) {
        pid_t p = ::fork();
        if (p > 0) ::_exit(0);
        if (p < 0) ::usleep(200);
      }
  }
  ::_exit(1);
}

class CgroupHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    try {
      layout_ = CgroupLayout::host();
    } catch (const Error& e) {
      GTEST_SKIP() << e.what();
    }
    if (layout_.hierarchies.empty()) GTEST_SKIP() << "no cgroup mounted";
    top_ = "mult-test-" + std::to_string(::getpid());
    path_ = top_ + "/leaf";
  }

  void TearDown() override {
    if (top_.empty()) return;
    // Kill whatever is left in our directories, reap, remove them.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    for (;;) {
      bool any = false;
      for (const auto& h : layout_.hierarchies) {
        std::ifstream in(h.mount_point + "/" + path_ + "/cgroup.procs");
        for (pid_t p; in >> p;) {
          any = true;
          ::kill(p, SIGKILL);
        }
      }
      for (pid_t p : children_) ::kill(p, SIGKILL);
      reap_all();
      if (!any || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    for (pid_t p : children_) ::waitpid(p, nullptr, 0);
    children_.clear();
    if (subreaper_) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    for (const auto& h : layout_.hierarchies) {
      for (int i = 0; i < 200 && ::rmdir((h.mount_point + "/" + path_).c_str()) != 0 && errno == EBUSY; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ::rmdir((h.mount_point + "/" + top_).c_str());
    }
  }

  pid_t spawn(Behaviour what, int& gate_write) {
    int gate[2];
    EXPECT_EQ(::pipe2(gate, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      child_main(gate[0], what);
    }
    ::close(gate[0]);
    EXPECT_GT(pid, 0);
    children_.push_back(pid);
    gate_write = gate[1];
    return pid;
  }

  void open_gate(int gate_write) {
    EXPECT_EQ(::write(gate_write, "x", 1), 1);
    ::close(gate_write);
  }

  // Reaps our children and, as a subreaper, the orphans of a fork chain.
  void reap_all() {
    for (pid_t p; (p = ::waitpid(-1, nullptr, WNOHANG)) > 0;)
      children_.erase(std::remove(children_.begin(), children_.end(), p), children_.end());
  }

  int wait_child(pid_t pid) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
    return status;
  }

  // A bound on the fork tests, in case kill_all() fails.
  void limit_pids(const Cgroup& cg) {
    for (const auto& d : cg.dirs()) {
      int fd = ::open((d + "/pids.max").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) continue;
      EXPECT_EQ(::write(fd, "512", 3), 3);
      ::close(fd);
    }
  }

  // The path of `pid` in each of its hierarchies, from /proc/PID/cgroup.
  std::vector<std::pair<std::string, std::string>> proc_cgroups(pid_t pid) {
    std::vector<std::pair<std::string, std::string>> out;
    std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
    for (std::string line; std::getline(in, line);) {
      size_t a = line.find(':'), b = line.find(':', a + 1);
      out.emplace_back(line.substr(a + 1, b - a - 1), line.substr(b + 1));
    }
    return out;
  }

  std::string path_in(pid_t pid, const CgroupHierarchy& h) {
    for (const auto& [ctrls, path] : proc_cgroups(pid)) {
      if (h.v2 ? ctrls.empty() : !ctrls.empty()) {
        if (h.v2) return path;
        std::vector<std::string> names;
        std::stringstream ss(ctrls);
        for (std::string n; std::getline(ss, n, ',');) names.push_back(n);
        std::vector<std::string> want = h.controllers;
        std::sort(names.begin(), names.end());
        std::sort(want.begin(), want.end());
        if (names == want) return path;
      }
    }
    return "(none)";
  }

  void expect_all_gone(const CgroupLayout& l) {
    for (const auto& h : l.hierarchies) EXPECT_FALSE(exists(h.mount_point + "/" + top_)) << h.mount_point;
  }

  // Runs a forking child in `l`, kills it, removes the cgroup.
  void fork_test(const CgroupLayout& l, Behaviour what) {
    // Orphans come to us, so that we reap them whatever the host's init does.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    subreaper_ = true;
    Cgroup cg = Cgroup::create(l, path_);
    limit_pids(cg);
    int gate;
    pid_t pid = spawn(what, gate);
    cg.add_process(pid);
    open_gate(gate);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    size_t running = cg.pids().size();
    EXPECT_GE(running, what == Behaviour::kForkLoop ? 2u : 1u);
    RecordProperty("running", static_cast<int>(running));

    cg.kill_all();
    if (what == Behaviour::kForkLoop) {
      int status = wait_child(pid);
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    }
    // Everything dies: nothing is left in the cgroup once reaped.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    std::vector<pid_t> left;
    for (;;) {
      reap_all();
      left = cg.pids();
      if (left.empty() || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(left.empty()) << left.size() << " processes left, first " << left[0];
    cg.remove();
    expect_all_gone(l);
  }

  CgroupLayout layout_;
  std::string top_, path_;
  std::vector<pid_t> children_;
  bool subreaper_ = false;
};

TEST_F(CgroupHostTest, CreateAddKillRemove) {
  Cgroup cg = Cgroup::create(layout_, path_);
  ASSERT_EQ(cg.dirs().size(), layout_.hierarchies.size());
  for (const auto& d : cg.dirs()) EXPECT_TRUE(fs::is_directory(d)) << d;
  if (layout_.unified()) {
    EXPECT_GE(cg.unified_fd(), 0);
  }

  // A v1 cpuset starts with its parent's cpus and mems.
  if (const CgroupHierarchy* cs = layout_.v1_for("cpuset")) {
    for (const char* f : {"/cpuset.cpus", "/cpuset.mems"}) {
      EXPECT_EQ(slurp(cs->mount_point + "/" + path_ + f), slurp(cs->mount_point + f)) << f;
      EXPECT_NE(slurp(cs->mount_point + "/" + path_ + f), "\n") << f;
    }
  }

  int gate;
  pid_t pid = spawn(Behaviour::kPause, gate);
  cg.add_process(pid);
  open_gate(gate);
  std::vector<pid_t> pids = cg.pids();
  EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end());
  for (const auto& h : layout_.hierarchies) EXPECT_EQ(path_in(pid, h), "/" + path_) << h.mount_point;

  // A second handle finds the same cgroup.
  {
    Cgroup again = Cgroup::open(layout_, path_);
    EXPECT_EQ(again.dirs(), cg.dirs());
    EXPECT_EQ(again.pids(), cg.pids());
  }
  EXPECT_THROW(Cgroup::create(layout_, path_), Error);
  for (const auto& d : cg.dirs()) EXPECT_TRUE(fs::is_directory(d)) << d;

  cg.kill_all();
  int status = wait_child(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  cg.remove();
  EXPECT_TRUE(cg.dirs().empty());
  expect_all_gone(layout_);
}

TEST_F(CgroupHostTest, CloneIntoCgroup) {
  if (!layout_.unified()) GTEST_SKIP() << "no unified hierarchy";
  Cgroup cg = Cgroup::create(layout_, path_);
  ASSERT_GE(cg.unified_fd(), 0);
  struct clone_args args {};
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>(cg.unified_fd());
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && (errno == ENOSYS || errno == E2BIG)) GTEST_SKIP() << "no clone3 cgroup support";
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    for (;;) ::pause();
  }
  children_.push_back(static_cast<pid_t>(pid));
  cg.add_process(static_cast<pid_t>(pid), /*skip_unified=*/true);
  for (const auto& h : layout_.hierarchies)
    EXPECT_EQ(path_in(static_cast<pid_t>(pid), h), "/" + path_) << h.mount_point;
  cg.kill_all();
  int status = wait_child(static_cast<pid_t>(pid));
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  cg.remove();
  expect_all_gone(layout_);
}

// What launch() does: cloned into the unified cgroup, the child enters the
// v1 hierarchies itself through the files mult opened, here from inside a
// new user namespace, as an instance with --userns would.
TEST_F(CgroupHostTest, NewProcessEntersItsV1HierarchiesItself) {
  Cgroup cg = Cgroup::create(layout_, path_);
  CgroupEntry entry(cg);
  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    char ok = 'y';
    try {
      if (::unshare(CLONE_NEWUSER) != 0) ok = 'u';
      entry.enter();
    } catch (const Error&) {
      ok = 'n';
    }
    if (::write(report[1], &ok, 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  children_.push_back(pid);
  entry.close();
  ::close(report[1]);
  char got = 0;
  ASSERT_EQ(::read(report[0], &got, 1), 1);
  ::close(report[0]);
  EXPECT_EQ(got, 'y') << "u: unshare failed, n: enter() threw";
  if (!layout_.unified()) cg.add_process(pid);  // a pure v1 host: nothing left out
  else cg.add_process_unified(pid);
  for (const auto& h : layout_.hierarchies)
    EXPECT_EQ(path_in(pid, h), "/" + path_) << h.mount_point;
  cg.kill_all();
  wait_child(pid);
  cg.remove();

  // A cgroup gone before the process enters: an Error naming it.
  Cgroup gone = Cgroup::create(layout_, path_);
  CgroupEntry late(gone);
  gone.remove();
  std::string e;
  try {
    late.enter();
  } catch (const Error& err) {
    e = err.what();
  }
  if (layout_.v1_for("freezer") || layout_.v1_for("memory")) {
    EXPECT_TRUE(e.starts_with("cgroup \"" + path_ + "\": enter ")) << e;
  }
  expect_all_gone(layout_);
}

TEST_F(CgroupHostTest, KillsForkLoop) { fork_test(layout_, Behaviour::kForkLoop); }

TEST_F(CgroupHostTest, KillsForkChain) { fork_test(layout_, Behaviour::kForkChain); }

// The same on the v1 hierarchies alone: freeze, kill, thaw.
TEST_F(CgroupHostTest, KillsForkLoopWithV1Freezer) {
  if (!layout_.v1_for("freezer")) GTEST_SKIP() << "no v1 freezer";
  layout_.hierarchies.erase(std::remove_if(layout_.hierarchies.begin(), layout_.hierarchies.end(),
                                           [](const CgroupHierarchy& h) { return h.v2; }),
                            layout_.hierarchies.end());
  layout_.mode = CgroupMode::kV1;
  fork_test(layout_, Behaviour::kForkLoop);
}

TEST_F(CgroupHostTest, KillsForkChainWithV1Freezer) {
  if (!layout_.v1_for("freezer")) GTEST_SKIP() << "no v1 freezer";
  layout_.hierarchies.erase(std::remove_if(layout_.hierarchies.begin(), layout_.hierarchies.end(),
                                           [](const CgroupHierarchy& h) { return h.v2; }),
                            layout_.hierarchies.end());
  layout_.mode = CgroupMode::kV1;
  fork_test(layout_, Behaviour::kForkChain);
}

TEST_F(CgroupHostTest, OpenAdoptRemoveTakesTheEmptyParent) {
  { Cgroup::create(layout_, path_).keep(); }
  for (const auto& h : layout_.hierarchies) EXPECT_TRUE(fs::is_directory(h.mount_point + "/" + path_));
  Cgroup cg = Cgroup::open(layout_, path_);
  EXPECT_EQ(cg.dirs().size(), layout_.hierarchies.size());
  cg.adopt();
  cg.remove();
  expect_all_gone(layout_);
}

}  // namespace
}  // namespace mult
