#include "launch.hh"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <optional>
#include <cstring>
#include <utility>

#include "cgroup_instance.hh"
#include "error.hh"
#include "hooks.hh"
#include "mounts.hh"
#include "net.hh"
#include "process.hh"
#include "spawn.hh"
#include "tty.hh"
#include "userns.hh"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace mult {

namespace {

// The instance reports to mult over a SOCK_SEQPACKET pair: "G" from mult
// lets it go on; an error is "E" + exit code byte + message. End of file
// means every process of the instance has exec'd.
constexpr char kGo = 'G';
constexpr char kFailed = 'E';
constexpr char kCreated = 'N';  // namespaces made: mult may run its hooks
constexpr char kWaiting = 'W';  // OCI create: set up, blocked on the start fifo
constexpr char kDevices = 'D';  // the device list is in force; the seccomp filter follows
constexpr char kNetwork = 'L';  // the network namespace mult made (its loopback going up), or none

// After OCI create, nobody reads the socket: `start` reads the start fifo
// (its write end `start_fifo`) instead.
[[noreturn]] void fail_to_parent(int sock, int code, const std::string& msg, int start_fifo = -1) {
  if (start_fifo >= 0) {
    ::signal(SIGPIPE, SIG_IGN);  // `start` gone: we exit with `code` all the same
    ssize_t ignored = ::write(start_fifo, msg.data(), msg.size());
    (void)ignored;
  }
  std::string packet(1, kFailed);
  packet += char(code);
  packet += msg;
  ::send(sock, packet.data(), packet.size(), MSG_NOSIGNAL);
  ::_exit(code);
}

std::string annotation(const Spec& spec, const char* key, const std::string& fallback = "") {
  auto it = spec.annotations.find(key);
  return it == spec.annotations.end() ? fallback : it->second;
}

// Flags of the namespaces clone3 makes. The cgroup namespace is made later,
// once the process is in its cgroups, so that those become its root.
uint64_t clone_flags(const Spec& spec) {
  uint64_t flags = 0;
  for (const auto& ns : spec.linux.namespaces) {
    if (!ns.path.empty() || ns.type == "cgroup") continue;
    if (ns.type == "time" && !spec.linux.time_offsets.empty()) continue;
    flags |= uint64_t(namespace_flag(ns.type));
  }
  return flags;
}

// Namespaces given by path, but two: the user namespace, which the clone
// happened in (clone_in_user_namespace), and the PID namespace, which mult
// joins for the clone (PidNamespaceForChild).
void join_namespace_paths(const Spec& spec) {
  for (const auto& ns : spec.linux.namespaces) {
    if (ns.path.empty() || ns.type == "user" || ns.type == "pid") continue;
    Fd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw sys_error("namespace " + ns.type + " \"" + ns.path + "\"");
    if (::setns(fd.get(), namespace_flag(ns.type)) != 0)
      throw sys_error("namespace " + ns.type + " \"" + ns.path + "\"");
  }
}

// A PID namespace given by path. setns(CLONE_NEWPID) moves only the
// children made after it, so the instance could not join it itself (its
// command would stay in mult's): mult joins it for the instance's clone,
// then returns to its own, so that its hooks' processes stay in it.
class PidNamespaceForChild {
 public:
  explicit PidNamespaceForChild(const Spec& spec) {
    const Namespace* ns = spec.linux.find_namespace("pid");
    if (!ns || ns->path.empty()) return;
    Fd target(::open(ns->path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!target) throw sys_error("namespace pid \"" + ns->path + "\"");
    own_.reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (!own_) throw sys_error("namespace pid: /proc/self/ns/pid");
    if (::setns(target.get(), CLONE_NEWPID) != 0) {
      int err = errno;
      own_.reset();
      throw sys_error("namespace pid \"" + ns->path + "\"", err);
    }
  }
  ~PidNamespaceForChild() { restore(); }
  void restore() {
    if (own_) ::setns(own_.get(), CLONE_NEWPID);  // our active one: always allowed
    own_.reset();
  }

 private:
  Fd own_;
};

void set_time_offsets(const Spec& spec) {
  if (spec.linux.time_offsets.empty() || !spec.linux.has_namespace("time")) return;
  if (::unshare(CLONE_NEWTIME) != 0) throw sys_error("time namespace");
  Fd fd(::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC));
  if (!fd) throw sys_error("timeOffsets");
  for (const auto& [clock, off] : spec.linux.time_offsets) {
    std::string line = clock + " " + std::to_string(off.first) + " " + std::to_string(off.second);
    if (::write(fd.get(), line.data(), line.size()) < 0) throw sys_error("timeOffsets " + clock);
  }
}

void set_names(const Spec& spec) {
  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
    throw sys_error("hostname \"" + spec.hostname + "\"");
  if (!spec.domainname.empty() &&
      ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
    throw sys_error("domainname \"" + spec.domainname + "\"");
}

bool makes_namespace(const Spec& spec, const char* type) {
  const Namespace* ns = spec.linux.find_namespace(type);
  return ns && ns->path.empty();
}

// In a new user namespace, once mult has written its maps: become its root,
// so that what it makes is owned by the instance's root.
void become_namespace_root() {
  if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)
    throw sys_error("user namespace: become root");
  ::setgroups(0, nullptr);
}

Fd open_userns(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/user";
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw sys_error("user namespace");
  return fd;
}

// What the command's process needs from the instance's side.
struct Gates {
  int sock = -1;             // the report socket
  int start_fifo = -1;       // O_PATH fd of the start fifo, or -1
  int console_socket = -1;   // where the pty master goes, or -1
  std::string state_json;    // for in-instance hooks
  std::optional<SeccompProgram> seccomp;  // compiled (or cached) by mult
};

int open_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) throw sys_error("\"" + path + "\"");
  return fd;
}

// mult loads the instance's device list and its seccomp filter while the
// instance sets itself up, and says 'D' once the list is in force, with the
// filter (its flags, then its instructions): nothing of the instance execs
// before.
class DeviceGate {
 public:
  DeviceGate(int sock, std::optional<SeccompProgram>& seccomp) : sock_(sock), seccomp_(seccomp) {}
  void wait() {
    if (passed_) return;
    std::vector<char> buf(1 + sizeof(unsigned) + BPF_MAXINSNS * sizeof(sock_filter));
    ssize_t n = ::recv(sock_, buf.data(), buf.size(), 0);
    if (n < 1 || buf[0] != kDevices) ::_exit(kExitRunFailed);  // mult gave up
    if (size_t(n) > 1 + sizeof(unsigned)) {
      SeccompProgram& f = seccomp_.emplace();
      std::memcpy(&f.flags, buf.data() + 1, sizeof f.flags);
      f.insns.resize((size_t(n) - 1 - sizeof f.flags) / sizeof(sock_filter));
      std::memcpy(f.insns.data(), buf.data() + 1 + sizeof f.flags, f.insns.size() * sizeof(sock_filter));
    }
    passed_ = true;
  }

 private:
  int sock_;
  std::optional<SeccompProgram>& seccomp_;
  bool passed_ = false;
};

// The 'D' message of DeviceGate.
std::string devices_message(const std::optional<SeccompProgram>& seccomp) {
  std::string m(1, kDevices);
  if (seccomp) {
    m.append(reinterpret_cast<const char*>(&seccomp->flags), sizeof seccomp->flags);
    m.append(reinterpret_cast<const char*>(seccomp->insns.data()), seccomp->insns.size() * sizeof(sock_filter));
  }
  return m;
}

// Tells mult the namespaces exist and waits for its hooks to run; returns
// the state JSON that mult sends along.
std::string await_created(int sock, DeviceGate& devices) {
  if (::send(sock, &kCreated, 1, MSG_NOSIGNAL) != 1) throw sys_error("report created");
  devices.wait();  // sent first
  std::string buf(1 << 16, '\0');
  ssize_t n = ::recv(sock, buf.data(), buf.size(), 0);
  if (n < 1 || buf[0] != kGo) ::_exit(kExitRunFailed);  // mult gave up
  return buf.substr(1, size_t(n - 1));
}

// Blocks until `mult-oci start` opens the start fifo (an O_PATH fd taken
// before pivot_root) for reading. The write end it returns stays open until
// exec closes it: `start` waits for that end of file, and reads what
// failed before it.
Fd wait_for_start(int fifo_fd) {
  std::string path = "/proc/self/fd/" + std::to_string(fifo_fd);
  Fd fifo(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fifo) throw sys_error("start fifo");
  char c = '0';
  if (::write(fifo.get(), &c, 1) != 1) throw sys_error("start fifo");
  return fifo;
}

// A pty made inside the instance becomes the command's terminal; its master
// goes to whoever holds the console socket (SCM_RIGHTS).
void attach_console(int console_socket) {
  std::string slave;
  Fd master = open_pty_master(slave);
  attach_to_pty(slave);
  send_fd(console_socket, master.get());
}

// The instance's command, in a process of its own: limits, identity,
// privileges, then exec. Never returns.
// runc's order: what can fail (the identity and capabilities, the working
// directory, finding the command) comes before OCI create returns, while
// its errors still reach `create`; the seccomp filter comes as late as it
// can, after the startContainer hooks. Without no_new_privs the filter
// needs the privileges the identity change drops, so it goes first then.
[[noreturn]] void run_process(const Spec& spec, const LaunchRequest& req, const Gates& gates) {
  const Process& p = *spec.process;
  const SeccompProgram* filter = gates.seccomp ? &*gates.seccomp : nullptr;
  Fd started;  // the start fifo, once `start` has released us: errors go there
  try {
    if (!p.terminal || gates.console_socket < 0) ::setsid();
    apply_rlimits(p);
    if (p.oom_score_adj) set_oom_score_adj(*p.oom_score_adj);
    // The terminal exists by the end of OCI create: the console socket's
    // owner (conmon, containerd's shim) waits for it there.
    if (p.terminal && gates.console_socket >= 0) attach_console(gates.console_socket);
    if (filter && !p.no_new_privileges) install_seccomp(*filter);
    become_user_with_caps(p);
    enter_cwd(p);
    std::string command = find_command(p);
    if (gates.start_fifo >= 0) {
      // launch() returns now; an error after this is the command's exit status.
      if (::send(gates.sock, &kWaiting, 1, MSG_NOSIGNAL) != 1) throw sys_error("report created");
      started = wait_for_start(gates.start_fifo);
    }
    run_hooks(spec.hooks.start_container, gates.state_json, "startContainer");
    if (filter && p.no_new_privileges) install_seccomp(*filter);
    // Only 0, 1, 2 and the preserved fds cross into the command; ours close on exec.
    ::syscall(SYS_close_range, 3U + unsigned(req.preserve_fds), ~0U, CLOSE_RANGE_CLOEXEC);
    exec_command(command, p);
    int err = errno;
    fail_to_parent(gates.sock, err == ENOENT ? kExitNotFound : kExitNotExecutable,
                   "exec \"" + p.args[0] + "\": " + std::strerror(err), started.get());
  } catch (const Error& e) {
    bool not_run = e.code() == kExitNotFound || e.code() == kExitNotExecutable;
    fail_to_parent(gates.sock, not_run ? e.code() : kExitRunFailed, e.what(), started.get());
  } catch (const std::exception& e) {  // nothing may unwind past the process's own stack
    fail_to_parent(gates.sock, kExitRunFailed, e.what(), started.get());
  }
}

[[noreturn]] void exec_mult_init(const Spec& spec, int init_fd, pid_t main_pid, bool system) {
  std::string timeout = annotation(spec, kAnnotationStopTimeout, std::to_string(kDefaultStopTimeout));
  std::string stop_cmd = annotation(spec, kAnnotationStopCommand);
  std::string main = std::to_string(main_pid);
  std::vector<const char*> argv = {"mult-init", "-t", timeout.c_str()};
  if (main_pid > 0) argv.insert(argv.end(), {"-m", main.c_str()});
  if (system) argv.push_back("-s");
  if (!stop_cmd.empty()) argv.insert(argv.end(), {"-c", stop_cmd.c_str()});
  argv.push_back(nullptr);
  const char* envp[] = {nullptr};
  ::syscall(SYS_execveat, init_fd, "", argv.data(), envp, AT_EMPTY_PATH);
  throw sys_error("exec mult-init");
}

// mult's own arguments (host paths), kept to blank them in the instance:
// glibc hands every .init_array function argc, argv and envp.
char* g_args_begin = nullptr;
char* g_args_end = nullptr;

void remember_arguments(int argc, char** argv, char**) {
  if (argc < 1 || !argv[0]) return;
  g_args_begin = argv[0];
  g_args_end = argv[argc - 1] + std::strlen(argv[argc - 1]);
}
[[gnu::section(".init_array"), gnu::used]] void (*const kRememberArguments)(int, char**, char**) =
    remember_arguments;

// /proc/1/cmdline stays readable to the instance while this process is its
// PID 1, before it becomes mult-init: it shows nothing of mult's, or only
// `shown` (when it fits).
void hide_arguments(const char* shown = "") {
  if (!g_args_begin) return;
  const size_t room = size_t(g_args_end - g_args_begin);
  std::memset(g_args_begin, 0, room);
  if (std::strlen(shown) < room) std::memcpy(g_args_begin, shown, std::strlen(shown));
}

// The command may exec (and look at PID 1) before this process has become
// mult-init: it already shows as mult-init (its name and command line).
void present_as_init() {
  ::prctl(PR_SET_NAME, "mult-init", 0, 0, 0);
  hide_arguments("mult-init");
}

// The command's process borrows this one's memory until it execs
// (spawn_sharing_memory): this one stays suspended meanwhile, so the command
// never runs beside a PID 1 that is still mult. Returns its PID (in the
// instance's PID namespace).
struct CommandArgs {
  const Spec* spec;
  const LaunchRequest* req;
  const Gates* gates;
};

int command_entry(void* arg) {
  auto* a = static_cast<CommandArgs*>(arg);
  run_process(*a->spec, *a->req, *a->gates);
}

pid_t spawn_command(const Spec& spec, const LaunchRequest& req, const Gates& gates) {
  CommandArgs args{&spec, &req, &gates};
  pid_t pid = spawn_sharing_memory(command_entry, &args);
  if (pid < 0) throw sys_error("start command");
  return pid;
}

// send_fd that says whether the instance took it (false: it has failed
// already, and its report follows).
bool send_message(int sock, char tag, int fd) {
  try {
    send_fd(sock, tag, fd);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Joins the network namespace mult made while this process built its root
// (kNetwork), or makes one here where mult could not.
void join_network_from_mult(int sock) {
  char tag = 0;
  Fd ns = receive_message(sock, tag);
  if (tag != kNetwork) ::_exit(kExitRunFailed);  // mult gave up
  if (!ns) {
    if (::unshare(CLONE_NEWNET) != 0) throw sys_error("network namespace");
    bring_up_loopback();
  } else if (::setns(ns.get(), CLONE_NEWNET) != 0) {
    throw sys_error("network namespace");
  }
}

// The instance's side, from its first instruction to its init: the order in
// which an instance is made.
[[noreturn]] void build_instance(const Spec& spec, const LaunchRequest& req, int sock,
                                 int init_fd, CgroupEntry& cgroup_entry, bool netns_from_mult) {
  Gates gates;
  gates.sock = sock;
  // Until exec, this process is mult: nothing in the instance may read its
  // memory or open the host's binary through /proc/PID/exe.
  // In a new user namespace only once mult has written the ID maps: a
  // non-dumpable process's /proc/PID files belong to root, and a rootless
  // mult could not open uid_map (a race it lost now and then). Until then
  // nothing else is in the instance to look.
  const bool maps_pending = makes_namespace(spec, "user");
  if (!maps_pending) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  hide_arguments();
  try {
    cgroup_entry.enter();                            // v1 cgroups, while single-threaded
    if (::dup2(req.stdin_fd, 0) < 0 || ::dup2(req.stdout_fd, 1) < 0 || ::dup2(req.stderr_fd, 2) < 0)
      throw sys_error("stdio");
    ::setsid();
    char go = 0;
    Fd root_tree = receive_message(sock, go);        // IDs mapped
    if (maps_pending) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (go != kGo) ::_exit(kExitRunFailed);          // mult gave up
    DeviceGate devices(sock, gates.seccomp);
    if (spec.linux.has_namespace("user")) become_namespace_root();  // made, or joined by the clone

    join_namespace_paths(spec);                      // namespaces given by path
    if (makes_namespace(spec, "cgroup") && ::unshare(CLONE_NEWCGROUP) != 0)
      throw sys_error("cgroup namespace");           // rooted at its own cgroup
    set_time_offsets(spec);
    set_names(spec);                                 // hostname, domainname
    if (makes_namespace(spec, "network") && !netns_from_mult) bring_up_loopback();
    if (req.on_created) gates.state_json = await_created(sock, devices);  // prestart, createRuntime hooks
    if (!req.start_fifo.empty()) gates.start_fifo = open_path(req.start_fifo);
    gates.console_socket = req.console_socket;
    std::function<void()> join_network;
    if (netns_from_mult) join_network = [sock] { join_network_from_mult(sock); };
    setup_rootfs(  // mounts, /dev, pivot_root
        spec, spec.root.path, root_tree.get(),
        [&] { run_hooks(spec.hooks.create_container, gates.state_json, "createContainer"); },
        join_network);
    devices.wait();                                  // the device list in force
    if (spec.process && spec.process->capabilities)
      limit_bounding_set(*spec.process->capabilities);

    if (annotation(spec, kAnnotationPid1) == "process") run_process(spec, req, gates);
    bool system = annotation(spec, kAnnotationBoot) == "rc";
    pid_t main_pid = 0;
    if (spec.process && (!system || ::access("/etc/rc", F_OK) == 0)) {
      present_as_init();
      main_pid = spawn_command(spec, req, gates);
    }
    exec_mult_init(spec, init_fd, main_pid, system);
  } catch (const Error& e) {
    fail_to_parent(sock, kExitRunFailed, e.what());
  }
}

// `pidfd` null: none. With CLONE_PARENT the exit signal is the caller's own.
pid_t clone_instance(uint64_t flags, int cgroup_fd, int* pidfd) {
  struct clone_args args {};
  args.flags = flags | (pidfd ? CLONE_PIDFD : 0) | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
  args.pidfd = uint64_t(uintptr_t(pidfd));
  args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
  args.cgroup = cgroup_fd >= 0 ? uint64_t(cgroup_fd) : 0;
  return pid_t(::syscall(SYS_clone3, &args, sizeof args));
}

// A user namespace given by path owns the namespaces the instance makes
// (its mounts, host name, PID and network namespaces), as the runtime spec
// wants: the clone happens inside it, in a helper process that joins it
// and clones the instance as mult's own child (CLONE_PARENT), then exits.
// mult can not join it itself: a process never leaves a user namespace.
// Returns as clone_instance() does (0 in the instance).
pid_t clone_in_user_namespace(const std::string& path, uint64_t flags, int cgroup_fd, int* pidfd) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return -1;
  pid_t helper = ::fork();
  if (helper < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    errno = err;
    return -1;
  }
  if (helper == 0) {
    ::close(report[0]);
    int reply[2] = {-1, 0};  // the instance's PID, errno
    int ns = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWUSER) != 0) {
      reply[1] = errno;
    } else {
      reply[0] = clone_instance(flags | CLONE_PARENT, cgroup_fd, nullptr);
      if (reply[0] == 0) {  // the instance
        ::close(ns);
        ::close(report[1]);
        return 0;
      }
      if (reply[0] < 0) reply[1] = errno;
    }
    ssize_t ignored = ::write(report[1], reply, sizeof reply);
    (void)ignored;
    ::_exit(0);
  }
  ::close(report[1]);
  int reply[2] = {-1, EIO};
  ssize_t n;
  while ((n = ::read(report[0], reply, sizeof reply)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  while (::waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n != ssize_t(sizeof reply) || reply[0] < 0) {
    errno = n == ssize_t(sizeof reply) ? reply[1] : EIO;
    return -1;
  }
  *pidfd = int(::syscall(SYS_pidfd_open, reply[0], 0));
  return reply[0];
}

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kExitFailure;
}

// Signals mult passes on to the instance's init while it waits.
constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
volatile sig_atomic_t forward_to = 0;

void forward_signal(int sig) {
  if (forward_to > 0) ::kill(pid_t(forward_to), sig);
}

}  // namespace

const std::string& mult_init_path() {
  static const std::string path = [] {
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = n > 0 ? std::string(self, size_t(n)) : "";
    dir = dir.substr(0, dir.rfind('/'));
    for (std::string p : {dir + "/mult-init", dir + "/../libexec/mult/mult-init",
                          std::string(MULT_INIT_INSTALLED)})
      if (::access(p.c_str(), X_OK) == 0) return p;
    return std::string(MULT_INIT_INSTALLED);
  }();
  return path;
}

Instance::Instance(Instance&& o) noexcept
    : pid_(std::exchange(o.pid_, 0)),
      pidfd_(std::move(o.pidfd_)),
      cgroup_(std::move(o.cgroup_)),
      reaped_(o.reaped_),
      console_(std::move(o.console_)) {}

Instance::~Instance() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(pid_, SIGKILL);  // PID 1 of its namespace: takes the whole tree along
  ::waitpid(pid_, nullptr, 0);
  try {
    cgroup_.kill_all();
    cgroup_.remove();
  } catch (const Error&) {
  }
}

void Instance::release() {
  reaped_ = true;
  cgroup_.keep();
}

int wait_forwarding_signals(pid_t pid, int* raw_status) {
  struct sigaction sa {}, old[std::size(kForwarded)];
  sa.sa_handler = forward_signal;
  forward_to = pid;
  for (size_t i = 0; i < std::size(kForwarded); ++i) ::sigaction(kForwarded[i], &sa, &old[i]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  forward_to = 0;
  for (size_t i = 0; i < std::size(kForwarded); ++i) ::sigaction(kForwarded[i], &old[i], nullptr);
  if (raw_status) *raw_status = status;
  return exit_status(status);
}

int Instance::wait() {
  int raw = 0;
  int status = console_ ? relay_pty(console_.get(), pid_) : wait_forwarding_signals(pid_, &raw);
  // reboot(2) in a PID namespace ends its init by SIGHUP (restart) or SIGINT
  // (halt, power off); mult-init itself never dies of those otherwise.
  ended_by_reboot_ = WIFSIGNALED(raw) && WTERMSIG(raw) == SIGHUP;
  ended_by_halt_ = WIFSIGNALED(raw) && WTERMSIG(raw) == SIGINT;
  reaped_ = true;
  return status;
}

Instance launch(const Spec& spec, const LaunchRequest& req) {
  const std::string& rootfs = spec.root.path;
  struct stat st;
  if (rootfs.empty() || rootfs[0] != '/')
    throw Error("rootfs \"" + rootfs + "\": must be an absolute path");
  if (::stat(rootfs.c_str(), &st) != 0) throw sys_error("rootfs \"" + rootfs + "\"");
  if (!S_ISDIR(st.st_mode)) throw Error("rootfs \"" + rootfs + "\": not a directory");
  // The root, the mounts and pivot_root happen in the instance's mount
  // namespace; without one of its own (or one given by path) they would
  // happen in the caller's and re-root every process in it.
  if (!spec.linux.has_namespace("mount"))
    throw Error("linux.namespaces: no mount namespace: an instance needs one (new, or given by path)");

  Instance inst;
  // Limits, in force from the instance's first instruction; the device list
  // follows the clone (DeviceGate).
  inst.cgroup_ = instance_cgroup(CgroupLayout::host(), spec, req.cgroup_path);
  Fd init_bin(::open(mult_init_path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!init_bin) throw sys_error("mult-init \"" + mult_init_path() + "\"");
  int socks[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) != 0)
    throw sys_error("socketpair");
  Fd ours(socks[0]), theirs(socks[1]);

  // The instance enters its v1 hierarchies by itself (see CgroupEntry):
  // a move by mult would wait for an RCU grace period.
  CgroupEntry cgroup_entry;
  if (!req.cgroup_path.empty()) cgroup_entry = CgroupEntry(inst.cgroup_);

  uint64_t flags = clone_flags(spec);
  int pidfd = -1;
  int cgfd = inst.cgroup_.unified_fd();
  PidNamespaceForChild pid_ns(spec);
  // A new network namespace is mult's to make while the instance builds its
  // root, where nothing looks at it before the instance execs (a bridge's
  // veth, hooks) and no user namespace of the instance's (new or joined)
  // is to own it; else the clone makes it.
  const Namespace* user = spec.linux.find_namespace("user");
  const std::string joined_user = user ? user->path : "";
  const bool netns_meanwhile = (flags & CLONE_NEWNET) && !(flags & CLONE_NEWUSER) && joined_user.empty() &&
                               !req.on_cloned && !req.on_created && !spec.hooks.any_before_exec();
  if (netns_meanwhile) flags &= ~uint64_t(CLONE_NEWNET);
  auto clone = [&](int cg) {
    return joined_user.empty() ? clone_instance(flags, cg, &pidfd)
                               : clone_in_user_namespace(joined_user, flags, cg, &pidfd);
  };
  pid_t pid = clone(cgfd);
  if (pid < 0 && cgfd >= 0) {  // a hierarchy that refuses CLONE_INTO_CGROUP
    cgfd = -1;
    pid = clone(-1);
  }
  if (pid < 0) throw sys_error("clone instance");
  if (pid == 0) {
    ours.reset();
    build_instance(spec, req, theirs.get(), init_bin.get(), cgroup_entry, netns_meanwhile);
  }
  pid_ns.restore();
  inst.pid_ = pid;
  inst.pidfd_.reset(pidfd);
  theirs.reset();
  cgroup_entry.close();

  if (cgfd < 0) inst.cgroup_.add_process_unified(pid);
  if (req.on_cloned) req.on_cloned(pid);
  Fd root_tree;
  if (flags & CLONE_NEWUSER) {
    write_id_maps(pid, spec.linux.uid_mappings, spec.linux.gid_mappings);
    // Root's files appear inside as they are on disk, without a chown.
    if (::geteuid() == 0) root_tree = idmapped_tree(rootfs, open_userns(pid).get());
  }
  send_fd(ours.get(), kGo, root_tree.get());
  // While the instance mounts its root: its network namespace (where mult
  // makes it now) and loopback up, the device program, loaded and attached
  // before anything in it execs, and the seccomp filter, compiled here once
  // (or read from the cache): the instance only installs it.
  bool told = true;  // false when the instance has failed already: its report follows
  if (netns_meanwhile) {
    MadeNetns made = make_network_namespace();
    told = send_message(ours.get(), kNetwork, made.ns.get());
    if (made.socket) bring_up_loopback(made.socket.get());
  }
  apply_instance_devices(inst.cgroup_, spec);
  std::optional<SeccompProgram> seccomp;
  if (spec.linux.seccomp) seccomp = load_seccomp(*spec.linux.seccomp, req.seccomp_cache_dir);
  std::string go_on = devices_message(seccomp);
  told = told && ::send(ours.get(), go_on.data(), go_on.size(), MSG_NOSIGNAL) == ssize_t(go_on.size());
  if (told && req.while_building) req.while_building();

  for (bool reset_seen = false;;) {
    char buf[4096];
    ssize_t n = ::recv(ours.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    // An instance that ended with our message unread resets the socket:
    // the first receive says so, the next one reads what it reported.
    if (n < 0 && errno == ECONNRESET && !reset_seen) {
      reset_seen = true;
      continue;
    }
    if (n < 0) throw sys_error("start instance");
    if (n == 0 && !told) throw Error("start instance: the instance ended while it was being set up");
    if (n == 0) return inst;  // every process of the instance has exec'd
    if (buf[0] == kWaiting && !req.start_fifo.empty()) return inst;  // OCI create is done
    if (buf[0] == kFailed && n > 2) throw Error(std::string(buf + 2, size_t(n - 2)), buf[1]);
    if (buf[0] == kCreated && req.on_created) {
      std::string reply = std::string(1, kGo) + req.on_created(pid);
      if (::send(ours.get(), reply.data(), reply.size(), MSG_NOSIGNAL) < 0)
        throw sys_error("start instance");
      continue;
    }
    throw Error("start instance: unexpected report from the instance");
  }
}

}  // namespace mult
