// containerd with mult-oci as its runc binary: Debian's containerd runs as
// a child of the test with its own root, state and socket in a temporary
// directory (no CRI plugin, no network); ctr imports the busybox image
// (a docker-archive that podman saves offline from mult's busybox rootfs),
// runs containers and execs into them through containerd-shim-runc-v2.
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include <memory>

#include "oci_harness.hh"

namespace mult_it {
namespace {

class OciContainerd : public OciTest {
 protected:
  static void SetUpTestSuite() {
    for (const char* tool : {"containerd", "ctr", "containerd-shim-runc-v2", "podman"}) {
      if (find_tool(tool).empty()) {
        skip_ = std::string(tool) +
                " is not installed (scripts/deps installs containerd and podman; podman makes the "
                "image archive)";
        return;
      }
    }
    if (busybox_rootfs().empty()) {
      skip_ = "no busybox image";
      return;
    }
    dir_ = make_temp_root();
    for (const char* d : kHostDirs)
      if (path_exists(d)) existed_.push_back(d);
    write_text(dir_ + "/config.toml",
               "version = 2\n"
               "root = \"" + dir_ + "/root\"\n"
               "state = \"" + dir_ + "/state\"\n"
               "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.btrfs\",\n"
               "  \"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.devmapper\",\n"
               "  \"io.containerd.snapshotter.v1.aufs\", \"io.containerd.tracing.processor.v1.otlp\",\n"
               "  \"io.containerd.internal.v1.opt\"]\n"
               "[grpc]\n  address = \"" + dir_ + "/containerd.sock\"\n"
               "[ttrpc]\n  address = \"" + dir_ + "/containerd.sock.ttrpc\"\n"
               "[debug]\n  address = \"" + dir_ + "/debug.sock\"\n");
    containerd_ = std::make_unique<HostProcess>(
        Argv{"/bin/sh", "-c",
             "exec " + find_tool("containerd") + " --config " + dir_ + "/config.toml >" + dir_ +
                 "/containerd.log 2>&1"});
    if (!wait_until([] { return ctr({"version"}).status == 0; }, 30)) {
      setup_error_ = "containerd did not come up:\n" + read_text(dir_ + "/containerd.log");
      return;
    }
    // The image: busybox rootfs -> podman (private store) -> docker-archive -> ctr.
    std::string p = dir_ + "/podman";
    Argv podman = {find_tool("podman"), "--root", p + "/root", "--runroot", p + "/runroot",
                   "--tmpdir", p + "/tmp", "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                   "--events-backend", "file"};
    auto with = [&](Argv extra) {
      Argv a = podman;
      a.insert(a.end(), extra.begin(), extra.end());
      return a;
    };
    CmdResult tar = run_command({"/bin/tar", "-C", busybox_rootfs(), "-cf", dir_ + "/busybox.tar", "."}, 60);
    CmdResult imp = run_command(with({"import", dir_ + "/busybox.tar", kImage}), 120);
    CmdResult save =
        run_command(with({"save", "--format", "docker-archive", "-o", dir_ + "/image.tar", kImage}), 120);
    run_command(with({"rmi", "--all", "--force"}), 60);
    CmdResult load = ctr({"images", "import", dir_ + "/image.tar"}, 120);
    if (tar.status || imp.status || save.status || load.status)
      setup_error_ = "importing the busybox image: " + tar.describe() + "\n" + imp.describe() + "\n" +
                     save.describe() + "\n" + load.describe();
  }

  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    // Containers first (they outlive their shims), then containerd, its
    // shims and their mounts.
    CmdResult ls = run_command({MULT_OCI_BIN, "--root", oci_state(), "list", "--quiet"});
    for (const auto& id : split_lines(ls.out)) run_command({MULT_OCI_BIN, "--root", oci_state(), "delete", "--force", id});
    if (containerd_) {
      containerd_->signal(SIGTERM);
      if (!containerd_->wait(10)) containerd_->kill_and_reap();
      containerd_.reset();
    }
    kill_processes_mentioning(dir_);
    unmount_below(dir_);
    remove_temp_root(dir_);
    dir_.clear();
    // The shims' socket directory is fixed (/run/containerd/s): removed when
    // this suite made it and it is empty again.
    for (const char* d : kHostDirs)
      if (std::find(existed_.begin(), existed_.end(), d) == existed_.end()) ::rmdir(d);
  }

  // Deepest first.
  static constexpr const char* kHostDirs[] = {"/run/containerd/s", "/run/containerd/fifo", "/run/containerd"};

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_EQ(setup_error_, "");
    OciTest::SetUp();
  }

  void TearDown() override {
    if (!skip_.empty()) return;
    for (const auto& id : ids_) {
      ctr({"task", "kill", "--signal", "KILL", id});  // (most are gone already)
      wait_until([&] {
        for (const auto& line : split_lines(ctr({"task", "ls"}).out))
          if (line.rfind(id + " ", 0) == 0 && !contains(line, "STOPPED")) return false;
        return true;
      }, 5);
      ctr({"task", "delete", "--force", id});
      ctr({"containers", "delete", id});
    }
    // containerd deleted its containers through mult-oci: nothing stays.
    CmdResult left = run_command({MULT_OCI_BIN, "--root", oci_state(), "list", "--quiet"});
    EXPECT_EQ(trim(left.out), "") << "left in mult-oci's state: " << left.describe();
    OciTest::TearDown();
  }

  static CmdResult ctr(const Argv& args, double timeout = 60) {
    Argv argv = {find_tool("ctr"), "--address", dir_ + "/containerd.sock", "--namespace", kNamespace};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, timeout);
  }

  // mult-oci's state root as the shim uses it: --runc-root, per namespace.
  static std::string oci_state() { return dir_ + "/oci/" + kNamespace; }

  // ctr run with mult-oci as the runc binary.
  CmdResult run(const Argv& opts, const std::string& id, const Argv& command, double timeout = 60) {
    ids_.push_back(id);
    Argv a = {"run", "--runc-binary", MULT_OCI_BIN, "--runc-root", dir_ + "/oci", "--fifo-dir", dir_ + "/fifo"};
    a.insert(a.end(), opts.begin(), opts.end());
    a.push_back(kImage);
    a.push_back(id);
    a.insert(a.end(), command.begin(), command.end());
    return ctr(a, timeout);
  }

  static constexpr const char* kImage = "localhost/mult-busybox:oci";
  static constexpr const char* kNamespace = "mult-oci-test";
  static inline std::string dir_, skip_, setup_error_;
  static inline std::unique_ptr<HostProcess> containerd_;
  static inline std::vector<std::string> existed_;
  std::vector<std::string> ids_;
};

TEST_F(OciContainerd, RunPrintsAndPassesTheExitStatus) {
  CmdResult hi = run({"--rm"}, unique("hi"), {"echo", "hi"});
  EXPECT_EQ(hi.status, 0) << hi.describe();
  EXPECT_EQ(hi.out, "hi\n") << hi.describe();
  CmdResult five = run({"--rm"}, unique("five"), {"sh", "-c", "exit 5"});
  EXPECT_EQ(five.status, 5) << five.describe();
}

TEST_F(OciContainerd, TaskExecPsKill) {
  std::string id = unique("task");
  CmdResult r = run({"-d"}, id, {"sleep", "100"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_TRUE(contains(ctr({"task", "ls"}).out, "RUNNING")) << ctr({"task", "ls"}).describe();
  Json st = Json::parse(run_command({MULT_OCI_BIN, "--root", oci_state(), "state", id}).out);
  EXPECT_EQ(st["status"], "running");

  CmdResult e = ctr({"task", "exec", "--fifo-dir", dir_ + "/fifo", "--exec-id", "e1", id, "sh", "-c", "echo execd $(cat /proc/1/cmdline | tr '\\0' ' '); exit 3"});
  EXPECT_EQ(e.status, 3) << e.describe();
  EXPECT_TRUE(contains(e.out, "execd sleep 100")) << e.describe();

  CmdResult ps = ctr({"task", "ps", id});
  EXPECT_TRUE(contains(ps.out, std::to_string(st["pid"].get<int>()))) << ps.describe();

  CmdResult k = ctr({"task", "kill", "--signal", "KILL", id});
  EXPECT_EQ(k.status, 0) << k.describe();
  EXPECT_TRUE(wait_until([&] { return contains(ctr({"task", "ls"}).out, "STOPPED"); }, 10))
      << ctr({"task", "ls"}).describe();
  CmdResult del = ctr({"task", "delete", id});
  EXPECT_EQ(del.status, 0) << del.describe();
  EXPECT_NE(run_command({MULT_OCI_BIN, "--root", oci_state(), "state", id}).status, 0)
      << "task delete left the container in mult-oci";
  EXPECT_EQ(ctr({"containers", "delete", id}).status, 0);
}

}  // namespace
}  // namespace mult_it
