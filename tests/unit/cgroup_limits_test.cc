// Cgroup limits and statistics: every file apply() writes over fake v2, v1
// and hybrid trees, stats() over fake files, the conversions and the
// command-line parsers; then the real thing on the host (root only),
// including the v2 BPF device program.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
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

void touch(const std::string& dir, std::initializer_list<const char*> files) {
  for (const char* f : files) spit(dir + "/" + f, "");
}

using test::error_of;

constexpr int64_t kMiB = 1 << 20;

// ---- fake trees -------------------------------------------------------------

class CgroupLimitsFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.empty()) << "no temporary directory";
  }

  CgroupLayout detect(const std::string& text, const std::vector<std::string>& mounts) {
    for (const auto& m : mounts) fs::create_directories(tmp_ + m);
    spit(tmp_ + "/mountinfo", text);
    return CgroupLayout::detect(tmp_ + "/mountinfo", tmp_);
  }

  CgroupLayout v2_layout(const std::string& controllers = "cpuset cpu io memory hugetlb pids") {
    fs::create_directories(tmp_ + "/sys/fs/cgroup");
    spit(tmp_ + "/sys/fs/cgroup/cgroup.controllers", controllers + "\n");
    return detect("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                  "26 22 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
                  {"/sys/fs/cgroup"});
  }

  static constexpr const char* kV1Lines =
      "31 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "33 31 0:30 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
      "34 31 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "35 31 0:32 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n"
      "36 31 0:33 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
      "37 31 0:34 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n"
      "38 31 0:35 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";

  std::vector<std::string> v1_mounts() {
    std::vector<std::string> m;
    for (const char* c : {"cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"})
      m.push_back(std::string("/sys/fs/cgroup/") + c);
    return m;
  }

  CgroupLayout v1_layout() {
    auto mounts = v1_mounts();
    mounts.push_back("/sys/fs/cgroup/hugetlb");
    return detect(std::string("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n") + kV1Lines +
                      "39 31 0:36 / /sys/fs/cgroup/hugetlb rw - cgroup cgroup rw,hugetlb\n",
                  mounts);
  }

  // This host's shape: v1 controllers but hugetlb, which is on cgroup2.
  CgroupLayout hybrid_layout() {
    auto mounts = v1_mounts();
    mounts.push_back("/sys/fs/cgroup/unified");
    fs::create_directories(tmp_ + "/sys/fs/cgroup/unified");
    spit(tmp_ + "/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
    return detect(std::string("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n") + kV1Lines +
                      "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n",
                  mounts);
  }

  std::string cg(const std::string& hierarchy) { return tmp_ + "/sys/fs/cgroup/" + hierarchy + "/mult/a"; }

  test::TempDir dir_{"mult-limits-test"};
  std::string tmp_ = dir_.path();
};

Resources full_resources() {
  Resources r;
  r.memory_limit = 256 * kMiB;
  r.memory_reservation = 128 * kMiB;
  r.memory_swap = 512 * kMiB;
  r.memory_kernel = 64 * kMiB;  // deprecated: ignored
  r.cpu_shares = 1024;
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  r.cpu_idle = 0;
  r.cpu_cpus = "0-1";
  r.cpu_mems = "0";
  r.pids_limit = 100;
  r.blkio_weight = 500;
  r.blkio_weight_device.push_back({8, 0, uint16_t{100}, std::nullopt});
  r.throttle_read_bps.push_back({8, 0, 1048576});
  r.throttle_read_bps.push_back({8, 16, 2048});
  r.throttle_write_iops.push_back({8, 0, 100});
  r.hugepage_limits["2MB"] = 4 * kMiB;
  return r;
}

TEST_F(CgroupLimitsFakeTest, PureV2WritesEveryFile) {
  CgroupLayout l = v2_layout();
  Cgroup c = Cgroup::create(l, "mult/a");
  std::string d = tmp_ + "/sys/fs/cgroup/mult/a";
  touch(d, {"memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "cpu.idle", "cpuset.cpus",
            "cpuset.mems", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max",
            "memory.high", "io.latency"});
  Resources r = full_resources();
  r.unified["memory.high"] = "200M";
  r.unified["io.latency"] = "8:0 target=10";
  c.apply(r);
  EXPECT_EQ(slurp(d + "/memory.max"), "268435456\n");
  EXPECT_EQ(slurp(d + "/memory.low"), "134217728\n");
  EXPECT_EQ(slurp(d + "/memory.swap.max"), "268435456\n");  // swap - limit
  EXPECT_EQ(slurp(d + "/cpu.weight"), "39\n");
  EXPECT_EQ(slurp(d + "/cpu.max"), "50000 100000\n");
  EXPECT_EQ(slurp(d + "/cpu.idle"), "0\n");
  EXPECT_EQ(slurp(d + "/cpuset.cpus"), "0-1\n");
  EXPECT_EQ(slurp(d + "/cpuset.mems"), "0\n");
  EXPECT_EQ(slurp(d + "/pids.max"), "100\n");
  EXPECT_EQ(slurp(d + "/io.weight"), "4950\n8:0 910\n");
  EXPECT_EQ(slurp(d + "/io.max"), "8:0 rbps=1048576 wiops=100\n8:16 rbps=2048\n");
  EXPECT_EQ(slurp(d + "/hugetlb.2MB.max"), "4194304\n");
  EXPECT_EQ(slurp(d + "/hugetlb.2MB.rsvd.max"), "4194304\n");
  EXPECT_EQ(slurp(d + "/memory.high"), "200M\n");
  EXPECT_EQ(slurp(d + "/io.latency"), "8:0 target=10\n");
  EXPECT_FALSE(fs::exists(d + "/memory.kmem.limit_in_bytes"));
}

TEST_F(CgroupLimitsFakeTest, PureV2Unlimited) {
  CgroupLayout l = v2_layout();
  Cgroup c = Cgroup::create(l, "mult/a");
  std::string d = tmp_ + "/sys/fs/cgroup/mult/a";
  touch(d, {"memory.max", "memory.swap.max", "pids.max", "cpu.max", "io.max"});
  Resources r;
  r.memory_limit = -1;
  r.memory_swap = -1;
  r.pids_limit = -1;
  r.cpu_quota = -1;
  r.throttle_write_bps.push_back({8, 0, 0});  // 0: no limit
  c.apply(r);
  EXPECT_EQ(slurp(d + "/memory.max"), "max\n");
  EXPECT_EQ(slurp(d + "/memory.swap.max"), "max\n");
  EXPECT_EQ(slurp(d + "/pids.max"), "max\n");
  EXPECT_EQ(slurp(d + "/cpu.max"), "max 100000\n");
  EXPECT_EQ(slurp(d + "/io.max"), "8:0 wbps=max\n");

  // pids.limit 0 is unlimited too; a period alone keeps the quota in force.
  spit(d + "/pids.max", "");
  spit(d + "/cpu.max", "20000 100000\n");
  Resources u;
  u.pids_limit = 0;
  u.cpu_period = 50000;
  c.apply(u);
  EXPECT_EQ(slurp(d + "/pids.max"), "max\n");
  EXPECT_EQ(slurp(d + "/cpu.max"), "20000 100000\n20000 50000\n");

  // Swap alone: swap - the memory.max in force.
  spit(d + "/memory.max", "268435456\n");
  spit(d + "/memory.swap.max", "");
  Resources s;
  s.memory_swap = 300 * kMiB;
  c.apply(s);
  EXPECT_EQ(slurp(d + "/memory.swap.max"), std::to_string(44 * kMiB) + "\n");
}

TEST_F(CgroupLimitsFakeTest, PureV2Errors) {
  CgroupLayout l = v2_layout("cpuset cpu io memory hugetlb");  // no pids
  Cgroup c = Cgroup::create(l, "mult/a");
  std::string d = tmp_ + "/sys/fs/cgroup/mult/a";
  touch(d, {"memory.max", "memory.swap.max", "hugetlb.2MB.max", "cpu.max"});

  Resources r;
  r.pids_limit = 10;
  EXPECT_EQ(error_of([&] { c.apply(r); }), "pids.limit: the host has no pids controller");

  r = {};
  r.memory_limit = 1024;
  EXPECT_EQ(error_of([&] { c.apply(r); }),
            "memory.limit: 1024 is below the kernel's minimum for memory.max (one page, " +
                std::to_string(::sysconf(_SC_PAGESIZE)) + " bytes)");

  r = {};
  r.memory_limit = 256 * kMiB;
  r.memory_swap = 128 * kMiB;
  EXPECT_EQ(error_of([&] { c.apply(r); }),
            "memory.swap: 134217728 is below memory.limit (268435456); it is the total of memory and swap");

  r = {};
  r.memory_swap = 128 * kMiB;  // no limit anywhere
  EXPECT_EQ(error_of([&] { c.apply(r); }),
            "memory.swap: cgroup v2 needs a memory.limit with it (memory.swap.max is swap - limit)");

  r = {};
  r.memory_swappiness = 10;
  EXPECT_NE(error_of([&] { c.apply(r); }).find("memory.swappiness: cgroup v2 has no"), std::string::npos);
  r = {};
  r.disable_oom_killer = true;
  EXPECT_NE(error_of([&] { c.apply(r); }).find("memory.disableOOMKiller: "), std::string::npos);
  r = {};
  r.disable_oom_killer = false;  // the default: nothing to do
  EXPECT_EQ(error_of([&] { c.apply(r); }), "(no error)");
  r = {};
  r.cpu_realtime_runtime = 1000;
  EXPECT_NE(error_of([&] { c.apply(r); }).find("cpu.realtimeRuntime: cgroup v2 has no realtime"),
            std::string::npos);
  r = {};
  r.memory_kernel_tcp = 16 * kMiB;
  EXPECT_EQ(error_of([&] { c.apply(r); }),
            "memory.kernelTCP: cgroup v2 has no TCP buffer limit (the host's memory is cgroup v2)");
  // network: v1 controllers only.
  r = {};
  r.net_class_id = 0x100001;
  EXPECT_EQ(error_of([&] { c.apply(r); }), "network.classID: the host has no net_cls controller");
  r = {};
  r.net_priorities = {{"eth0", 5}};
  EXPECT_EQ(error_of([&] { c.apply(r); }), "network.priorities: the host has no net_prio controller");

  r = {};
  r.hugepage_limits["1GB"] = 1 << 30;
  EXPECT_EQ(error_of([&] { c.apply(r); }),
            "hugepageLimits[\"1GB\"]: the host has no 1GB huge pages (no hugetlb.1GB.max)");
  r.hugepage_limits = {{"../x", 1}};
  EXPECT_EQ(error_of([&] { c.apply(r); }), "hugepageLimits[\"../x\"]: not a page size (like \"2MB\")");

  r = {};
  r.cpu_shares = 512;  // cpu.weight missing: the file is named
  EXPECT_EQ(error_of([&] { c.apply(r); }), "cpu.shares: the host has no cpu.weight (in " + d + ")");

  for (const char* key : {"../cgroup.procs", "a/b", "..", ""}) {
    r = {};
    r.unified[key] = "1";
    EXPECT_EQ(error_of([&] { c.apply(r); }), "unified[\"" + std::string(key) + "\"]: not a cgroup file name");
  }
  r = {};
  r.unified["memory.oom.group"] = "1";
  EXPECT_NE(error_of([&] { c.apply(r); }).find("unified[\"memory.oom.group\"]: no such file in " + d),
            std::string::npos);
  EXPECT_FALSE(fs::exists(d + "/memory.oom.group"));  // never made
}

TEST_F(CgroupLimitsFakeTest, PureV1WritesEveryFile) {
  CgroupLayout l = v1_layout();
  Cgroup c = Cgroup::create(l, "mult/a");
  touch(cg("memory"), {"memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes",
                       "memory.swappiness", "memory.oom_control", "memory.kmem.limit_in_bytes",
                       "memory.kmem.tcp.limit_in_bytes"});
  touch(cg("cpu,cpuacct"), {"cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.rt_runtime_us",
                            "cpu.rt_period_us", "cpu.idle"});
  touch(cg("cpuset"), {"cpuset.cpus", "cpuset.mems"});
  touch(cg("pids"), {"pids.max"});
  touch(cg("blkio"), {"blkio.weight", "blkio.weight_device", "blkio.throttle.read_bps_device",
                      "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device",
                      "blkio.throttle.write_iops_device"});
  touch(cg("hugetlb"), {"hugetlb.2MB.limit_in_bytes"});
  touch(cg("devices"), {"devices.allow", "devices.deny"});

  Resources r = full_resources();
  r.memory_swappiness = 30;
  r.disable_oom_killer = true;
  r.memory_kernel_tcp = 16 * kMiB;
  r.cpu_realtime_runtime = 950000;
  r.cpu_realtime_period = 1000000;
  r.throttle_write_bps.push_back({8, 0, 4096});
  r.throttle_read_iops.push_back({8, 16, 10});
  r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  r.devices.push_back({true, "c", 136, std::nullopt, "rw"});
  r.devices.push_back({true, "a", std::nullopt, std::nullopt, "r"});
  r.devices.push_back({false, "c", 1, 3, "w"});
  c.apply(r);

  EXPECT_EQ(slurp(cg("memory") + "/memory.limit_in_bytes"), "268435456\n");
  EXPECT_EQ(slurp(cg("memory") + "/memory.memsw.limit_in_bytes"), "536870912\n");  // memory + swap
  EXPECT_EQ(slurp(cg("memory") + "/memory.soft_limit_in_bytes"), "134217728\n");
  EXPECT_EQ(slurp(cg("memory") + "/memory.swappiness"), "30\n");
  EXPECT_EQ(slurp(cg("memory") + "/memory.oom_control"), "1\n");
  EXPECT_EQ(slurp(cg("memory") + "/memory.kmem.limit_in_bytes"), "");  // deprecated: ignored
  EXPECT_EQ(slurp(cg("memory") + "/memory.kmem.tcp.limit_in_bytes"), "16777216\n");
  EXPECT_EQ(slurp(cg("cpu,cpuacct") + "/cpu.shares"), "1024\n");
  EXPECT_EQ(slurp(cg("cpu,cpuacct") + "/cpu.cfs_quota_us"), "50000\n");
  EXPECT_EQ(slurp(cg("cpu,cpuacct") + "/cpu.cfs_period_us"), "100000\n");
  EXPECT_EQ(slurp(cg("cpu,cpuacct") + "/cpu.rt_runtime_us"), "950000\n");
  EXPECT_EQ(slurp(cg("cpu,cpuacct") + "/cpu.rt_period_us"), "1000000\n");
  EXPECT_EQ(slurp(cg("cpu,cpuacct") + "/cpu.idle"), "0\n");
  EXPECT_EQ(slurp(cg("cpuset") + "/cpuset.cpus"), "0-1\n");
  EXPECT_EQ(slurp(cg("cpuset") + "/cpuset.mems"), "0\n");
  EXPECT_EQ(slurp(cg("pids") + "/pids.max"), "100\n");
  EXPECT_EQ(slurp(cg("blkio") + "/blkio.weight"), "500\n");
  EXPECT_EQ(slurp(cg("blkio") + "/blkio.weight_device"), "8:0 100\n");
  EXPECT_EQ(slurp(cg("blkio") + "/blkio.throttle.read_bps_device"), "8:0 1048576\n8:16 2048\n");
  EXPECT_EQ(slurp(cg("blkio") + "/blkio.throttle.write_bps_device"), "8:0 4096\n");
  EXPECT_EQ(slurp(cg("blkio") + "/blkio.throttle.read_iops_device"), "8:16 10\n");
  EXPECT_EQ(slurp(cg("blkio") + "/blkio.throttle.write_iops_device"), "8:0 100\n");
  EXPECT_EQ(slurp(cg("hugetlb") + "/hugetlb.2MB.limit_in_bytes"), "4194304\n");
  // Deny all first, then each rule in order to the file of its kind.
  EXPECT_EQ(slurp(cg("devices") + "/devices.deny"), "a\na\nc 1:3 w\n");
  EXPECT_EQ(slurp(cg("devices") + "/devices.allow"), "c 1:3 rwm\nc 136:* rw\nc *:* r\nb *:* r\n");
}

// net_cls and net_prio, where a v1 host mounts them (together, as usual).
TEST_F(CgroupLimitsFakeTest, PureV1Network) {
  auto mounts = v1_mounts();
  mounts.push_back("/sys/fs/cgroup/net_cls,net_prio");
  CgroupLayout l = detect(std::string("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n") + kV1Lines +
                              "40 31 0:37 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n",
                          mounts);
  Resources r;
  r.net_class_id = 0x100001;
  r.net_priorities = {{"lo", 1}, {"eth0", 5}};
  EXPECT_EQ(Cgroup::controllers_for(r), (std::vector<std::string>{"net_cls", "net_prio"}));
  Cgroup c = Cgroup::create(l, "mult/a", Cgroup::controllers_for(r));
  touch(cg("net_cls,net_prio"), {"net_cls.classid", "net_prio.ifpriomap"});
  c.apply(r);
  EXPECT_EQ(slurp(cg("net_cls,net_prio") + "/net_cls.classid"), "1048577\n");
  EXPECT_EQ(slurp(cg("net_cls,net_prio") + "/net_prio.ifpriomap"), "lo 1\neth0 5\n");
}

TEST_F(CgroupLimitsFakeTest, PureV1Variants) {
  CgroupLayout l = v1_layout();
  Cgroup c = Cgroup::create(l, "mult/a");
  // BFQ's files when blkio.weight is gone (CFQ removed from the kernel).
  touch(cg("blkio"), {"blkio.bfq.weight", "blkio.bfq.weight_device"});
  touch(cg("memory"), {"memory.limit_in_bytes"});
  touch(cg("pids"), {"pids.max"});
  touch(cg("cpu,cpuacct"), {"cpu.cfs_quota_us"});
  Resources r;
  r.blkio_weight = 300;
  r.blkio_weight_device.push_back({8, 0, uint16_t{200}, std::nullopt});
  r.memory_limit = -1;
  r.memory_swap = -1;  // no memsw file: unlimited is what the host has anyway
  r.pids_limit = -1;
  r.cpu_quota = -1;
  c.apply(r);
  EXPECT_EQ(slurp(cg("blkio") + "/blkio.bfq.weight"), "300\n");
  EXPECT_EQ(slurp(cg("blkio") + "/blkio.bfq.weight_device"), "8:0 200\n");
  EXPECT_EQ(slurp(cg("memory") + "/memory.limit_in_bytes"), "-1\n");
  EXPECT_EQ(slurp(cg("pids") + "/pids.max"), "max\n");
  EXPECT_EQ(slurp(cg("cpu,cpuacct") + "/cpu.cfs_quota_us"), "-1\n");

  // A real swap limit without memsw: the host does not account swap.
  r = {};
  r.memory_limit = 64 * kMiB;
  r.memory_swap = 128 * kMiB;
  EXPECT_NE(error_of([&] { c.apply(r); }).find("memory.swap: the host does not account swap"), std::string::npos);
  // Missing files name the field and the file.
  r = {};
  r.cpu_idle = 1;
  EXPECT_EQ(error_of([&] { c.apply(r); }), "cpu.idle: the host has no cpu.idle (in " + cg("cpu,cpuacct") + ")");
  r = {};
  r.blkio_leaf_weight = 10;
  EXPECT_NE(error_of([&] { c.apply(r); }).find("blockIO.leafWeight: the host has no blkio.leaf_weight"),
            std::string::npos);
  // No unified hierarchy for the unified map.
  r = {};
  r.unified["memory.high"] = "1";
  EXPECT_EQ(error_of([&] { c.apply(r); }), "unified: the host has no cgroup v2 hierarchy");
}

TEST_F(CgroupLimitsFakeTest, HybridPutsEachControllerWhereItIs) {
  CgroupLayout l = hybrid_layout();
  Resources r;
  r.memory_limit = 64 * kMiB;
  r.hugepage_limits["2MB"] = 2 * kMiB;
  std::vector<std::string> need = Cgroup::controllers_for(r);
  EXPECT_EQ(need, (std::vector<std::string>{"memory", "hugetlb"}));
  Cgroup c = Cgroup::create(l, "mult/a", need);
  // Joined: memory (v1) and unified; not the other v1 hierarchies.
  EXPECT_EQ(c.dirs(), (std::vector<std::string>{cg("memory"), cg("unified")}));
  touch(cg("memory"), {"memory.limit_in_bytes"});
  touch(cg("unified"), {"hugetlb.2MB.max"});
  c.apply(r);
  EXPECT_EQ(slurp(cg("memory") + "/memory.limit_in_bytes"), "67108864\n");
  EXPECT_EQ(slurp(cg("unified") + "/hugetlb.2MB.max"), "2097152\n");
  EXPECT_FALSE(fs::exists(cg("unified") + "/memory.max"));

  // A limit whose hierarchy the instance did not join is an error, not a skip.
  Resources p;
  p.pids_limit = 5;
  EXPECT_EQ(error_of([&] { c.apply(p); }),
            "pids.limit: the instance's cgroup is not in the pids hierarchy");
  // Devices on a hybrid host: a BPF program on the unified directory (this
  // fake one is no cgroup, so the kernel refuses it), never the v1 files.
  Resources d;
  d.devices.push_back({true, "c", 1, 3, "rwm"});
  EXPECT_FALSE(l.joins(*l.v1_for("devices"), {"devices"}));
  std::string e = error_of([&] { c.apply(d); });
  EXPECT_TRUE(e.starts_with("devices: ")) << e;
  EXPECT_EQ(e.find("not in the devices"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(cg("devices")));
}

TEST_F(CgroupLimitsFakeTest, ControllersFor) {
  Resources r;
  EXPECT_TRUE(Cgroup::controllers_for(r).empty());
  r.memory_kernel = 1;  // deprecated: needs nothing
  EXPECT_TRUE(Cgroup::controllers_for(r).empty());
  r = full_resources();
  r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  EXPECT_EQ(Cgroup::controllers_for(r),
            (std::vector<std::string>{"memory", "cpu", "cpuset", "pids", "blkio", "hugetlb", "devices"}));
  Resources t;
  t.throttle_write_iops.push_back({8, 0, 1});
  EXPECT_EQ(Cgroup::controllers_for(t), std::vector<std::string>{"blkio"});
}

TEST_F(CgroupLimitsFakeTest, StatsV1) {
  CgroupLayout l = v1_layout();
  Cgroup c = Cgroup::create(l, "mult/a");
  spit(cg("cpu,cpuacct") + "/cpuacct.usage", "123456789\n");
  spit(cg("memory") + "/memory.usage_in_bytes", "1000000\n");
  spit(cg("memory") + "/memory.stat", "cache 5\ninactive_file 1\ntotal_cache 5\ntotal_inactive_file 400000\n");
  spit(cg("memory") + "/memory.limit_in_bytes", "9223372036854771712\n");
  spit(cg("memory") + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  spit(cg("pids") + "/pids.current", "3\n");
  spit(cg("pids") + "/pids.max", "max\n");
  spit(cg("blkio") + "/blkio.throttle.io_service_bytes_recursive",
       "8:0 Read 100\n8:0 Write 200\n8:0 Sync 300\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 300\n"
       "8:16 Read 1\n8:16 Write 0\nTotal 301\n");
  CgroupStats s = c.stats();
  EXPECT_EQ(s.cpu_usage_ns, 123456789u);
  EXPECT_EQ(s.memory_usage, std::optional<uint64_t>(600000));
  EXPECT_EQ(s.memory_limit, std::nullopt);  // >= 2^62: unlimited
  EXPECT_EQ(s.oom_kills, 2u);
  EXPECT_EQ(s.pids, 3u);
  EXPECT_EQ(s.pids_limit, std::nullopt);
  EXPECT_EQ(s.io_read_bytes, 101u);
  EXPECT_EQ(s.io_write_bytes, 200u);

  spit(cg("memory") + "/memory.limit_in_bytes", "67108864\n");
  spit(cg("pids") + "/pids.max", "50\n");
  s = c.stats();
  EXPECT_EQ(s.memory_limit, std::optional<uint64_t>(64 * kMiB));
  EXPECT_EQ(s.pids_limit, std::optional<uint64_t>(50));
}

TEST_F(CgroupLimitsFakeTest, StatsV2) {
  CgroupLayout l = v2_layout();
  Cgroup c = Cgroup::create(l, "mult/a");
  std::string d = tmp_ + "/sys/fs/cgroup/mult/a";
  spit(d + "/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  spit(d + "/memory.current", "5000\n");
  spit(d + "/memory.stat", "anon 4000\nfile 1000\nactive_file 900\ninactive_file 100\n");
  spit(d + "/memory.max", "max\n");
  spit(d + "/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
  spit(d + "/pids.current", "4\n");
  spit(d + "/pids.max", "50\n");
  spit(d + "/io.stat",
       "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=5 wbytes=0 rios=1 wios=0 dbytes=0 "
       "dios=0\n");
  CgroupStats s = c.stats();
  EXPECT_EQ(s.cpu_usage_ns, 1500000u);
  EXPECT_EQ(s.memory_usage, std::optional<uint64_t>(4900));
  EXPECT_EQ(s.memory_limit, std::nullopt);
  EXPECT_EQ(s.oom_kills, 1u);
  EXPECT_EQ(s.pids, 4u);
  EXPECT_EQ(s.pids_limit, std::optional<uint64_t>(50));
  EXPECT_EQ(s.io_read_bytes, 15u);
  EXPECT_EQ(s.io_write_bytes, 20u);
  spit(d + "/memory.max", "1048576\n");
  EXPECT_EQ(c.stats().memory_limit, std::optional<uint64_t>(1048576));
}

TEST_F(CgroupLimitsFakeTest, StatsHybridUnifiedOnlyAndMissingFiles) {
  CgroupLayout l = hybrid_layout();
  Cgroup c = Cgroup::create(l, "mult/a", std::vector<std::string>{});
  ASSERT_EQ(c.dirs(), std::vector<std::string>{cg("unified")});
  // Nothing at all: zeros, no error; memory unknown (no memory hierarchy).
  CgroupStats s = c.stats();
  EXPECT_EQ(s.cpu_usage_ns, 0u);
  EXPECT_EQ(s.pids, 0u);
  EXPECT_EQ(s.memory_usage, std::nullopt);
  EXPECT_EQ(s.memory_limit, std::nullopt);
  // cpu.stat is in every v2 cgroup; pids come from cgroup.procs.
  spit(cg("unified") + "/cpu.stat", "usage_usec 7\n");
  spit(cg("unified") + "/cgroup.procs", "5\n6\n");
  s = c.stats();
  EXPECT_EQ(s.cpu_usage_ns, 7000u);
  EXPECT_EQ(s.pids, 2u);
  EXPECT_EQ(s.pids_limit, std::nullopt);
  fs::remove(cg("unified") + "/cgroup.procs");
  fs::remove(cg("unified") + "/cpu.stat");
}

TEST(CgroupLimitsConversionTest, Table) {
  EXPECT_EQ(cpu_shares_to_weight(2), 1u);
  EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);
  EXPECT_EQ(cpu_shares_to_weight(1024), 39u);
  EXPECT_EQ(cpu_shares_to_weight(0), 1u);          // below the range: clamped
  EXPECT_EQ(cpu_shares_to_weight(1000000), 10000u);  // above it
  EXPECT_EQ(blkio_weight_to_io_weight(10), 1u);
  EXPECT_EQ(blkio_weight_to_io_weight(1000), 10000u);
  EXPECT_EQ(blkio_weight_to_io_weight(500), 4950u);
  EXPECT_EQ(blkio_weight_to_io_weight(100), 910u);
  EXPECT_EQ(cpu_quota_for(0.5), 50000);
  EXPECT_EQ(cpu_quota_for(1.5, 200000), 300000);
}

TEST(CgroupLimitsParseTest, Sizes) {
  EXPECT_EQ(parse_size("256M", "--memory"), 256 * kMiB);
  EXPECT_EQ(parse_size("1g", "--memory"), int64_t{1} << 30);
  EXPECT_EQ(parse_size("512k", "--memory"), 512 * 1024);
  EXPECT_EQ(parse_size("1024", "--memory"), 1024);
  EXPECT_EQ(parse_size("1.5G", "--memory"), int64_t{3} << 29);
  EXPECT_EQ(parse_size("2MB", "--memory"), 2 * kMiB);
  EXPECT_EQ(parse_size("2MiB", "--memory"), 2 * kMiB);
  EXPECT_EQ(parse_size("2mib", "--memory"), 2 * kMiB);
  EXPECT_EQ(parse_size("1T", "--memory"), int64_t{1} << 40);
  EXPECT_EQ(parse_size("100b", "--memory"), 100);
  EXPECT_EQ(parse_size("0.5k", "--memory"), 512);

  auto msg = [](const std::string& v) { return error_of([&] { parse_size(v, "--memory"); }); };
  EXPECT_EQ(msg("12Q"), "--memory \"12Q\": unknown unit \"Q\" (use K, M, G, T)");
  EXPECT_EQ(msg("12QB"), "--memory \"12QB\": unknown unit \"Q\" (use K, M, G, T)");
  EXPECT_EQ(msg("-5"), "--memory \"-5\": must be a positive size");
  EXPECT_EQ(msg("0"), "--memory \"0\": must be a positive size");
  EXPECT_EQ(msg(""), "--memory \"\": not a size");
  EXPECT_EQ(msg("abc"), "--memory \"abc\": not a size");
  EXPECT_EQ(msg("1.5"), "--memory \"1.5\": not a whole number of bytes");
  EXPECT_EQ(msg("1."), "--memory \"1.\": not a size");
  EXPECT_EQ(msg("9999999T"), "--memory \"9999999T\": too large");
  EXPECT_EQ(msg("99999999999999999999"), "--memory \"99999999999999999999\": too large");
  try {
    parse_size("x", "--memory");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kExitUsage);
  }
}

TEST(CgroupLimitsParseTest, Cpus) {
  EXPECT_DOUBLE_EQ(parse_cpus("0.5", "--cpus"), 0.5);
  EXPECT_DOUBLE_EQ(parse_cpus("2", "--cpus"), 2.0);
  EXPECT_DOUBLE_EQ(parse_cpus("0.01", "--cpus"), 0.01);
  EXPECT_EQ(cpu_quota_for(parse_cpus("1.25", "--cpus")), 125000);
  auto msg = [](const std::string& v) { return error_of([&] { parse_cpus(v, "--cpus"); }); };
  EXPECT_EQ(msg("0.001"), "--cpus 0.001: below the kernel's minimum (0.01)");
  EXPECT_EQ(msg("0"), "--cpus 0: must be more than 0");
  EXPECT_EQ(msg("-1"), "--cpus -1: must be more than 0");
  EXPECT_EQ(msg("abc"), "--cpus abc: not a number of CPUs");
  EXPECT_EQ(msg("1e3"), "--cpus 1e3: not a number of CPUs");
  EXPECT_EQ(msg("1.2.3"), "--cpus 1.2.3: not a number of CPUs");
  EXPECT_EQ(msg(""), "--cpus : not a number of CPUs");
  EXPECT_EQ(msg("999999999999"), "--cpus 999999999999: too large");
}

TEST(CgroupLimitsParseTest, DeviceRates) {
  auto r = parse_device_rate("8:0:10M", "--device-read-bps");
  EXPECT_EQ(r.first, (std::pair<int64_t, int64_t>{8, 0}));
  EXPECT_EQ(r.second, uint64_t(10 * kMiB));
  r = parse_device_rate("259:16:1000", "--device-read-iops");
  EXPECT_EQ(r.first, (std::pair<int64_t, int64_t>{259, 16}));
  EXPECT_EQ(r.second, 1000u);

  auto msg = [](const std::string& v) { return error_of([&] { parse_device_rate(v, "--device-read-bps"); }); };
  EXPECT_EQ(msg("/dev/null:1M"), "--device-read-bps \"/dev/null:1M\": /dev/null is not a block device");
  EXPECT_EQ(msg("/no/such/dev:1M"), "--device-read-bps \"/no/such/dev:1M\": /no/such/dev: No such file or directory");
  EXPECT_EQ(msg("8:0"), "--device-read-bps \"8:0\": expected DEVICE:RATE (like /dev/sda:10M or 8:0:10M)");
  EXPECT_EQ(msg("/dev/sda"), "--device-read-bps \"/dev/sda\": expected DEVICE:RATE (like /dev/sda:10M or 8:0:10M)");
  EXPECT_EQ(msg("8:0:12Q"), "--device-read-bps \"8:0:12Q\": unknown unit \"Q\" (use K, M, G, T)");
  EXPECT_EQ(msg("8:0:0"), "--device-read-bps \"8:0:0\": must be a positive size");
  EXPECT_EQ(msg("a:b:1M"),
            "--device-read-bps \"a:b:1M\": expected a block device path or MAJOR:MINOR before the rate, got \"a:b\"");

  // A block device node, made where we can when the host has none to use.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a block device node";
  char tmpl[] = "/tmp/mult-limits-dev-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string node = std::string(tmpl) + "/blk";
  if (::mknod(node.c_str(), S_IFBLK | 0600, makedev(7, 3)) != 0) {
    fs::remove_all(tmpl);
    GTEST_SKIP() << "mknod: " << std::strerror(errno);
  }
  r = parse_device_rate(node + ":1.5k", "--device-write-bps");
  fs::remove_all(tmpl);
  EXPECT_EQ(r.first, (std::pair<int64_t, int64_t>{7, 3}));
  EXPECT_EQ(r.second, 1536u);
}

// ---- the host ---------------------------------------------------------------

class CgroupLimitsHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    try {
      layout_ = CgroupLayout::host();
    } catch (const Error& e) {
      GTEST_SKIP() << e.what();
    }
    if (layout_.hierarchies.empty()) GTEST_SKIP() << "no cgroup mounted";
    path_ = "mult-limits-test-" + std::to_string(::getpid());
  }

  void TearDown() override {
    for (pid_t p : children_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    children_.clear();
    for (const auto& h : layout_.hierarchies) {
      std::string dir = h.mount_point + "/" + path_;
      for (int i = 0; i < 200 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // The file of a controller in this instance's cgroup: its v1 hierarchy,
  // else the unified one.
  std::string file(const std::string& controller, const std::string& v1, const std::string& v2) {
    if (const CgroupHierarchy* h = layout_.v1_for(controller)) return h->mount_point + "/" + path_ + "/" + v1;
    return layout_.unified()->mount_point + "/" + path_ + "/" + v2;
  }

  bool has_controller(const std::string& c) {
    if (layout_.v1_for(c)) return true;
    const CgroupHierarchy* u = layout_.unified();
    return u && std::find(u->controllers.begin(), u->controllers.end(), c) != u->controllers.end();
  }

  // A child that waits for the gate, then runs `body` and exits with its value.
  template <typename F>
  pid_t spawn(int& gate_write, F body) {
    int gate[2];
    EXPECT_EQ(::pipe2(gate, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {}
      ::_exit(body());
    }
    ::close(gate[0]);
    children_.push_back(pid);
    gate_write = gate[1];
    return pid;
  }

  void open_gate(int gate_write) {
    EXPECT_EQ(::write(gate_write, "x", 1), 1);
    ::close(gate_write);
  }

  int wait_child(pid_t pid) {
    int status = -1;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
    return status;
  }

  // In the cgroup: opens /dev/null (allowed) and /dev/zero (denied).
  // 0: as expected; 1: /dev/null refused; 2: /dev/zero opened; 3: other errno.
  static int device_probe() {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    ::close(fd);
    fd = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) return 2;
    return errno == EPERM ? 0 : 3;
  }

  void expect_devices_enforced(const Cgroup& c) {
    int gate;
    pid_t pid = spawn(gate, device_probe);
    c.add_process(pid);
    open_gate(gate);
    int status = wait_child(pid);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: /dev/null refused, 2: /dev/zero opened, 3: not EPERM";
  }

  CgroupLayout layout_;
  std::string path_;
  std::vector<pid_t> children_;
};

TEST_F(CgroupLimitsHostTest, ApplyReadBackAndStats) {
  for (const char* c : {"memory", "pids", "cpu", "cpuset"})
    if (!has_controller(c)) GTEST_SKIP() << "no " << c << " controller";
  Cgroup c = Cgroup::create(layout_, path_, {"memory", "pids", "cpu", "cpuset"});
  Resources r;
  r.memory_limit = 64 * kMiB;
  r.pids_limit = 50;
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  r.cpu_shares = 512;
  r.cpu_cpus = "0";
  r.cpu_mems = "0";
  c.apply(r);
  EXPECT_EQ(slurp(file("memory", "memory.limit_in_bytes", "memory.max")), "67108864\n");
  EXPECT_EQ(slurp(file("pids", "pids.max", "pids.max")), "50\n");
  EXPECT_EQ(slurp(file("cpuset", "cpuset.cpus", "cpuset.cpus")), "0\n");
  EXPECT_EQ(slurp(file("cpuset", "cpuset.mems", "cpuset.mems")), "0\n");
  if (layout_.v1_for("cpu")) {
    EXPECT_EQ(slurp(file("cpu", "cpu.cfs_quota_us", "")), "50000\n");
    EXPECT_EQ(slurp(file("cpu", "cpu.cfs_period_us", "")), "100000\n");
    EXPECT_EQ(slurp(file("cpu", "cpu.shares", "")), "512\n");
  } else {
    EXPECT_EQ(slurp(file("cpu", "", "cpu.max")), "50000 100000\n");
    EXPECT_EQ(slurp(file("cpu", "", "cpu.weight")), std::to_string(cpu_shares_to_weight(512)) + "\n");
  }

  // Swap: up and down again, keeping memory <= memory+swap at every step.
  bool swap = fs::exists(file("memory", "memory.memsw.limit_in_bytes", "memory.swap.max"));
  if (swap) {
    for (int64_t mib : {64, 256, 32}) {
      Resources s;
      s.memory_limit = mib * kMiB;
      s.memory_swap = 2 * mib * kMiB;
      ASSERT_EQ(error_of([&] { c.apply(s); }), "(no error)") << mib;
      EXPECT_EQ(slurp(file("memory", "memory.limit_in_bytes", "memory.max")), std::to_string(mib * kMiB) + "\n");
      EXPECT_EQ(slurp(file("memory", "memory.memsw.limit_in_bytes", "memory.swap.max")),
                std::to_string((layout_.v1_for("memory") ? 2 : 1) * mib * kMiB) + "\n");
    }
    r.memory_swap = -1;  // and back to unlimited swap for what follows
    c.apply(r);
  }

  // The other v1 files take what apply() writes.
  if (layout_.v1_for("memory")) {
    Resources m;
    m.memory_swappiness = 30;
    m.disable_oom_killer = true;
    m.memory_reservation = 32 * kMiB;
    c.apply(m);
    EXPECT_EQ(slurp(file("memory", "memory.swappiness", "")), "30\n");
    EXPECT_NE(slurp(file("memory", "memory.oom_control", "")).find("oom_kill_disable 1"), std::string::npos);
    EXPECT_EQ(slurp(file("memory", "memory.soft_limit_in_bytes", "")), "33554432\n");
  }
  if (fs::exists(file("cpu", "cpu.idle", "cpu.idle"))) {
    Resources i;
    i.cpu_idle = 1;
    c.apply(i);
    EXPECT_EQ(slurp(file("cpu", "cpu.idle", "cpu.idle")), "1\n");
    i.cpu_idle = 0;  // an idle group may not run at all on a busy host
    c.apply(i);
  }

  // Errors name the field.
  Resources bad;
  bad.memory_limit = 1024;
  EXPECT_NE(error_of([&] { c.apply(bad); }).find("memory.limit: 1024 is below the kernel's minimum"),
            std::string::npos);
  bad = {};
  bad.cpu_cpus = "99999";
  std::string e = error_of([&] { c.apply(bad); });
  EXPECT_TRUE(e.starts_with("cpu.cpus: \"99999\" is not accepted by cpuset.cpus (")) << e;
  bad.cpu_cpus = "1-0";
  e = error_of([&] { c.apply(bad); });
  EXPECT_EQ(e, "cpu.cpus: \"1-0\" is not accepted by cpuset.cpus (Invalid argument)");
  bad = {};
  bad.throttle_read_bps.push_back({250, 250, 1});
  if (has_controller(layout_.v1_for("blkio") ? "blkio" : "io")) {
    // Not joined here (not asked for): an error either way, never a skip.
    EXPECT_NE(error_of([&] { c.apply(bad); }).find("blockIO.throttleReadBpsDevice: "), std::string::npos);
  }

  // Stats on a cgroup with a busy-then-sleeping child.
  int gate;
  pid_t pid = spawn(gate, [] {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
    volatile uint64_t x = 0;
    while (std::chrono::steady_clock::now() < until) x = x + 1;
    for (;;) ::pause();
    return 0;
  });
  c.add_process(pid);
  open_gate(gate);
  // Until the child has run its busy loop (a loaded host may be slow).
  CgroupStats s;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
       std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    s = c.stats();
    if (s.cpu_usage_ns >= 20'000'000) break;
  }
  EXPECT_GE(s.pids, 1u);
  EXPECT_EQ(s.pids_limit, std::optional<uint64_t>(50));
  EXPECT_EQ(s.memory_limit, std::optional<uint64_t>(64 * kMiB));
  EXPECT_GT(s.cpu_usage_ns, 0u);
  EXPECT_EQ(s.oom_kills, 0u);
  c.kill_all();
  wait_child(pid);
  c.remove();
}

TEST_F(CgroupLimitsHostTest, StatsWithoutLimits) {
  Cgroup c = Cgroup::create(layout_, path_, std::vector<std::string>{});
  int gate;
  pid_t pid = spawn(gate, [] {
    for (;;) ::pause();
    return 0;
  });
  c.add_process(pid);
  open_gate(gate);
  CgroupStats s = c.stats();
  EXPECT_GE(s.pids, 1u);
  c.kill_all();
  wait_child(pid);
  c.remove();
}

TEST_F(CgroupLimitsHostTest, Hugetlb2MB) {
  if (!has_controller("hugetlb")) GTEST_SKIP() << "no hugetlb controller";
  if (!fs::exists("/sys/kernel/mm/hugepages/hugepages-2048kB")) GTEST_SKIP() << "no 2MB huge pages";
  Cgroup c = Cgroup::create(layout_, path_, {"hugetlb"});
  Resources r;
  r.hugepage_limits["2MB"] = 4 * kMiB;
  c.apply(r);
  EXPECT_EQ(slurp(file("hugetlb", "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max")), "4194304\n");
  r.hugepage_limits = {{"3MB", 1}};
  EXPECT_EQ(error_of([&] { c.apply(r); }).find("hugepageLimits[\"3MB\"]: the host has no 3MB huge pages"), 0u);
  c.remove();
}

TEST_F(CgroupLimitsHostTest, BlkioThrottle) {
  if (!layout_.v1_for("blkio") && !has_controller("io")) GTEST_SKIP() << "no blkio/io controller";
  // A block device of this host, from /sys/block/*/dev.
  std::string id;
  for (const auto& e : fs::directory_iterator("/sys/block")) {
    std::string text = slurp(e.path().string() + "/dev");
    if (!text.empty()) {
      id = text.substr(0, text.find('\n'));
      break;
    }
  }
  if (id.empty()) GTEST_SKIP() << "no block device";
  int64_t major = std::stoll(id.substr(0, id.find(':'))), minor = std::stoll(id.substr(id.find(':') + 1));
  Cgroup c = Cgroup::create(layout_, path_, {"blkio"});
  Resources r;
  r.throttle_read_bps.push_back({major, minor, 1048576});
  r.throttle_write_iops.push_back({major, minor, 100});
  c.apply(r);
  if (layout_.v1_for("blkio")) {
    EXPECT_EQ(slurp(file("blkio", "blkio.throttle.read_bps_device", "")), id + " 1048576\n");
    EXPECT_EQ(slurp(file("blkio", "blkio.throttle.write_iops_device", "")), id + " 100\n");
  } else {
    std::string io_max = slurp(file("io", "", "io.max"));
    EXPECT_EQ(io_max, id + " rbps=1048576 wbps=max riops=max wiops=100\n");
  }
  if (layout_.v1_for("blkio")) {
    Resources w;
    w.blkio_weight = 500;
    std::string cfq = file("blkio", "blkio.weight", ""), bfq = file("blkio", "blkio.bfq.weight", "");
    if (fs::exists(cfq) || fs::exists(bfq)) {
      c.apply(w);
      EXPECT_NE(slurp(fs::exists(cfq) ? cfq : bfq).find("500"), std::string::npos);
    } else {
      // No proportional I/O scheduler (CFQ, BFQ) here: the error says so.
      EXPECT_TRUE(error_of([&] { c.apply(w); }).starts_with("blockIO.weight: the host has no blkio.weight (in "));
    }
  }
  // A device the host does not have.
  Resources bad;
  bad.throttle_read_bps.push_back({250, 250, 1});
  EXPECT_EQ(error_of([&] { c.apply(bad); }),
            "blockIO.throttleReadBpsDevice: device 250:250: " + std::string(std::strerror(ENODEV)));
  c.remove();
}

// The v1 devices controller, on the v1 hierarchies alone (as on a pure v1
// host: with cgroup2 there, a BPF program enforces the list instead).
TEST_F(CgroupLimitsHostTest, V1DevicesAllowList) {
  if (!layout_.v1_for("devices")) GTEST_SKIP() << "no v1 devices controller";
  layout_.hierarchies.erase(std::remove_if(layout_.hierarchies.begin(), layout_.hierarchies.end(),
                                           [](const CgroupHierarchy& h) { return h.v2; }),
                            layout_.hierarchies.end());
  layout_.mode = CgroupMode::kV1;
  Cgroup c = Cgroup::create(layout_, path_, {"devices"});
  Resources r;
  r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  c.apply(r);
  EXPECT_EQ(slurp(layout_.v1_for("devices")->mount_point + "/" + path_ + "/devices.list"), "c 1:3 rwm\n");
  expect_devices_enforced(c);
  c.remove();
}

// The cgroup v2 device program, on the unified hierarchy alone (as on a pure
// v2 host).
TEST_F(CgroupLimitsHostTest, V2DeviceProgram) {
  if (!layout_.unified()) GTEST_SKIP() << "no unified hierarchy";
  layout_.hierarchies.erase(std::remove_if(layout_.hierarchies.begin(), layout_.hierarchies.end(),
                                           [](const CgroupHierarchy& h) { return !h.v2; }),
                            layout_.hierarchies.end());
  layout_.mode = CgroupMode::kV2;
  Cgroup c = Cgroup::create(layout_, path_, {"devices"});
  Resources r;
  r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  std::string e = error_of([&] { c.apply(r); });
  if (e.find(std::strerror(EPERM)) != std::string::npos || e.find(std::strerror(ENOSYS)) != std::string::npos)
    GTEST_SKIP() << "bpf() refused here: " << e;
  ASSERT_EQ(e, "(no error)");
  expect_devices_enforced(c);

  // Again (an update): the program is replaced, not stacked; /dev/zero now too.
  Resources u = r;
  u.devices.push_back({true, "c", 1, 5, "r"});
  c.apply(u);
  int gate;
  pid_t pid = spawn(gate, [] {
    int z = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (z < 0) return 1;
    int w = ::open("/dev/zero", O_WRONLY | O_CLOEXEC);  // only r is allowed
    if (w >= 0) return 2;
    return errno == EPERM ? 0 : 3;
  });
  c.add_process(pid);
  open_gate(gate);
  int status = wait_child(pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: /dev/zero read refused, 2: write allowed, 3: not EPERM";

  // Rules in order, the last match deciding: allow all, then deny /dev/null.
  Resources v;
  v.devices.push_back({true, "a", std::nullopt, std::nullopt, "rwm"});
  v.devices.push_back({false, "c", 1, 3, "rwm"});
  c.apply(v);
  pid = spawn(gate, [] {
    int z = ::open("/dev/zero", O_RDWR | O_CLOEXEC);
    if (z < 0) return 1;
    int n = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (n >= 0) return 2;
    return errno == EPERM ? 0 : 3;
  });
  c.add_process(pid);
  open_gate(gate);
  status = wait_child(pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: /dev/zero refused, 2: /dev/null opened, 3: not EPERM";
  c.remove();
}

}  // namespace
}  // namespace mult
