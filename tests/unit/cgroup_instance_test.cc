// Delegated cgroups over a fake tree: which cgroup is the user's to use,
// and the message naming what is missing for a limit. Ownership is the
// test's euid against files chowned away from it (root only).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "cgroup_instance.hh"
#include "error.hh"
#include "test_files.hh"

namespace fs = std::filesystem;

namespace mult {
namespace {

using test::spit;

using test::error_of;

class DelegationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.empty()) << "no temporary directory";
    unified_ = tmp_ + "/sys/fs/cgroup/unified";
    fs::create_directories(tmp_ + "/sys/fs/cgroup/memory");
    fs::create_directories(unified_);
    spit(unified_ + "/cgroup.controllers", "hugetlb pids\n");
    spit(tmp_ + "/mountinfo",
         "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
         "34 31 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
         "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n");
    layout_ = CgroupLayout::detect(tmp_ + "/mountinfo", tmp_);
    // /a (someone else's) / b / c (ours): c is where the process is.
    for (const char* d : {"/a", "/a/b", "/a/b/c"}) cgroup(d, "hugetlb pids\n", "", "");
  }
  void cgroup(const std::string& path, const std::string& controllers, const std::string& enabled,
              const std::string& procs) {
    std::string d = unified_ + path;
    fs::create_directories(d);
    spit(d + "/cgroup.controllers", controllers);
    spit(d + "/cgroup.subtree_control", enabled);
    spit(d + "/cgroup.procs", procs);
  }

  Delegation find(const std::string& own) {
    spit(tmp_ + "/cgroup", "4:memory:/\n0::" + own + "\n");
    return find_delegation(layout_, tmp_ + "/cgroup");
  }

  test::TempDir dir_{"mult-deleg"};
  std::string tmp_ = dir_.path(), unified_;
  CgroupLayout layout_;
};

TEST_F(DelegationTest, TopmostCgroupTheUserOwns) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown the fake tree";
  ASSERT_EQ(::chown((unified_ + "/a").c_str(), 65534, 65534), 0);
  Delegation d = find("/a/b/c");
  EXPECT_EQ(d.path, "/a/b");
  EXPECT_EQ(d.dir, unified_ + "/a/b");
  EXPECT_EQ(d.missing, "");

  // Its own cgroup not the user's: nothing, and why.
  d = find("/a");
  EXPECT_EQ(d.path, "");
  EXPECT_EQ(d.missing, "cgroup2 /a is not delegated to uid 0 (the directory belongs to uid 65534)");
  ASSERT_EQ(::chown((unified_ + "/a/b/c/cgroup.subtree_control").c_str(), 65534, 65534), 0);
  EXPECT_EQ(find("/a/b/c").missing,
            "cgroup2 /a/b/c is not delegated to uid 0 (cgroup.subtree_control belongs to uid 65534)");
  EXPECT_EQ(find("/").missing, "cgroup2 / is the host's root cgroup");
  EXPECT_EQ(find("/gone").missing, "cgroup2 /gone: No such file or directory");
  spit(tmp_ + "/cgroup", "4:memory:/\n");
  EXPECT_NE(find_delegation(layout_, tmp_ + "/cgroup").missing.find("names no cgroup2 cgroup"), std::string::npos);
}

TEST_F(DelegationTest, CheckNamesWhatIsMissing) {
  Delegation d;
  d.path = "/a/b";
  d.dir = unified_ + "/a/b";
  cgroup("/a/b", "pids\n", "", "");
  EXPECT_EQ(error_of([&] { check_delegated(layout_, d, {"pids"}); }), "(no error)");
  EXPECT_EQ(error_of([&] { check_delegated(layout_, d, {"memory"}); }),
            "rootless limits: memory: the host has this controller in cgroup v1 only (" + tmp_ +
                "/sys/fs/cgroup/memory), which is not delegated to uid " + std::to_string(::geteuid()) +
                "; rootless limits need it in cgroup v2");
  EXPECT_EQ(error_of([&] { check_delegated(layout_, d, {"cpuset"}); }),
            "rootless limits: cpuset: the host has no cpuset controller");
  EXPECT_EQ(error_of([&] { check_delegated(layout_, d, {"hugetlb"}); }),
            "rootless limits: hugetlb: not delegated to uid " + std::to_string(::geteuid()) + ": " + d.dir +
                "/cgroup.controllers lacks hugetlb (the cgroup above must enable it in its cgroup.subtree_control)");
  // Delegated, but a process of its own keeps it from enabling pids below.
  cgroup("/a/b", "pids hugetlb\n", "", "4242\n");
  EXPECT_EQ(error_of([&] { check_delegated(layout_, d, {"hugetlb", "pids"}); }),
            "rootless limits: hugetlb: " + d.dir +
                " has processes of its own, and cgroup v2 enables hugetlb for the cgroups below only in one "
                "without (move them into a child cgroup)");
  // Enabled already: fine, processes or not.
  cgroup("/a/b", "pids hugetlb\n", "hugetlb pids\n", "4242\n");
  EXPECT_EQ(error_of([&] { check_delegated(layout_, d, {"hugetlb", "pids"}); }), "(no error)");
}

TEST_F(DelegationTest, UserNamespaceFromTheUidMap) {
  const std::string map = tmp_ + "/uid_map";
  spit(map, "         0          0 4294967295\n");
  EXPECT_FALSE(in_user_namespace(map)) << "the host's";
  spit(map, "         0     100000      65536\n");
  EXPECT_TRUE(in_user_namespace(map));
  spit(map, "         0          0 4294967294\n");
  EXPECT_TRUE(in_user_namespace(map));
  spit(map, "         0          0 4294967295\n      1000       1000          1\n");
  EXPECT_TRUE(in_user_namespace(map));
  EXPECT_FALSE(in_user_namespace(tmp_ + "/none")) << "unreadable: the host's, as before user namespaces";
}

}  // namespace
}  // namespace mult
