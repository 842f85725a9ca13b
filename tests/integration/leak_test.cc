// Many lives, no leak: mounts, cgroups and state are as they were after 50
// instances were created, started, stopped and removed.
#include <unistd.h>

#include "harness.hh"

namespace mult_it {
namespace {

using IntegrationLeak = MultTest;

TEST_F(IntegrationLeak, FiftyCreateStartStopRm) {
  ASSERT_EQ(mult({"run", "--name", unique("img"), "--", "true"}).status, 0);  // builds the image first
  Snapshot before = take_snapshot(root());
  for (int i = 0; i < 50; ++i) {
    std::string n = unique("leak");
    CmdResult r = mult({"create", n, "--", "sleep", "1000"});
    ASSERT_EQ(r.status, 0) << r.describe();
    r = mult({"start", n});
    ASSERT_EQ(r.status, 0) << r.describe();
    if (i == 0) {
      // While it runs, it does have a cgroup and a runtime dir: the
      // snapshot would see a leak.
      EXPECT_FALSE(cgroup_dirs_of(n).empty());
      EXPECT_TRUE(path_exists(root() + "/run/" + n + "/state.json"));
      EXPECT_NE(snapshot_diff(before, take_snapshot(root())), "");
    }
    r = mult({"stop", n}, 20);
    ASSERT_EQ(r.status, 0) << r.describe();
    r = mult({"rm", n});
    ASSERT_EQ(r.status, 0) << r.describe();
  }
  EXPECT_EQ(snapshot_diff(before, take_snapshot(root())), "");
}

TEST_F(IntegrationLeak, RunDetachedAndForegroundMixed) {
  ASSERT_EQ(mult({"run", "--name", unique("img"), "--", "true"}).status, 0);
  Snapshot before = take_snapshot(root());
  for (int i = 0; i < 10; ++i) {
    std::string n = unique("mix");
    CmdResult r = mult({"run", "-d", "--name", n, "--", "sleep", "1000"});
    ASSERT_EQ(r.status, 0) << r.describe();
    r = mult({"rm", "-f", n});
    ASSERT_EQ(r.status, 0) << r.describe();
    r = mult({"run", "--name", n, "--tmpfs", "/scratch", "--", "sh", "-c", "touch /scratch/x"});
    ASSERT_EQ(r.status, 0) << r.describe();
    r = mult({"run", "-d", "--name", n, "--", "sleep", "1000"});
    ASSERT_EQ(r.status, 0) << r.describe();
    r = mult({"stop", n}, 20);
    ASSERT_EQ(r.status, 0) << r.describe();
  }
  EXPECT_EQ(ls_json().size(), 0u);
  EXPECT_EQ(snapshot_diff(before, take_snapshot(root())), "");
}

}  // namespace
}  // namespace mult_it
