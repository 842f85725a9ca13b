// podman with --runtime mult-oci: run, exit status, detached containers
// with exec, ps, logs, stop and rm, terminals, limits, pause and unpause.
// podman keeps everything in a private temporary root (vfs storage, cgroupfs,
// file events, no network); the busybox image is imported from a tar of
// mult's busybox rootfs, offline.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>

#include <memory>

#include "oci_harness.hh"

namespace mult_it {
namespace {

class OciPodman : public OciTest {
 protected:
  static void SetUpTestSuite() {
    podman_ = find_tool("podman");
    if (podman_.empty() || find_tool("conmon").empty()) {
      skip_ = "podman and conmon are not installed (scripts/deps installs them)";
      return;
    }
    if (busybox_rootfs().empty()) {
      skip_ = "no busybox image";
      return;
    }
    dir_ = make_temp_root();
    for (const auto& d : podman_leftovers()) existed_.push_back(d);
    CmdResult tar = run_command({"/bin/tar", "-C", busybox_rootfs(), "-cf", dir_ + "/busybox.tar", "."}, 60);
    CmdResult imp = podman({"import", dir_ + "/busybox.tar", kImage}, 120);
    if (tar.status != 0 || imp.status != 0)
      setup_error_ = "importing the busybox image: " + tar.describe() + "\n" + imp.describe();
  }

  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    podman({"rm", "--all", "--force", "--time", "0"}, 60);
    podman({"rmi", "--all", "--force"}, 60);
    kill_processes_mentioning(dir_);  // conmon, should one be left
    unmount_below(dir_);
    remove_temp_root(dir_);
    dir_.clear();
    // What podman makes outside its roots and keeps (conmon's cgroups,
    // mult-oci's default state root), when this suite made it and it is empty.
    for (const auto& d : podman_leftovers()) {
      if (std::find(existed_.begin(), existed_.end(), d) != existed_.end()) continue;
      if (d == "/run/mult-oci") run_command({"/bin/rm", "-rf", "/run/mult-oci/.seccomp-cache"});
      ::rmdir(d.c_str());
    }
  }

  // Deepest first.
  static std::vector<std::string> podman_leftovers() {
    std::vector<std::string> out;
    if (DIR* d = ::opendir("/sys/fs/cgroup")) {
      while (struct dirent* e = ::readdir(d)) {
        std::string h = std::string("/sys/fs/cgroup/") + e->d_name;
        if (e->d_name[0] == '.' || !path_exists(h + "/libpod_parent")) continue;
        if (path_exists(h + "/libpod_parent/conmon")) out.push_back(h + "/libpod_parent/conmon");
        out.push_back(h + "/libpod_parent");
      }
      ::closedir(d);
    }
    if (path_exists("/run/mult-oci")) out.push_back("/run/mult-oci");
    return out;
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_EQ(setup_error_, "");
    OciTest::SetUp();
  }

  void TearDown() override {
    if (!skip_.empty()) return;
    CmdResult rm = podman({"rm", "--all", "--force", "--time", "0"}, 60);
    EXPECT_EQ(rm.status, 0) << rm.describe();
    // podman deleted its containers through mult-oci: nothing of them stays.
    for (const auto& id : ids_) {
      CmdResult st = run_command({MULT_OCI_BIN, "state", id});
      EXPECT_TRUE(contains(st.err, "does not exist")) << "left in mult-oci's state: " << st.describe();
    }
    OciTest::TearDown();
  }

  static CmdResult podman(const Argv& args, double timeout = 60) {
    Argv argv = {podman_,          "--root",           dir_ + "/root",  "--runroot",   dir_ + "/runroot",
                 "--tmpdir",       dir_ + "/tmp",      "--storage-driver", "vfs",      "--cgroup-manager",
                 "cgroupfs",       "--events-backend", "file",          "--runtime",   MULT_OCI_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, timeout);
  }

  // podman run with what every run here needs: no network, k8s-file logs,
  // and the ulimits this machine's hard limits allow.
  CmdResult run(const Argv& opts, const Argv& command, double timeout = 60) {
    Argv a = {"run", "--network", "none", "--log-driver", "k8s-file", "--ulimit", "nofile=1024:1024",
              "--ulimit", "nproc=1024:1024"};
    a.insert(a.end(), opts.begin(), opts.end());
    a.push_back(kImage);
    a.insert(a.end(), command.begin(), command.end());
    return podman(a, timeout);
  }

  std::string inspect(const std::string& name, const std::string& format) {
    CmdResult r = podman({"inspect", "--format", format, name});
    EXPECT_EQ(r.status, 0) << r.describe();
    return trim(r.out);
  }

  // A detached container; its full id is remembered for the leak check.
  std::string run_detached(const std::string& name, const Argv& opts, const Argv& command) {
    Argv o = {"-d", "--name", name};
    o.insert(o.end(), opts.begin(), opts.end());
    CmdResult r = run(o, command);
    EXPECT_EQ(r.status, 0) << r.describe();
    std::string id = trim(r.out);
    if (!id.empty()) ids_.push_back(id);
    return id;
  }

  static constexpr const char* kImage = "localhost/mult-busybox:oci";
  static inline std::string podman_, dir_, skip_, setup_error_;
  static inline std::vector<std::string> existed_;
  std::vector<std::string> ids_;
};

TEST_F(OciPodman, RunPrintsAndPassesTheExitStatus) {
  CmdResult hi = run({"--rm"}, {"echo", "hi"});
  EXPECT_EQ(hi.status, 0) << hi.describe();
  EXPECT_EQ(hi.out, "hi\n") << hi.describe();
  CmdResult seven = run({"--rm"}, {"sh", "-c", "exit 7"});
  EXPECT_EQ(seven.status, 7) << seven.describe();
  CmdResult pid1 = run({"--rm"}, {"sh", "-c", "echo $$"});
  EXPECT_EQ(trim(pid1.out), "1") << "the command is PID 1 of its container";
}

TEST_F(OciPodman, DetachedExecPsLogsStopRm) {
  std::string name = unique("pd");
  std::string id = run_detached(name, {}, {"sh", "-c", "echo started; trap 'exit 0' TERM; while :; do sleep 0.1; done"});
  ASSERT_FALSE(id.empty());
  Json st = Json::parse(run_command({MULT_OCI_BIN, "state", id}).out);
  EXPECT_EQ(st["status"], "running") << st.dump();

  CmdResult e = podman({"exec", name, "sh", "-c", "echo inside $(cat /proc/1/cmdline | tr '\\0' ' '); exit 3"});
  EXPECT_EQ(e.status, 3) << e.describe();
  EXPECT_TRUE(contains(e.out, "inside sh -c echo started")) << e.describe();

  CmdResult ps = podman({"ps", "--format", "{{.Names}} {{.Status}}"});
  EXPECT_TRUE(contains(ps.out, name + " Up")) << ps.describe();
  EXPECT_TRUE(wait_until([&] { return contains(podman({"logs", name}).out, "started"); }, 10))
      << podman({"logs", name}).describe();

  CmdResult stop = podman({"stop", "--time", "5", name});
  EXPECT_EQ(stop.status, 0) << stop.describe();
  EXPECT_EQ(inspect(name, "{{.State.Status}} {{.State.ExitCode}}"), "exited 0");
  CmdResult rm = podman({"rm", name});
  EXPECT_EQ(rm.status, 0) << rm.describe();
}

TEST_F(OciPodman, Terminal) {
  CmdResult t = run({"--rm", "-t"}, {"sh", "-c", "test -t 0 && test -t 1 && tty"});
  EXPECT_EQ(t.status, 0) << t.describe();
  EXPECT_TRUE(contains(t.out, "/dev/pts/0")) << t.describe();
  CmdResult no = run({"--rm"}, {"sh", "-c", "test -t 0"});
  EXPECT_NE(no.status, 0) << "a terminal without -t";

  std::string name = unique("pt");
  ASSERT_FALSE(run_detached(name, {}, {"sleep", "100"}).empty());
  CmdResult e = podman({"exec", "-t", name, "sh", "-c", "test -t 1 && echo exec-tty"});
  EXPECT_EQ(e.status, 0) << e.describe();
  EXPECT_TRUE(contains(e.out, "exec-tty")) << e.describe();
}

// The container's cgroup file `file` for controller `controller` (v1 name),
// found from the host through /proc/PID/cgroup.
std::string cgroup_file(pid_t pid, const std::string& controller, const std::string& v1_file,
                        const std::string& v2_file) {
  for (const auto& line : split_lines(read_text("/proc/" + std::to_string(pid) + "/cgroup"))) {
    auto c1 = line.find(':'), c2 = line.find(':', c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) continue;
    std::string ctrls = "," + line.substr(c1 + 1, c2 - c1 - 1) + ",", path = line.substr(c2 + 1);
    if (contains(ctrls, "," + controller + ",")) return "/sys/fs/cgroup/" + controller + path + "/" + v1_file;
  }
  for (const auto& line : split_lines(read_text("/proc/" + std::to_string(pid) + "/cgroup")))
    if (line.rfind("0::", 0) == 0) {
      std::string base = path_exists("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
      return base + line.substr(3) + "/" + v2_file;
    }
  return "";
}

TEST_F(OciPodman, MemoryAndPidsLimits) {
  // /sys/fs/cgroup is not mounted inside instances on a hybrid host: the
  // limits are checked from the host, in the container's own cgroups.
  std::string name = unique("pl");
  ASSERT_FALSE(run_detached(name, {"--memory", "64m", "--pids-limit", "50"}, {"sleep", "100"}).empty());
  pid_t pid = pid_t(std::stol(inspect(name, "{{.State.Pid}}")));
  ASSERT_GT(pid, 0);
  std::string mem = cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max");
  std::string pids = cgroup_file(pid, "pids", "pids.max", "pids.max");
  EXPECT_EQ(trim(read_text(mem)), "67108864") << mem << "\n" << read_text("/proc/" + std::to_string(pid) + "/cgroup");
  EXPECT_EQ(trim(read_text(pids)), "50") << pids;
  // The limit holds: a fork bomb of 60 sleeps gets fewer than 50 processes.
  CmdResult bomb = podman({"exec", name, "sh", "-c",
                           "for i in $(seq 60); do sleep 5 & done 2>/dev/null; ls /proc | grep -c '^[0-9]'"});
  EXPECT_LE(std::atoi(trim(bomb.out).c_str()), 50) << bomb.describe();
}

TEST_F(OciPodman, PauseUnpause) {
  std::string name = unique("pp");
  std::string id = run_detached(name, {}, {"sleep", "100"});
  ASSERT_FALSE(id.empty());
  CmdResult p = podman({"pause", name});
  ASSERT_EQ(p.status, 0) << p.describe();
  EXPECT_EQ(inspect(name, "{{.State.Status}}"), "paused");
  EXPECT_EQ(Json::parse(run_command({MULT_OCI_BIN, "state", id}).out)["status"], "paused");
  CmdResult u = podman({"unpause", name});
  ASSERT_EQ(u.status, 0) << u.describe();
  EXPECT_EQ(inspect(name, "{{.State.Status}}"), "running");
  EXPECT_EQ(Json::parse(run_command({MULT_OCI_BIN, "state", id}).out)["status"], "running");
}

}  // namespace
}  // namespace mult_it
