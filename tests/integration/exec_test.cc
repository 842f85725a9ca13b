// mult exec: into the init's namespaces and cgroups, with its exit status.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include "harness.hh"

namespace mult_it {
namespace {

using IntegrationExec = MultTest;

const char* kNamespaces[] = {"mnt", "uts", "ipc", "net", "pid", "cgroup"};

std::string ns_link(pid_t pid, const std::string& ns) {
  char buf[256] = {};
  std::string path = (pid ? "/proc/" + std::to_string(pid) : std::string("/proc/self")) + "/ns/" + ns;
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : "";
}

// The first child of `pid` (from /proc/PID/task/PID/children).
pid_t first_child(pid_t pid) {
  std::string p = std::to_string(pid);
  auto w = split_words(read_text("/proc/" + p + "/task/" + p + "/children"));
  return w.empty() ? 0 : pid_t(std::stol(w[0]));
}

// Whether `pid` has a handler for `sig` (SigCgt in /proc/PID/status).
bool catches(pid_t pid, int sig) {
  for (const auto& line : split_lines(read_text("/proc/" + std::to_string(pid) + "/status")))
    if (line.rfind("SigCgt:", 0) == 0)
      return (std::stoull(trim(line.substr(7)), nullptr, 16) >> (sig - 1)) & 1;
  return false;
}

// Runs argv with clone3(2) failing with ENOSYS (as an old kernel, or a
// seccomp profile around mult, has it); its exit status and stdout.
std::pair<int, std::string> run_without_clone3(const Argv& argv) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {-1, ""};
  pid_t pid = ::fork();
  if (pid == 0) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {static_cast<unsigned short>(std::size(f)), f};
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) ::_exit(90);
    ::dup2(out[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(91);
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) text.append(buf, size_t(n));
  ::close(out[0]);
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return {-1, text};
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

class IntegrationExecRunning : public MultTest {
 protected:
  void SetUp() override {
    MultTest::SetUp();
    name_ = unique("ex");
    CmdResult r = mult({"run", "-d", "--name", name_, "--", "sleep", "1000"});
    ASSERT_EQ(r.status, 0) << r.describe();
    auto entry = listed(name_);
    ASSERT_TRUE(entry) << "not listed after run -d";
    init_pid_ = entry->value("pid", 0);
    ASSERT_GT(init_pid_, 0);
  }
  std::string name_;
  pid_t init_pid_ = 0;
};

TEST_F(IntegrationExecRunning, JoinsTheInitsNamespaces) {
  // Inside: the exec'd process against the instance's main process (PID 2;
  // PID 1, mult-init, may refuse inspection) and PID 1 when it allows it.
  std::string script = "for n in mnt uts ipc net pid cgroup; do "
                       "echo \"$n $(readlink /proc/self/ns/$n) $(readlink /proc/2/ns/$n) "
                       "$(readlink /proc/1/ns/$n 2>/dev/null)\"; done";
  CmdResult r = mult({"exec", name_, "--", "/bin/sh", "-c", script});
  ASSERT_EQ(r.status, 0) << r.describe();
  std::map<std::string, std::string> inside;
  for (const auto& line : split_lines(r.out)) {
    auto w = split_words(line);
    ASSERT_GE(w.size(), 3u) << line;
    EXPECT_EQ(w[1], w[2]) << "exec'd process not in the main process's " << w[0] << " namespace";
    if (w.size() > 3) {
      EXPECT_EQ(w[1], w[3]) << "exec'd process not in PID 1's " << w[0] << " namespace";
    }
    inside[w[0]] = w[1];
  }
  for (const char* ns : kNamespaces) {
    ASSERT_TRUE(inside.count(ns)) << ns << "\n" << r.describe();
    // The namespaces the host sees the init in, and none of ours.
    EXPECT_EQ(inside[ns], ns_link(init_pid_, ns)) << ns;
    EXPECT_NE(inside[ns], ns_link(0, ns)) << ns << " is the test's own namespace";
  }
}

TEST_F(IntegrationExecRunning, SameCgroupAsTheInit) {
  CmdResult r = mult({"exec", name_, "--", "/bin/sh", "-c",
                      "cat /proc/1/cgroup; echo ==; cat /proc/self/cgroup"});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto sep = r.out.find("==\n");
  ASSERT_NE(sep, std::string::npos) << r.describe();
  std::string init_view = r.out.substr(0, sep), self_view = r.out.substr(sep + 3);
  EXPECT_FALSE(trim(init_view).empty());
  EXPECT_EQ(init_view, self_view);

  // From the host: a long-running exec'd process sits in the init's cgroups
  // (every hierarchy) and namespaces.
  HostProcess& exec = spawn({MULT_BIN, "--root", root(), "exec", name_, "--", "sleep", "30"});
  pid_t child = 0;
  ASSERT_TRUE(wait_until([&] {
    child = first_child(exec.pid());
    return child > 0 && contains(read_text("/proc/" + std::to_string(child) + "/cmdline"), "sleep");
  }, 5)) << "no exec'd process under mult exec " << exec.pid();
  std::string init_cg = read_text("/proc/" + std::to_string(init_pid_) + "/cgroup");
  EXPECT_FALSE(init_cg.empty());
  EXPECT_EQ(read_text("/proc/" + std::to_string(child) + "/cgroup"), init_cg);
  EXPECT_TRUE(contains(init_cg, "/mult/" + name_)) << init_cg;
  for (const char* ns : kNamespaces) EXPECT_EQ(ns_link(child, ns), ns_link(init_pid_, ns)) << ns;

  // mult exec passes SIGTERM on (once it waits, with its handler set) and
  // reports the command's death by it.
  ASSERT_TRUE(wait_until([&] { return catches(exec.pid(), SIGTERM); }, 5));
  exec.signal(SIGTERM);
  auto status = exec.wait(10);
  ASSERT_TRUE(status) << "mult exec did not end after SIGTERM";
  EXPECT_EQ(*status, 128 + SIGTERM);
  EXPECT_FALSE(process_alive(child));
}

// With limits the instance also has cgroups in v1 hierarchies (on a hybrid
// host): the exec'd process joins each of them, and mult itself is never
// moved out of its own cgroups.
TEST_F(IntegrationExec, WithLimitsJoinsEveryCgroupOfTheInitAndMultStaysPut) {
  std::string name = unique("exlim");
  CmdResult r = mult({"run", "-d", "--name", name, "--memory", "64M", "--pids-limit", "100",
                      "--cpus", "0.5", "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto entry = listed(name);
  ASSERT_TRUE(entry);
  pid_t init = entry->value("pid", 0);
  ASSERT_GT(init, 0);
  std::string init_cg = read_text("/proc/" + std::to_string(init) + "/cgroup");
  EXPECT_TRUE(contains(init_cg, "/mult/" + name)) << init_cg;

  r = mult({"exec", name, "--", "/bin/sh", "-c", "cat /proc/1/cgroup; echo ==; cat /proc/self/cgroup"});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto sep = r.out.find("==\n");
  ASSERT_NE(sep, std::string::npos) << r.describe();
  EXPECT_EQ(r.out.substr(0, sep), r.out.substr(sep + 3)) << "the instance's cgroup namespace";

  std::string ours = read_text("/proc/self/cgroup");
  HostProcess& exec = spawn({MULT_BIN, "--root", root(), "exec", name, "--", "sleep", "30"});
  pid_t child = 0;
  ASSERT_TRUE(wait_until([&] {
    child = first_child(exec.pid());
    return child > 0 && contains(read_text("/proc/" + std::to_string(child) + "/cmdline"), "sleep");
  }, 5)) << "no exec'd process under mult exec " << exec.pid();
  EXPECT_EQ(read_text("/proc/" + std::to_string(child) + "/cgroup"), init_cg);
  EXPECT_EQ(read_text("/proc/" + std::to_string(exec.pid()) + "/cgroup"), ours)
      << "mult exec moved itself";
  for (const auto& dir : cgroup_dirs_of(name)) {
    std::string procs = read_text(dir + "/cgroup.procs");
    EXPECT_TRUE(contains("\n" + procs, "\n" + std::to_string(child) + "\n")) << dir << ":\n" << procs;
  }
  exec.signal(SIGTERM);
  EXPECT_TRUE(exec.wait(10));

  // Without clone3 the child moves itself into every cgroup, the unified
  // one too.
  auto [status, out] = run_without_clone3(
      {MULT_BIN, "--root", root(), "exec", name, "--", "/bin/sh", "-c",
       "cat /proc/1/cgroup; echo ==; cat /proc/self/cgroup"});
  EXPECT_EQ(status, 0) << out;
  sep = out.find("==\n");
  ASSERT_NE(sep, std::string::npos) << out;
  EXPECT_FALSE(trim(out.substr(0, sep)).empty()) << out;
  EXPECT_EQ(out.substr(0, sep), out.substr(sep + 3)) << "without clone3";
  r = mult({"rm", "-f", name});
  EXPECT_EQ(r.status, 0) << r.describe();
}

TEST_F(IntegrationExecRunning, ExitStatusAndMissingCommand) {
  CmdResult r = mult({"exec", name_, "--", "sh", "-c", "exit 5"});
  EXPECT_EQ(r.status, 5) << r.describe();
  r = mult({"exec", name_, "--", "sh", "-c", "kill -9 $$"});
  EXPECT_EQ(r.status, 128 + 9) << r.describe();
  r = mult({"exec", name_, "--", "true"});
  EXPECT_EQ(r.status, 0) << r.describe();

  r = mult({"exec", name_, "--", "no-such-command-x"});
  EXPECT_EQ(r.status, 127) << r.describe();
  EXPECT_TRUE(contains(r.err, "no-such-command-x")) << r.describe();
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.describe();

  // Output and the environment options reach the command.
  r = mult({"exec", name_, "-e", "FOO=bar", "-w", "/etc", "--", "sh", "-c", "echo $FOO; pwd"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "bar\n/etc\n");
}

TEST_F(IntegrationExec, IntoUnknownOrStoppedInstanceFails) {
  std::string nope = unique("nope");
  Snapshot before = take_snapshot(root());
  CmdResult r = mult({"exec", nope, "--", "true"});
  EXPECT_EQ(r.status, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "\"" + nope + "\"")) << r.describe();
  EXPECT_TRUE(contains(r.err, "no such instance") || contains(r.err, "not running")) << r.describe();
  EXPECT_EQ(snapshot_diff(before, take_snapshot(root())), "");

  std::string stopped = unique("stopped");
  r = mult({"create", stopped, "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"exec", stopped, "--", "true"});
  EXPECT_EQ(r.status, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "\"" + stopped + "\": not running")) << r.describe();
}

}  // namespace
}  // namespace mult_it
