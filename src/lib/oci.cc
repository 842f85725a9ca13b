// mult-oci's operations over the engine: launch() makes the container,
// enter_instance() execs into it, Cgroup finds, freezes, limits and
// removes it.
#include "oci.hh"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>

#include "cgroup_instance.hh"
#include "enter.hh"
#include "error.hh"
#include "hooks.hh"
#include "launch.hh"
#include "seccomp.hh"
#include "state.hh"
#include "store.hh"
#include "tty.hh"

namespace mult::oci {

namespace {

constexpr const char* kFifo = "exec.fifo";

std::string quote(const std::string& s) { return "\"" + s + "\""; }

Error no_such(const std::string& id) {
  return Error("container " + quote(id) + " does not exist");
}

// An flock on the container's directory, held while an operation changes
// it; create holds it from mkdir to the end, so others wait for a create.
class DirLock {
 public:
  DirLock(const std::string& dir, const std::string& id) {
    fd_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd_) {
      if (errno == ENOENT) throw no_such(id);
      throw sys_error("container " + quote(id));
    }
    while (::flock(fd_.get(), LOCK_EX) != 0)
      if (errno != EINTR) throw sys_error("lock container " + quote(id));
  }
  // Explicitly: the container's process inherits a copy of the fd (until
  // it execs), and the lock belongs to the open file, not to the fd.
  ~DirLock() {
    if (fd_) ::flock(fd_.get(), LOCK_UN);
  }
  DirLock(DirLock&&) = default;

 private:
  Fd fd_;
};

std::string user_name(uid_t uid) {
  struct passwd pw, *res = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res) return pw.pw_name;
  return std::to_string(uid);
}

std::string absolute(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) throw sys_error(quote(path));
  return buf;
}

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string read_small(const std::string& path) {
  std::string s;
  try {
    if (!read_file_if_exists(path, s)) return "";
  } catch (const Error&) {
    return "";
  }
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A pid file as runc writes it: the number, no newline, replaced
// atomically. Its directory is opened first: exec writes it after entering
// the container's mount namespace.
class PidFile {
 public:
  explicit PidFile(const std::string& path) : path_(path) {
    if (path.empty()) return;
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    name_ = slash == std::string::npos ? path : path.substr(slash + 1);
    dir_.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_ || name_.empty()) throw sys_error("pid file " + quote(path), dir_ ? EISDIR : errno);
  }
  void write(pid_t pid) const {
    if (path_.empty()) return;
    std::string tmp = "." + name_ + ".tmp-" + std::to_string(::getpid());
    Fd fd(::openat(dir_.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) throw sys_error("pid file " + quote(path_));
    std::string text = std::to_string(pid);
    if (::write(fd.get(), text.data(), text.size()) != ssize_t(text.size()) ||
        ::renameat(dir_.get(), tmp.c_str(), dir_.get(), name_.c_str()) != 0) {
      int err = errno;
      ::unlinkat(dir_.get(), tmp.c_str(), 0);
      throw sys_error("pid file " + quote(path_), err);
    }
  }

 private:
  std::string path_, name_;
  Fd dir_;
};

// What the spec asks for that this host (or mult) cannot give: refused
// before anything is made.
// The kernel raises an ambient capability only if it is also inheritable.
// runc and crun skip the others (and `crun spec` writes such a bundle): so
// does mult-oci, with a warning on its own stderr, not the container's.
void drop_unraisable_ambient(Spec& spec, const std::string& id,
                             const std::function<void(const std::string&)>& warn) {
  if (!spec.process || !spec.process->capabilities) return;
  Capabilities& c = *spec.process->capabilities;
  std::vector<std::string> kept;
  for (const auto& cap : c.ambient) {
    if (std::find(c.inheritable.begin(), c.inheritable.end(), cap) != c.inheritable.end())
      kept.push_back(cap);
    else
      warn("container " + quote(id) + ": ambient capability " + cap +
           " is not inheritable, so it cannot be raised: left out");
  }
  c.ambient = std::move(kept);
}

// The cgroup a root container of `spec` gets: its cgroupsPath, or mult-oci/ID.
std::string container_cgroup_path(const Spec& spec, const std::string& id) {
  return spec.linux.cgroups_path.empty() ? "mult-oci/" + id : spec.linux.cgroups_path;
}

void check_host_support(const Spec& spec) {
  if (spec.process && !spec.process->apparmor_profile.empty() &&
      read_small("/sys/module/apparmor/parameters/enabled") != "Y")
    throw Error("process.apparmorProfile " + quote(spec.process->apparmor_profile) +
                ": AppArmor is not enabled on this host");
  bool selinux = file_exists("/sys/fs/selinux/enforce");
  if (spec.process && !spec.process->selinux_label.empty() && !selinux)
    throw Error("process.selinuxLabel " + quote(spec.process->selinux_label) +
                ": SELinux is not enabled on this host");
  if (!spec.linux.mount_label.empty() && !selinux)
    throw Error("linux.mountLabel " + quote(spec.linux.mount_label) +
                ": SELinux is not enabled on this host");
  if (spec.linux.has_intel_rdt) {
    if (!file_exists("/sys/fs/resctrl"))
      throw Error("linux.intelRdt: Intel RDT is not available on this host (/sys/fs/resctrl is absent)");
    throw Error("linux.intelRdt: Intel RDT is not supported by mult-oci");
  }
  const std::string& cg = spec.linux.cgroups_path;
  if (!cg.empty() && cg[0] != '/' && cg.find(':') != std::string::npos)
    throw Error("linux.cgroupsPath " + quote(cg) +
                ": a systemd slice:prefix:name path, but systemd is not running on this host");
}

// Waits until the process behind `pidfd` exits, for at most `ms`.
bool wait_exit(int pidfd, int ms) {
  struct pollfd p {pidfd, POLLIN, 0};
  for (;;) {
    int r = ::poll(&p, 1, ms);
    if (r >= 0) return r > 0;
    if (errno != EINTR) return false;
  }
}

bool alive(const ContainerState& st) {
  return st.pid > 0 && st.start_time != 0 && process_start_time(st.pid) == st.start_time;
}

Fd open_pidfd(const ContainerState& st) {
  Fd fd(int(::syscall(SYS_pidfd_open, st.pid, 0)));
  if (!fd || !alive(st)) return Fd();
  return fd;
}

// The spec parser on a fragment: `key` of a minimal config holding `j`.
Spec parse_fragment(const char* section, const char* key, const Json& j) {
  Json doc = {{"ociVersion", kOciVersion}, {"root", {{"path", "/"}}}};
  if (section) doc[section][key] = j;
  else doc[key] = j;
  return parse_spec(doc);
}

}  // namespace

// ---- state ----------------------------------------------------------------

Json ContainerState::to_json() const {
  Json j = {{"ociVersion", oci_version}, {"id", id},          {"status", status},
            {"pid", status == "stopped" ? 0 : pid},           {"bundle", bundle},
            {"rootfs", rootfs},          {"created", created}, {"owner", owner}};
  Json a = Json::object();
  for (const auto& [k, v] : annotations) a[k] = v;
  j["annotations"] = a;
  return j;
}

Json ContainerState::to_file_json() const {
  Json j = to_json();
  j["pid"] = pid;
  j["startTime"] = start_time;
  j["cgroupPath"] = cgroup_path;
  return j;
}

ContainerState ContainerState::from_file_json(const Json& j) {
  ContainerState s;
  s.oci_version = j.value("ociVersion", std::string(kOciVersion));
  s.id = j.value("id", "");
  s.status = j.value("status", "");
  s.pid = j.value("pid", 0);
  s.bundle = j.value("bundle", "");
  s.rootfs = j.value("rootfs", "");
  s.created = j.value("created", "");
  s.owner = j.value("owner", "");
  if (auto it = j.find("annotations"); it != j.end() && it->is_object())
    for (const auto& [k, v] : it->items())
      if (v.is_string()) s.annotations[k] = v.get<std::string>();
  s.start_time = j.value("startTime", uint64_t(0));
  s.cgroup_path = j.value("cgroupPath", "");
  return s;
}

std::string rfc3339_now() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

void check_id(const std::string& id) {
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '+' || c == '-';
  };
  bool valid = !id.empty() && id.size() <= 1024 && ok(id[0]) && id[0] != '.' &&
               id[0] != '-' && id[0] != '+' && std::all_of(id.begin(), id.end(), ok);
  if (!valid)
    throw Error("invalid container id " + quote(id) +
                    " (letters, digits and _ . + -, starting with a letter, digit or _)",
                kExitUsage);
}

Runtime::Runtime(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

void Runtime::warn(const std::string& msg) const {
  if (warn_) warn_(msg);
  else std::fprintf(stderr, "mult-oci: warning: %s\n", msg.c_str());
}

ContainerState Runtime::read(const std::string& id) const {
  check_id(id);
  std::string text;
  if (!read_file_if_exists(dir(id) + "/state.json", text)) {
    if (!file_exists(dir(id))) throw no_such(id);
    ContainerState st;  // still being created (or its create died)
    st.id = id;
    st.status = "creating";
    return st;
  }
  try {
    return ContainerState::from_file_json(Json::parse(text));
  } catch (const Json::exception& e) {
    throw Error("container " + quote(id) + ": corrupt state file: " + e.what());
  }
}

void Runtime::write(const ContainerState& st) const {
  write_file_atomic(dir(st.id) + "/state.json", st.to_file_json().dump(2) + "\n", 0600,
                    Durability::kVolatile);
}

ContainerState Runtime::state(const std::string& id) const {
  ContainerState st = read(id);
  if (st.status == "creating") return st;
  if (!alive(st)) {
    st.status = "stopped";
  } else if (!st.cgroup_path.empty() &&
             Cgroup::open(CgroupLayout::host(), st.cgroup_path).frozen()) {
    st.status = "paused";
  } else if (file_exists(dir(id) + "/" + kFifo)) {
    st.status = "created";
  } else {
    st.status = "running";
  }
  return st;
}

Spec Runtime::saved_spec(const std::string& id) const {
  return load_spec_file(dir(id) + "/config.json");
}

Process Runtime::config_process(const std::string& id) const {
  state(id);  // exists
  Spec spec = saved_spec(id);
  if (!spec.process) throw Error("container " + quote(id) + ": its config has no process");
  return *spec.process;
}

// ---- create, start, run ---------------------------------------------------

// A container being made: its directory, removed again unless commit()ed.
class Runtime::Created {
 public:
  Created(const Runtime& rt, const std::string& id) : dir_(rt.dir(id)) {
    make_dirs(rt.root_, 0711);
    if (::mkdir(dir_.c_str(), 0711) != 0) {
      if (errno == EEXIST) throw Error("container " + quote(id) + " already exists");
      throw sys_error("container " + quote(id) + ": " + dir_);
    }
    made_ = true;
    lock_.emplace(dir_, id);
  }
  ~Created() {
    if (!made_) return;
    try {
      remove_tree(dir_);
    } catch (const Error&) {
    }
  }
  void commit() { made_ = false; }

 private:
  std::string dir_;
  bool made_ = false;
  std::optional<DirLock> lock_;
};

namespace {

// The runtime supplies the default devices (runtime-spec config-linux.md):
// where the config restricts devices (engines send a lone "deny all" and
// count on the runtime, as runc and crun do), the defaults stay usable.
// Those every /dev holds come with every instance (instance_device_rules);
// here the rest of runc's: making nodes, /dev/console, /dev/net/tun.
void add_default_device_rules(Spec& spec) {
  if (!spec.linux.resources || spec.linux.resources->devices.empty()) return;
  struct Rule {
    const char* type;
    int64_t major, minor;  // -1: any
    const char* access;
  };
  static constexpr Rule kDefaults[] = {
      {"c", -1, -1, "m"}, {"b", -1, -1, "m"},  // mknod of any node (it still needs access)
      {"c", 5, 1, "rwm"},                      // console
      {"c", 10, 200, "rwm"},                   // net/tun
  };
  for (const auto& d : kDefaults) {
    DeviceRule r;
    r.allow = true;
    r.type = d.type;
    if (d.major >= 0) r.major = d.major;
    if (d.minor >= 0) r.minor = d.minor;
    r.access = d.access;
    spec.linux.resources->devices.push_back(r);
  }
}

struct Made {
  Instance instance;
  ContainerState state;
  Fd master;  // the terminal, when run relays it
};

}  // namespace

static Made make_container(const std::string& dir, const std::string& seccomp_cache,
                           const CreateOptions& o, bool relay_terminal,
                           const std::function<void(const std::string&)>& warn) {
  ContainerState st;
  st.id = o.id;
  st.created = rfc3339_now();
  st.owner = user_name(::geteuid());
  st.bundle = absolute(o.bundle.empty() ? "." : o.bundle);
  std::string config = st.bundle + "/config.json";
  std::string config_text = read_file(config);
  Spec spec = load_spec_file(config);
  if (!spec.process) throw Error(config + ": process: required to create a container");
  std::string root_path = spec.root.path;
  if (root_path.empty()) throw Error(config + ": root.path: empty");
  if (root_path[0] != '/') root_path = st.bundle + "/" + root_path;
  struct stat sb;
  if (::stat(root_path.c_str(), &sb) != 0) throw sys_error("root.path " + quote(root_path));
  if (!S_ISDIR(sb.st_mode)) throw Error("root.path " + quote(root_path) + ": not a directory");
  st.rootfs = absolute(root_path);
  spec.root.path = st.rootfs;
  check_host_support(spec);
  drop_unraisable_ambient(spec, o.id, warn);
  st.annotations = spec.annotations;
  // Rootless: below the user's delegated cgroup; without one (runc
  // --rootless alike) no cgroup, so no limits (instance_cgroup).
  st.cgroup_path = container_cgroup_path(spec, o.id);
  if (::geteuid() != 0) {
    st.cgroup_path = rootless_cgroup_path(CgroupLayout::host(), st.cgroup_path);
  }

  write_file_atomic(dir + "/config.json", config_text, 0600, Durability::kVolatile);
  std::string fifo = dir + "/" + kFifo;
  // Writable by the container's root whatever it maps to (the umask would
  // leave 0600, which a user-namespaced root cannot open).
  if (::mkfifo(fifo.c_str(), 0622) != 0 || ::chmod(fifo.c_str(), 0622) != 0)
    throw sys_error("start fifo " + fifo);

  add_default_device_rules(spec);
  // The container's process is PID 1 of its namespace, as OCI expects.
  spec.annotations[kAnnotationPid1] = "process";
  if (o.listen_fds > 0) {
    override_env(spec.process->env, {"LISTEN_FDS=" + std::to_string(o.listen_fds), "LISTEN_PID=1"});
  }

  LaunchRequest req;
  req.name = o.id;
  req.cgroup_path = st.cgroup_path;
  req.stdin_fd = o.stdin_fd;
  req.stdout_fd = o.stdout_fd;
  req.stderr_fd = o.stderr_fd;
  req.start_fifo = fifo;
  req.preserve_fds = o.preserve_fds + o.listen_fds;
  req.seccomp_cache_dir = seccomp_cache;
  Fd console_ours, console_theirs;
  req.console_socket = o.console_socket;
  if (spec.process->terminal && o.console_socket < 0) {
    if (!relay_terminal)
      throw Error("process.terminal: a terminal needs --console-socket (where its pty master goes)",
                  kExitUsage);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw sys_error("socketpair");
    console_ours.reset(sv[0]);
    console_theirs.reset(sv[1]);
    req.console_socket = sv[1];
  }
  // Without hooks before exec nothing needs to know the namespaces exist:
  // the instance then goes on without waiting for mult.
  if (spec.hooks.any_before_exec()) {
    req.on_created = [&](pid_t pid) {
      ContainerState now = st;
      now.pid = pid;
      now.status = "created";  // as crun: what the hooks see of a container being made
      std::string json = now.to_json().dump();
      run_hooks(spec.hooks.prestart, json, "prestart");
      run_hooks(spec.hooks.create_runtime, json, "createRuntime");
      return json;
    };
  }
  Instance inst = launch(spec, req);
  Fd master;
  if (console_ours) master = receive_fd(console_ours.get());
  st.pid = inst.pid();
  st.start_time = process_start_time(st.pid);
  if (st.start_time == 0) throw Error("container " + quote(o.id) + ": its process exited during create");
  st.status = "created";
  return Made{std::move(inst), std::move(st), std::move(master)};
}

ContainerState Runtime::create(const CreateOptions& o) {
  check_id(o.id);
  if (o.systemd_cgroup) throw Error("--systemd-cgroup: systemd is not running on this host");
  if (file_exists(dir(o.id))) throw Error("container " + quote(o.id) + " already exists");
  Created created(*this, o.id);
  PidFile pid_file(o.pid_file);
  Made m = make_container(dir(o.id), seccomp_cache(), o, /*relay_terminal=*/false,
                          [this](const std::string& m) { warn(m); });
  write(m.state);
  pid_file.write(m.state.pid);
  m.instance.release();
  created.commit();
  return m.state;
}

// Opens the start fifo for reading: the process blocked on it writes one
// byte and goes on to its startContainer hooks and the exec of its
// command. Its write end closes at that exec (O_CLOEXEC), or when it dies;
// what comes before the end of file is why it failed. `released` is
// called once the byte is read; this returns once the command is executed.
static void release_fifo(const std::string& fifo, const ContainerState& st,
                         const std::function<void()>& released) {
  // First: once the fifo is open the process may run, finish and be reaped.
  Fd pidfd = open_pidfd(st);
  if (!pidfd) throw Error("container " + quote(st.id) + ": its process exited before start");
  Fd fd(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) throw Error("container " + quote(st.id) + " is not in the created state");
    throw sys_error("start fifo " + fifo);
  }
  ::unlink(fifo.c_str());  // from now on the container counts as running
  std::string got;
  for (;;) {
    // Until its byte, the process may die without ever opening the fifo
    // (no end of file then); after it, the fifo's end says everything.
    struct pollfd p[2] = {{fd.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    int r = ::poll(p, got.empty() ? 2 : 1, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw sys_error("start fifo");
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0) throw sys_error("start fifo");
      if (n == 0) break;  // its command is executed (or it died)
      bool first = got.empty();
      got.append(buf, size_t(n));
      if (first && released) released();
      continue;
    }
    if (got.empty() && (p[1].revents & POLLIN))
      throw Error("container " + quote(st.id) + ": its process exited before start");
  }
  if (got.empty()) throw Error("container " + quote(st.id) + ": start fifo closed without a byte");
  if (got.size() > 1) throw Error("container " + quote(st.id) + ": " + got.substr(1));
}

void Runtime::start(const std::string& id) {
  check_id(id);
  ContainerState st;
  std::optional<DirLock> lock;
  lock.emplace(dir(id), id);
  st = state(id);
  if (st.status == "stopped") throw Error("container " + quote(id) + " has stopped: cannot start it");
  if (st.status != "created")
    throw Error("container " + quote(id) + " is " + st.status + ", not created: cannot start it");
  // Released, the container is running: the lock goes while its
  // startContainer hooks run (delete --force must not wait for them).
  release_fifo(dir(id) + "/" + kFifo, st, [&] {
    st.status = "running";
    write(st);
    lock.reset();
  });
  lock.reset();
  // After the exec, as the runtime-spec orders poststart.
  Spec spec = saved_spec(id);
  for (const std::string& failure : run_all_hooks(spec.hooks.poststart, st.to_json().dump(), "poststart"))
    warn(failure);
}

int Runtime::run(const CreateOptions& o, bool detach, bool keep) {
  check_id(o.id);
  if (o.systemd_cgroup) throw Error("--systemd-cgroup: systemd is not running on this host");
  if (file_exists(dir(o.id))) throw Error("container " + quote(o.id) + " already exists");
  std::optional<Made> m;
  {
    Created created(*this, o.id);
    PidFile pid_file(o.pid_file);
    m.emplace(make_container(dir(o.id), seccomp_cache(), o, /*relay_terminal=*/!detach,
                              [this](const std::string& m) { warn(m); }));
    write(m->state);
    pid_file.write(m->state.pid);
    created.commit();
  }
  try {
    start(o.id);
  } catch (...) {
    try {
      remove(o.id, true);
    } catch (const Error&) {
    }
    throw;
  }
  if (detach) {
    m->instance.release();
    return kExitOk;
  }
  if (m->master) m->instance.set_console(std::move(m->master));
  int status = m->instance.wait();
  if (keep) {
    m->instance.cgroup().keep();
  } else {
    remove(o.id, true);
  }
  return status;
}

// ---- kill, delete ---------------------------------------------------------

namespace {

// The container's cgroup, for what cannot be done without one.
Cgroup cgroup_for(const ContainerState& st, const char* what) {
  if (st.cgroup_path.empty())
    throw Error("container " + quote(st.id) + ": " + what +
                " needs a cgroup, and this rootless container has none (no delegated cgroup)");
  return Cgroup::open(CgroupLayout::host(), st.cgroup_path);
}

// Without a cgroup: the processes that share the container's PID namespace
// (its init alone when it has none of its own).
std::vector<pid_t> pids_in_namespace_of(pid_t init) {
  struct stat ns;
  if (::stat(("/proc/" + std::to_string(init) + "/ns/pid").c_str(), &ns) != 0) return {};
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return {init};
  while (struct dirent* e = ::readdir(d)) {
    char* end;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    struct stat other;
    if (::stat(("/proc/" + std::string(e->d_name) + "/ns/pid").c_str(), &other) == 0 &&
        other.st_ino == ns.st_ino && other.st_dev == ns.st_dev)
      out.push_back(pid_t(pid));
  }
  ::closedir(d);
  return out;
}

}  // namespace


void Runtime::kill(const std::string& id, int sig, bool all) {
  ContainerState st = state(id);
  if (st.status == "stopped" || st.status == "creating")
    throw Error("container " + quote(id) + ": container not running (" + st.status + ")");
  if (all && st.cgroup_path.empty() && sig == SIGKILL) {
    all = false;  // to PID 1 of its namespace, which takes every process along
  }
  if (all) {
    Cgroup cg = cgroup_for(st, "kill --all");
    if (sig == SIGKILL) {
      cg.kill_all();
    } else {
      for (pid_t p : cg.pids()) ::kill(p, sig);
    }
    return;
  }
  Fd pidfd = open_pidfd(st);
  if (!pidfd) throw Error("container " + quote(id) + ": container not running (stopped)");
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) != 0)
    throw sys_error("container " + quote(id) + ": kill");
}

// A create killed before it wrote the state (it cleans up after itself on
// any error it sees) may leave its cgroup: the one its saved config names,
// or the default; as root only (rootless paths depend on the user's cgroup).
void Runtime::remove_dead_create(const std::string& id) {
  if (::geteuid() == 0) {
    Spec saved;  // no config (or a corrupt one): the default path
    try {
      saved = load_spec_file(dir(id) + "/config.json");
    } catch (const Error&) {
    }
    Cgroup cg = Cgroup::open(CgroupLayout::host(), container_cgroup_path(saved, id));
    cg.adopt();
    cg.kill_all();
    cg.remove();
  }
  remove_tree(dir(id));
}

void Runtime::remove(const std::string& id, bool force) {
  check_id(id);
  ContainerState st;
  std::optional<Spec> spec;
  {
    DirLock lock(dir(id), id);
    st = state(id);
    if (st.status == "creating") {  // its create died (we hold its lock): what it made goes
      remove_dead_create(id);
      return;
    }
    // runtime-spec: deleting a container that is not stopped is an error
    // (runc and crun let a created one go; engines pass --force).
    bool live = st.status != "stopped";
    if (live && !force)
      throw Error("cannot delete container " + quote(id) + ": it is " + st.status +
                  " (stop it first, or use --force)");
    try {
      spec = saved_spec(id);
    } catch (const Error& e) {
      warn("container " + quote(id) + ": " + e.what());
    }
    Cgroup cg = Cgroup::open(CgroupLayout::host(), st.cgroup_path);
    if (live) {
      if (Fd pidfd = open_pidfd(st)) {
        cg.kill_all();
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
        if (!wait_exit(pidfd.get(), 5000))
          throw Error("container " + quote(id) + ": its process did not die");
      }
    }
    cg.adopt();
    cg.kill_all();
    cg.remove();
    remove_tree(dir(id));
  }
  st.status = "stopped";
  if (spec) {
    for (const std::string& failure : run_all_hooks(spec->hooks.poststop, st.to_json().dump(), "poststop"))
      warn(failure);
  }
}

// ---- exec, ps, list -------------------------------------------------------

int Runtime::exec(const std::string& id, const ExecOptions& o) {
  ContainerState st = state(id);
  if (st.status != "running" && st.status != "created")
    throw Error("cannot exec in container " + quote(id) + ": it is " + st.status);
  if (o.process.terminal && o.console_socket < 0 && o.detach)
    throw Error("exec: a terminal for a detached process needs --console-socket", kExitUsage);
  EnterOptions eo;
  // The container's seccomp filter binds every process of it.
  if (std::optional<Spec> spec = [&]() -> std::optional<Spec> {
        try {
          return saved_spec(id);
        } catch (const Error&) {
          return std::nullopt;
        }
      }();
      spec && spec->linux.seccomp)
    eo.seccomp = load_seccomp(*spec->linux.seccomp, seccomp_cache());
  eo.user = o.user;
  eo.console_socket = o.console_socket;
  eo.preserve_fds = o.preserve_fds;
  eo.start_time = st.start_time;
  PidFile pid_file(o.pid_file);
  Entered e = enter_instance(st.pid, st.cgroup_path, o.process, eo, "container " + quote(id));
  pid_file.write(e.pid);
  if (o.detach) return kExitOk;
  if (e.master) return relay_pty(e.master.get(), e.pid);
  return wait_forwarding_signals(e.pid);
}

std::vector<pid_t> Runtime::pids(const std::string& id) const {
  ContainerState st = state(id);
  if (st.status == "stopped") return {};
  if (st.cgroup_path.empty()) return pids_in_namespace_of(st.pid);
  return Cgroup::open(CgroupLayout::host(), st.cgroup_path).pids();
}

std::vector<ContainerState> Runtime::list() const {
  std::vector<ContainerState> out;
  DIR* d = ::opendir(root_.c_str());
  if (!d) return out;
  std::vector<std::string> ids;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || e->d_type != DT_DIR) continue;
    ids.push_back(n);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) {
    try {
      out.push_back(state(id));
    } catch (const Error&) {
    }
  }
  return out;
}

// ---- pause, resume, update, stats -----------------------------------------

void Runtime::pause(const std::string& id) {
  DirLock lock(dir(id), id);
  ContainerState st = state(id);
  if (st.status != "running" && st.status != "created")
    throw Error("cannot pause container " + quote(id) + ": it is " + st.status);
  cgroup_for(st, "pause").freeze();
}

void Runtime::resume(const std::string& id) {
  DirLock lock(dir(id), id);
  ContainerState st = state(id);
  if (st.status != "paused")
    throw Error("cannot resume container " + quote(id) + ": it is " + st.status + ", not paused");
  cgroup_for(st, "resume").thaw();
}

void Runtime::update(const std::string& id, const Resources& r) {
  DirLock lock(dir(id), id);
  ContainerState st = state(id);
  if (st.status == "stopped") throw Error("cannot update container " + quote(id) + ": it has stopped");
  // A limit on a controller whose v1 hierarchy the container did not join
  // (launch joins only those its config limits) moves it in there first.
  // The device list stays as created (runc's update leaves it too): these
  // rules alone would replace the defaults the container's /dev needs.
  Resources limits = r;
  limits.devices.clear();
  Cgroup cg = cgroup_for(st, "update");
  cg.join(Cgroup::controllers_for(limits));
  cg.keep();
  cg.apply(limits);
}

CgroupStats Runtime::stats(const std::string& id) const {
  ContainerState st = state(id);
  if (st.status == "stopped") throw Error("container " + quote(id) + ": container not running (stopped)");
  return cgroup_for(st, "stats").stats();
}

// ---- signals, spec, features ----------------------------------------------

namespace {

struct SignalName {
  const char* name;
  int number;
};

constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CLD", SIGCHLD},    {"CONT", SIGCONT},
    {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},
    {"URG", SIGURG},       {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF},     {"WINCH", SIGWINCH},   {"IO", SIGIO},       {"POLL", SIGPOLL},
    {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

int parse_signal(const std::string& s) {
  auto bad = [&] { return Error("invalid signal " + quote(s), kExitUsage); };
  if (all_digits(s)) {
    if (s.size() > 3) throw bad();
    int n = std::stoi(s);
    if (n < 1 || n > SIGRTMAX) throw bad();
    return n;
  }
  std::string up;
  for (char c : s) up += char(std::toupper(static_cast<unsigned char>(c)));
  if (up.rfind("SIG", 0) == 0) up.erase(0, 3);
  for (const auto& sig : kSignals)
    if (up == sig.name) return sig.number;
  auto rt = [&](const std::string& prefix, int base, int dir) -> int {
    if (up.rfind(prefix, 0) != 0) return 0;
    std::string rest = up.substr(prefix.size());
    if (rest.empty()) return base;
    if (rest[0] != (dir > 0 ? '+' : '-') || !all_digits(rest.substr(1)) || rest.size() > 3) throw bad();
    int n = base + dir * std::stoi(rest.substr(1));
    if (n < SIGRTMIN || n > SIGRTMAX) throw bad();
    return n;
  };
  if (int n = rt("RTMIN", SIGRTMIN, +1)) return n;
  if (int n = rt("RTMAX", SIGRTMAX, -1)) return n;
  throw bad();
}

Json default_config(bool rootless) {
  Json j = default_spec_json();
  j["process"]["terminal"] = true;  // as `runc spec` makes it
  if (!rootless) return j;
  Json namespaces = Json::array();
  for (const auto& ns : j["linux"]["namespaces"])
    if (ns["type"] != "network" && ns["type"] != "user") namespaces.push_back(ns);
  namespaces.push_back({{"type", "user"}});
  j["linux"]["namespaces"] = namespaces;
  j["linux"]["uidMappings"] = Json::array({{{"containerID", 0}, {"hostID", ::getuid()}, {"size", 1}}});
  j["linux"]["gidMappings"] = Json::array({{{"containerID", 0}, {"hostID", ::getgid()}, {"size", 1}}});
  Json mounts = Json::array();
  for (auto m : j["mounts"]) {
    if (m["type"] == "sysfs") {
      // A user namespace without its own network namespace cannot mount sysfs.
      m = {{"destination", "/sys"},
           {"type", "none"},
           {"source", "/sys"},
           {"options", Json::array({"rbind", "nosuid", "noexec", "nodev", "ro"})}};
    } else if (m["type"] == "devpts" && m.contains("options")) {
      Json opts = Json::array();
      for (const auto& o : m["options"])
        if (o != "gid=5") opts.push_back(o);
      m["options"] = opts;
    }
    mounts.push_back(m);
  }
  j["mounts"] = mounts;
  j["linux"].erase("resources");
  return j;
}

Json features() {
  Json caps = Json::array();
  for (const auto& c : all_capabilities()) caps.push_back(c);
  return Json{
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", kOciVersion},
      {"hooks", Json::array({"prestart", "createRuntime", "createContainer", "startContainer",
                             "poststart", "poststop"})},
      {"mountOptions",
       Json::array({"async",     "atime",      "bind",        "dev",          "diratime",
                    "dirsync",   "exec",       "mand",        "noatime",      "nodev",
                    "nodiratime", "noexec",    "nomand",      "norelatime",   "nostrictatime",
                    "nosuid",    "nosymfollow", "private",    "rbind",        "relatime",
                    "remount",   "ro",         "rprivate",    "rshared",      "rslave",
                    "runbindable", "rw",       "shared",      "silent",       "loud",
                    "slave",     "strictatime", "suid",       "symfollow",    "sync",
                    "unbindable"})},
      {"linux",
       {{"namespaces",
         Json::array({"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"})},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false},
                    {"rdma", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions", Json::array({"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                                   "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                   "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
                                   "SCMP_ACT_TRAP"})},
          {"operators", Json::array({"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                                     "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"})},
          {"archs", Json::array({"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS",
                                 "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
                                 "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PARISC",
                                 "SCMP_ARCH_PARISC64", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
                                 "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390",
                                 "SCMP_ARCH_S390X", "SCMP_ARCH_X32", "SCMP_ARCH_X86",
                                 "SCMP_ARCH_X86_64"})},
          {"knownFlags", Json::array({"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                      "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"})},
          {"supportedFlags", Json::array({"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                          "SECCOMP_FILTER_FLAG_SPEC_ALLOW"})}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", false}}}}}}},
      {"annotations", {{"org.mult.version", kVersion}}},
  };
}

Process parse_process_json(const Json& j) {
  if (!j.is_object()) throw Error("process: expected a JSON object");
  return *parse_fragment(nullptr, "process", j).process;
}

Resources parse_resources_json(const Json& j) {
  if (!j.is_object()) throw Error("resources: expected a JSON object");
  Spec s = parse_fragment("linux", "resources", j);
  return s.linux.resources.value_or(Resources{});
}

}  // namespace mult::oci
