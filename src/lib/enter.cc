// mult exec: a new process inside a running instance, in all its
// namespaces and cgroups, under the same restrictions as its command.
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "cgroup.hh"
#include "engine.hh"
#include "error.hh"
#include "launch.hh"
#include "process.hh"
#include "tty.hh"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace mult {

namespace {

// The namespaces of `pid` that differ from ours: those setns must join.
int namespaces_to_join(pid_t pid) {
  static const std::pair<const char*, int> kinds[] = {
      {"mnt", CLONE_NEWNS},   {"uts", CLONE_NEWUTS},       {"ipc", CLONE_NEWIPC},
      {"net", CLONE_NEWNET},  {"pid", CLONE_NEWPID},       {"cgroup", CLONE_NEWCGROUP},
      {"time", CLONE_NEWTIME}, {"user", CLONE_NEWUSER},
  };
  int flags = 0;
  for (auto [name, flag] : kinds) {
    struct stat theirs, ours;
    std::string p = "/proc/" + std::to_string(pid) + "/ns/" + name;
    std::string s = std::string("/proc/self/ns/") + name;
    if (::stat(p.c_str(), &theirs) != 0) continue;
    if (::stat(s.c_str(), &ours) == 0 && ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
      continue;
    flags |= flag;
  }
  return flags;
}

void override_env(std::vector<std::string>& env, const std::vector<std::string>& extra) {
  for (const auto& kv : extra) {
    auto key = kv.substr(0, kv.find('=') + 1);
    std::erase_if(env, [&](const std::string& e) { return e.rfind(key, 0) == 0; });
    env.push_back(kv);
  }
}

}  // namespace

int Engine::exec(const std::string& name, const ExecRequest& req) {
  check_name(name);
  if (req.args.empty()) throw Error("exec: no command given", kExitUsage);
  auto state = read_state(store_, name);
  if (!state || !is_alive(*state)) throw Error("instance \"" + name + "\": not running");
  Fd pidfd(int(::syscall(SYS_pidfd_open, state->pid, 0)));
  if (!pidfd || !is_alive(*state)) throw Error("instance \"" + name + "\": not running");
  Spec spec = load_spec(name);
  Process proc = spec.process.value_or(Process{});
  proc.args = req.args;
  proc.terminal = req.tty;
  override_env(proc.env, req.env);
  if (!req.cwd.empty()) proc.cwd = req.cwd;

  // Nothing inside may reach this process's memory or its host binary.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  Cgroup::open(CgroupLayout::host(), state->cgroup_path).add_process(::getpid());
  int flags = namespaces_to_join(state->pid);
  if (flags && ::setns(pidfd.get(), flags) != 0)
    throw sys_error("instance \"" + name + "\": join namespaces");
  if (!req.user.empty()) proc.user = resolve_user(req.user, "/");

  std::string slave;
  Fd master;
  if (req.tty) master = open_pty_master(slave);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw sys_error("pipe");
  Fd report_r(report[0]), report_w(report[1]);

  pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork");
  if (pid == 0) {
    report_r.reset();
    int code = kExitRunFailed;
    std::string msg;
    try {
      if (req.tty) attach_to_pty(slave);
      else ::setpgid(0, 0);
      if (proc.capabilities) limit_bounding_set(*proc.capabilities);
      apply_rlimits(proc);
      become_user_with_caps(proc);
      enter_cwd(proc);
      ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
      exec_process(proc);
      int err = errno;
      code = err == ENOENT ? kExitNotFound : kExitNotExecutable;
      msg = "exec \"" + proc.args[0] + "\": " + std::strerror(err);
    } catch (const Error& e) {
      msg = e.what();
    }
    ssize_t ignored = ::write(report_w.get(), msg.data(), msg.size());
    (void)ignored;
    ::_exit(code);
  }
  report_w.reset();
  char buf[1024];
  ssize_t n;
  while ((n = ::read(report_r.get(), buf, sizeof buf)) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw Error(std::string(buf, size_t(n)), WIFEXITED(status) ? WEXITSTATUS(status) : kExitRunFailed);
  }
  if (req.tty) return relay_pty(master.get(), pid);
  return wait_forwarding_signals(pid);
}

}  // namespace mult
