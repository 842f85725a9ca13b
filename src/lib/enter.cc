// mult exec: a new process inside a running instance, in all its
// namespaces and cgroups, under the same restrictions as its command.
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "cgroup.hh"
#include "engine.hh"
#include "enter.hh"
#include "error.hh"
#include "launch.hh"
#include "process.hh"
#include "spawn.hh"
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

// The instance's cgroups, opened before mult enters its mount namespace:
// the child joins them and mult is never moved (a move by pid waits for an
// RCU grace period, see CgroupEntry). The child is cloned into the v2
// directory and moves itself into the v1 ones (`v1`).
struct Joining {
  Cgroup cgroup;
  CgroupEntry v1;
  Fd v2_procs;  // cgroup.procs of the v2 directory, when clone3 cannot put the child there
};

// A child in the instance's cgroup v2 directory from its first instruction
// (clone3 CLONE_INTO_CGROUP). Without clone3 (old kernel, or a seccomp
// filter around mult that refuses it) a plain fork, and `j.v2_procs` set
// for the child to move itself. Returns what fork returns.
pid_t fork_into_cgroup(Joining& j, const std::string& what) {
  int dir = j.cgroup.unified_fd();
  if (dir >= 0) {
    struct clone_args args {};
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = uint64_t(dir);
    pid_t pid = pid_t(::syscall(SYS_clone3, &args, sizeof args));
    if (pid >= 0) return pid;
    if (errno != ENOSYS && errno != E2BIG && errno != EPERM)
      throw sys_error(what + ": start a process in cgroup \"" + j.cgroup.path() + "\"");
    j.v2_procs.reset(::openat(dir, "cgroup.procs", O_WRONLY | O_CLOEXEC));
    if (!j.v2_procs) throw sys_error("cgroup \"" + j.cgroup.path() + "\": open cgroup.procs");
  }
  return ::fork();
}

// In the child, first thing: the v1 cgroups (and the v2 one without
// clone3), then the cgroup namespace, whose root is then the instance's
// cgroup. (Joined only now: with nsdelegate, a cgroup namespace hides the
// source cgroup, and the kernel refuses to clone or move a process across
// what it cannot see.)
void join_cgroups(Joining& j, int pidfd, bool cgroup_ns, const std::string& what) {
  if (j.v2_procs && ::write(j.v2_procs.get(), "0", 1) != 1)
    throw sys_error("cgroup \"" + j.cgroup.path() + "\": join");
  j.v2_procs.reset();
  j.v1.enter();
  if (cgroup_ns && ::setns(pidfd, CLONE_NEWCGROUP) != 0) throw sys_error(what + ": join cgroup namespace");
}

// What the entering process needs of enter_instance's.
struct EnteringProcess {
  Joining& cgroup;
  int pidfd;
  bool cgroup_ns;
  const std::string& what;
  bool tty;
  const std::string& slave;
  const Process& proc;
  const EnterOptions& opts;
  int report;  // its errors go there; end of file: it exec'd
};

// The entering process, from its first instruction to the exec.
[[noreturn]] void become_entered(const EnteringProcess& c) {
  int code = kExitRunFailed;
  std::string msg;
  try {
    join_cgroups(c.cgroup, c.pidfd, c.cgroup_ns, c.what);
    if (c.tty) attach_to_pty(c.slave);
    else ::setpgid(0, 0);
    if (c.proc.capabilities) limit_bounding_set(*c.proc.capabilities);
    apply_rlimits(c.proc);
    become_process(c.proc, c.opts.seccomp ? &*c.opts.seccomp : nullptr);
    ::syscall(SYS_close_range, 3U + unsigned(c.opts.preserve_fds), ~0U, CLOSE_RANGE_CLOEXEC);
    exec_process(c.proc);
    int err = errno;
    code = err == ENOENT ? kExitNotFound : kExitNotExecutable;
    msg = "exec \"" + c.proc.args[0] + "\": " + std::strerror(err);
  } catch (const std::exception& e) {  // nothing may unwind past this process's own stack
    msg = e.what();
  }
  ssize_t ignored = ::write(c.report, msg.data(), msg.size());
  (void)ignored;
  ::_exit(code);
}

int enter_entry(void* arg) { become_entered(*static_cast<const EnteringProcess*>(arg)); }

}  // namespace

void override_env(std::vector<std::string>& env, const std::vector<std::string>& extra) {
  for (const auto& kv : extra) {
    auto key = kv.substr(0, kv.find('=') + 1);
    std::erase_if(env, [&](const std::string& e) { return e.rfind(key, 0) == 0; });
    env.push_back(kv);
  }
}

Entered enter_instance(pid_t init, const std::string& cgroup_path, const Process& process,
                       const EnterOptions& opts, const std::string& what) {
  if (process.args.empty()) throw Error("exec: no command given", kExitUsage);
  auto alive = [&] {
    uint64_t t = process_start_time(init);
    return t != 0 && (opts.start_time == 0 || t == opts.start_time);
  };
  Fd pidfd(int(::syscall(SYS_pidfd_open, init, 0)));
  if (!pidfd || !alive()) throw Error(what + ": not running");
  Process proc = process;

  // Nothing inside may reach this process's memory or its host binary.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  Joining cgroup{Cgroup::open(CgroupLayout::host(), cgroup_path), {}, {}};
  cgroup.v1 = CgroupEntry(cgroup.cgroup);
  int flags = namespaces_to_join(init);
  const bool cgroup_ns = flags & CLONE_NEWCGROUP;  // the child's to join
  flags &= ~CLONE_NEWCGROUP;
  if (flags && ::setns(pidfd.get(), flags) != 0) throw sys_error(what + ": join namespaces");
  if (!opts.user.empty()) proc.user = resolve_user(opts.user, "/");

  const bool tty = proc.terminal;
  std::string slave;
  Fd master;
  if (tty) master = open_pty_master(slave);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw sys_error("pipe");
  Fd report_r(report[0]), report_w(report[1]);

  EnteringProcess child{cgroup, pidfd.get(), cgroup_ns, what, tty, slave, proc, opts, report_w.get()};
  pid_t pid = spawn_sharing_memory(enter_entry, &child, cgroup.cgroup.unified_fd());
  if (pid < 0 && errno != ENOSYS && errno != E2BIG && errno != EPERM)
    throw sys_error(what + ": start a process in cgroup \"" + cgroup.cgroup.path() + "\"");
  if (pid < 0) {  // no clone3 with a stack here: a copy of mult instead
    pid = fork_into_cgroup(cgroup, what);
    if (pid < 0) throw sys_error("fork");
    if (pid == 0) become_entered(child);
  }
  report_w.reset();
  cgroup.v1.close();
  cgroup.v2_procs.reset();
  char buf[1024];
  ssize_t n;
  while ((n = ::read(report_r.get(), buf, sizeof buf)) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw Error(std::string(buf, size_t(n)), WIFEXITED(status) ? WEXITSTATUS(status) : kExitRunFailed);
  }
  Entered out;
  out.pid = pid;
  if (tty && opts.console_socket >= 0) send_fd(opts.console_socket, master.get());
  else out.master = std::move(master);
  return out;
}

int Engine::exec(const std::string& name, const ExecRequest& req) {
  check_name(name);
  if (req.args.empty()) throw Error("exec: no command given", kExitUsage);
  auto state = read_state(store_, name);
  if (!state || !is_alive(*state)) throw Error("instance \"" + name + "\": not running");
  Spec spec = load_spec(name);
  Process proc = spec.process.value_or(Process{});
  proc.args = req.args;
  proc.terminal = req.tty;
  override_env(proc.env, req.env);
  if (!req.cwd.empty()) proc.cwd = req.cwd;
  EnterOptions opts;
  opts.user = req.user;
  opts.start_time = state->start_time;
  if (spec.linux.seccomp) opts.seccomp = load_seccomp(*spec.linux.seccomp, store_.seccomp_cache());
  Entered e = enter_instance(state->pid, state->cgroup_path, proc, opts,
                             "instance \"" + name + "\"");
  if (e.master) return relay_pty(e.master.get(), e.pid);
  return wait_forwarding_signals(e.pid);
}

}  // namespace mult
