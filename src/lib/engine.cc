#include "engine.hh"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "cgroup.hh"
#include "cgroup_instance.hh"
#include "error.hh"
#include "launch.hh"
#include "net_attach.hh"
#include "seccomp.hh"
#include "tty.hh"
#include "userns.hh"
#include "../init/stop_signal.hh"

namespace mult {

namespace {

// An instance's lock: an flock on <run>/locks/NAME. The file is unlinked
// when the instance goes away; a locker that finds it was unlinked under it
// tries again, so two lockers never hold two different files.
class InstanceLock {
 public:
  InstanceLock(const Store& store, const std::string& name)
      : path_(store.run() + "/locks/" + name) {
    for (;;) {
      Fd fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
      if (!fd && errno == ENOENT) {  // the first lock under this root
        make_dirs(store.run(), 0711);  // traversable: see start_instance
        make_dirs(store.run() + "/locks", 0700);
        fd.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
      }
      if (!fd) throw sys_error("lock " + path_);
      while (::flock(fd.get(), LOCK_EX) != 0)
        if (errno != EINTR) throw sys_error("lock " + path_);
      struct stat held, now;
      if (::fstat(fd.get(), &held) == 0 && ::stat(path_.c_str(), &now) == 0 &&
          held.st_ino == now.st_ino && held.st_dev == now.st_dev) {
        fd_ = std::move(fd);
        return;
      }
    }
  }
  // The instance is gone: so is its lock file (unlinked while still held).
  void forget() { ::unlink(path_.c_str()); }

 private:
  std::string path_;
  Fd fd_;
};

long long now_seconds() { return (long long)::time(nullptr); }

std::vector<std::string> list_dirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (valid_name(n) && e->d_type == DT_DIR) out.push_back(n);
  }
  ::closedir(d);
  return out;
}

std::string annotation(const Spec& spec, const char* key) {
  auto it = spec.annotations.find(key);
  return it == spec.annotations.end() ? "" : it->second;
}

int stop_timeout_of(const Spec& spec) {
  std::string t = annotation(spec, kAnnotationStopTimeout);
  return t.empty() ? kDefaultStopTimeout : std::stoi(t);
}

std::string cgroup_path_of(const Spec& spec, const std::string& name) {
  std::string path = spec.linux.cgroups_path.empty() ? default_cgroup_path(name) : spec.linux.cgroups_path;
  // Rootless: below the user's delegated cgroup; without one, none.
  if (::geteuid() != 0) return rootless_cgroup_path(CgroupLayout::host(), path);
  return path;
}

// Checks what parse_spec cannot: things on this host.
void check_host_side(const Spec& spec) {
  struct stat st;
  if (::stat(spec.root.path.c_str(), &st) != 0)
    throw sys_error("rootfs \"" + spec.root.path + "\"");
  if (!S_ISDIR(st.st_mode)) throw Error("rootfs \"" + spec.root.path + "\": not a directory");
  for (const auto& m : spec.mounts) {
    bool bind = m.type == "bind" ||
                std::count(m.options.begin(), m.options.end(), "bind") ||
                std::count(m.options.begin(), m.options.end(), "rbind");
    if (bind && ::stat(m.source.c_str(), &st) != 0)
      throw sys_error("mount \"" + m.destination + "\": source \"" + m.source + "\"");
  }
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

// A pidfd for the state's init, or an invalid Fd when it is gone or its
// pid was reused.
Fd open_init(const RuntimeState& s) {
  Fd fd(int(::syscall(SYS_pidfd_open, s.pid, 0)));
  if (!fd || !is_alive(s)) return Fd();
  return fd;
}

}  // namespace

std::string Engine::random_name() {
  unsigned char bytes[6];
  if (::getrandom(bytes, sizeof bytes, 0) != ssize_t(sizeof bytes)) throw sys_error("getrandom");
  static const char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char b : bytes) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

bool Engine::defined(const std::string& name) const {
  return ::access((store_.definition_dir(name) + "/config.json").c_str(), F_OK) == 0;
}

bool Engine::has_runtime(const std::string& name) const {
  return ::access(store_.runtime_dir(name).c_str(), F_OK) == 0;
}

Spec Engine::load_spec(const std::string& name) const {
  std::string runtime = store_.runtime_dir(name) + "/config.json";
  if (::access(runtime.c_str(), F_OK) == 0) return load_spec_file(runtime);
  if (defined(name)) return load_spec_file(store_.definition_dir(name) + "/config.json");
  throw Error("instance \"" + name + "\": no such instance");
}

void Engine::create(const std::string& name, const Json& doc) {
  check_name(name);
  Spec spec = parse_spec(doc);
  check_host_side(spec);
  InstanceLock lock(store_, name);
  if (defined(name) || has_runtime(name)) throw Error("instance \"" + name + "\": already exists");
  create_definition_locked(name, doc);
}

void Engine::create_definition_locked(const std::string& name, const Json& doc) {
  make_dirs(store_.definitions_dir());
  std::string dir = store_.definition_dir(name);
  if (::mkdir(dir.c_str(), 0700) != 0) throw sys_error("instance \"" + name + "\"");
  try {
    write_file_atomic(dir + "/config.json", doc.dump(2) + "\n", 0600);
  } catch (...) {
    remove_tree(dir);
    throw;
  }
}

// What ended the instance, kept with a persistent one for inspect.
static void record_last_exit(const Store& store, const std::string& name, uint64_t oom_kills) {
  std::string def = store.definition_dir(name);
  if (::access(def.c_str(), F_OK) != 0) return;
  Json j = {{"ended", now_seconds()}, {"oomKills", oom_kills}, {"oomKilled", oom_kills > 0}};
  write_file_atomic(def + "/last-exit.json", j.dump(2) + "\n", 0600);
}

void Engine::cleanup_runtime(const std::string& name, const RuntimeState* state) {
  if (state && !state->cgroup_path.empty()) {
    Cgroup cg = Cgroup::open(CgroupLayout::host(), state->cgroup_path);
    cg.adopt();
    record_last_exit(store_, name, cg.oom_kills());
    cg.kill_all();
    cg.remove();
  }
  release_id_range(store_, name);
  NetAttachment::detach(store_, name);
  remove_tree(store_.runtime_dir(name));
}

std::optional<RuntimeState> Engine::live_state(const std::string& name) {
  auto state = read_state(store_, name);
  if (state && is_alive(*state)) return state;
  if (has_runtime(name)) cleanup_runtime(name, state ? &*state : nullptr);
  return std::nullopt;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size() && !s.empty()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// Name servers for a bridged instance: those asked for, else the host's
// own that an instance can reach (not the host's loopback).
std::string resolv_conf(const Spec& spec) {
  std::string out;
  auto asked = split_list(annotation(spec, kAnnotationNetDns));
  if (!asked.empty()) {
    for (const auto& d : asked) out += "nameserver " + d + "\n";
    return out;
  }
  std::string host;
  if (read_file_if_exists("/etc/resolv.conf", host)) {
    size_t pos = 0;
    while (pos < host.size()) {
      size_t end = host.find('\n', pos);
      std::string line = host.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? host.size() : end + 1;
      if (line.rfind("nameserver 127.", 0) == 0 || line.rfind("nameserver ::1", 0) == 0) continue;
      if (line.rfind("nameserver ", 0) == 0 || line.rfind("search ", 0) == 0) out += line + "\n";
    }
  }
  return out;
}

// A file of the runtime dir bound over `target` inside the instance.
void bind_runtime_file(Spec& spec, const std::string& dir, const char* file, const std::string& target,
                       const std::string& text) {
  std::string path = dir + "/" + file;
  write_file_atomic(path, text, 0644, Durability::kVolatile);
  spec.mounts.push_back({target, "bind", path, {"bind", "nosuid", "nodev", "noexec"}});
}

// Whether `spec` asks for a veth on a bridge (--net bridge[:NET]): the only
// network mode that takes a lease, rules and a device to give back.
static bool bridged(const Spec& spec) {
  return annotation(spec, kAnnotationNet).rfind("bridge:", 0) == 0;
}

// The instance's network, made in mult between the clone and the
// instance's own set-up: what --net and its companions asked for.
class NetworkPlan {
 public:
  NetworkPlan(const Store& store, const std::string& name, Spec& spec, const std::string& dir)
      : store_(store), name_(name), spec_(spec), dir_(dir) {
    mode_ = annotation(spec, kAnnotationNet);
    if (mode_.rfind("instance:", 0) == 0) join_instance(mode_.substr(9));
    if (mode_.empty() && !spec.linux.has_namespace("network")) mode_ = "host";
    if (mode_.empty()) mode_ = spec.linux.find_namespace("network")->path.empty() ? "none" : "ns";
  }
  const std::string& mode() const { return mode_; }
  bool bridged() const { return mult::bridged(spec_); }

  // Before launch: /etc/hosts of an instance without a bridge.
  void prepare() {
    if (mode_ == "host" || bridged()) return;
    bind_runtime_file(spec_, dir_, "hosts", "/etc/hosts", hosts_file(name_, spec_.hostname, "127.0.1.1", peers()));
  }
  // Right after the clone: the veth, address, routes, rules.
  void attach(pid_t pid) {
    if (!bridged()) return;
    NetRequest req;
    req.network = mode_.substr(7);
    req.ip = annotation(spec_, kAnnotationNetIp);
    req.mac = annotation(spec_, kAnnotationNetMac);
    std::string mtu = annotation(spec_, kAnnotationNetMtu);
    req.mtu = mtu.empty() ? 0 : std::stoi(mtu);
    req.publish = split_list(annotation(spec_, kAnnotationNetPublish));
    req.nat = annotation(spec_, kAnnotationNetNat) == "true";
    attachment_ = NetAttachment::attach(store_, name_, req, pid);
    write_file_atomic(dir_ + "/hosts", hosts_file(name_, spec_.hostname, attachment_.address(), peers()),
                      0644, Durability::kVolatile);
  }
  // Before launch, for a bridge: the files attach() fills in.
  void prepare_bridge() {
    if (!bridged()) return;
    bind_runtime_file(spec_, dir_, "hosts", "/etc/hosts", "");
    bind_runtime_file(spec_, dir_, "resolv.conf", "/etc/resolv.conf", resolv_conf(spec_));
  }
  void keep() { attachment_.keep(); }

 private:
  void join_instance(const std::string& other) {
    auto st = read_state(store_, other);
    if (!st || !is_alive(*st)) throw Error("--net instance:" + other + ": instance \"" + other + "\" is not running");
    std::erase_if(spec_.linux.namespaces, [](const Namespace& n) { return n.type == "network"; });
    spec_.linux.namespaces.push_back({"network", "/proc/" + std::to_string(st->pid) + "/ns/net"});
  }
  std::vector<std::pair<std::string, std::string>> peers() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& link : split_list(annotation(spec_, kAnnotationNetLinks))) {
      auto rec = NetRecord::load(store_, link);
      if (!rec) throw Error("--link " + link + ": instance \"" + link + "\" has no bridge address");
      out.push_back({link, rec->address});
    }
    for (const auto& h : split_list(annotation(spec_, kAnnotationNetHosts))) {
      auto colon = h.find(':');
      out.push_back({h.substr(0, colon), h.substr(colon + 1)});
    }
    return out;
  }

  const Store& store_;
  std::string name_;
  Spec& spec_;
  std::string dir_, mode_;
  NetAttachment attachment_;
};

// Starts `spec` as instance `name`, whose runtime dir this call makes.
// Shared by start and run; the caller holds the lock.
static Instance start_instance(const Store& store, const std::string& name, Json doc, Spec spec,
                               bool detach, bool ephemeral) {
  make_dirs(store.run(), 0711);
  std::string dir = store.runtime_dir(name);
  // 0711: root of a user namespace must reach the files bound from here
  // (hosts, resolv.conf); state and spec stay 0600.
  if (::mkdir(dir.c_str(), 0711) != 0) {
    if (errno == EEXIST) throw Error("instance \"" + name + "\": already exists");
    throw sys_error("instance \"" + name + "\"");
  }
  try {
    if (annotation(spec, kAnnotationUserns) == "auto") {
      IdMapping range{0, lease_id_range(store, name), kIdRangeSize};
      spec.linux.uid_mappings = spec.linux.gid_mappings = {range};
      Json map = Json::array({{{"containerID", 0}, {"hostID", range.host_id}, {"size", range.size}}});
      doc["linux"]["uidMappings"] = doc["linux"]["gidMappings"] = map;
    }
    NetworkPlan net(store, name, spec, dir);
    net.prepare();
    net.prepare_bridge();
    LaunchRequest req{name, cgroup_path_of(spec, name)};
    req.seccomp_cache_dir = store.seccomp_cache();
    if (net.bridged()) req.on_cloned = [&](pid_t pid) { net.attach(pid); };
    req.while_building = [&] {
      write_file_atomic(dir + "/config.json", doc.dump() + "\n", 0600, Durability::kVolatile);
    };
    Fd in, out;
    if (detach) {
      in.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      out.reset(::open((dir + "/console.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
      if (!in || !out) throw sys_error("instance \"" + name + "\": console");
      req.stdin_fd = in.get();
      req.stdout_fd = req.stderr_fd = out.get();
    }
    Fd console_ours, console_theirs;
    if (!detach && spec.process && spec.process->terminal) {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw sys_error("socketpair");
      console_ours.reset(sv[0]);
      console_theirs.reset(sv[1]);
      req.console_socket = sv[1];
    }
    Instance inst = launch(spec, req);
    if (console_ours) inst.set_console(receive_fd(console_ours.get()));
    RuntimeState st;
    st.name = name;
    st.pid = inst.pid();
    st.start_time = process_start_time(inst.pid());
    st.status = "running";
    st.cgroup_path = req.cgroup_path;
    st.rootfs = spec.root.path;
    st.hostname = spec.hostname;
    st.started = now_seconds();
    st.ephemeral = ephemeral;
    st.network = net.mode();
    st.pid1_is_mult_init = annotation(spec, kAnnotationPid1) != "process";
    write_state(store, st);
    net.keep();
    return inst;
  } catch (...) {
    release_id_range(store, name);
    remove_tree(dir);
    throw;
  }
}

void Engine::start(const std::string& name) {
  check_name(name);
  InstanceLock lock(store_, name);
  if (!defined(name)) {
    if (!has_runtime(name)) lock.forget();
    throw Error("instance \"" + name + "\": no such instance");
  }
  if (live_state(name)) throw Error("instance \"" + name + "\": already running");
  std::string text = read_file(store_.definition_dir(name) + "/config.json");
  Json doc = Json::parse(text);
  Spec spec = parse_spec(doc);
  Instance inst = start_instance(store_, name, doc, spec, /*detach=*/true, /*ephemeral=*/false);
  inst.release();
}

int Engine::run(const std::string& name, const Json& doc, const RunOptions& opts) {
  check_name(name);
  Spec spec = parse_spec(doc);
  check_host_side(spec);
  std::optional<InstanceLock> starting(std::in_place, store_, name);
  if (defined(name) || has_runtime(name))
    throw Error("instance \"" + name + "\": already exists");
  if (opts.keep) create_definition_locked(name, doc);
  for (;;) {
    std::optional<Instance> inst;
    {
      if (!starting) starting.emplace(store_, name);  // again, after a reboot
      InstanceLock lock = std::move(*starting);
      starting.reset();
      try {
        inst.emplace(start_instance(store_, name, doc, spec, opts.detach, !opts.keep));
      } catch (...) {
        if (opts.keep) remove_tree(store_.definition_dir(name));
        lock.forget();
        throw;
      }
      if (opts.detach) {
        inst->release();
        return kExitOk;
      }
    }
    int status = inst->wait();
    bool rebooted = inst->ended_by_reboot();
    if (inst->ended_by_halt()) {
      std::fprintf(stderr, "mult: instance \"%s\": powered off from inside\n", name.c_str());
      status = kExitOk;
    }
    InstanceLock lock(store_, name);
    uint64_t oom_kills = inst->cgroup().oom_kills();
    if (oom_kills)
      std::fprintf(stderr, "mult: instance \"%s\": out of memory: the kernel killed %llu process%s\n",
                   name.c_str(), (unsigned long long)oom_kills, oom_kills == 1 ? "" : "es");
    if (opts.keep) record_last_exit(store_, name, oom_kills);
    inst->cgroup().kill_all();
    inst->cgroup().remove();
    inst.reset();
    release_id_range(store_, name);
    // Without a bridge nothing was attached: no scan of every network's
    // leases (detach's recovery after a crash; rm and gc still do it).
    if (bridged(spec)) NetAttachment::detach(store_, name);
    remove_tree(store_.runtime_dir(name));
    if (rebooted) {
      std::fprintf(stderr, "mult: instance \"%s\": rebooted from inside; starting it again\n", name.c_str());
      continue;
    }
    if (!opts.keep) lock.forget();
    return status;
  }
}

void Engine::stop(const std::string& name, std::optional<int> timeout) {
  check_name(name);
  InstanceLock lock(store_, name);
  auto state = live_state(name);
  if (!state) {
    if (!defined(name) && !has_runtime(name)) {
      lock.forget();
      throw Error("instance \"" + name + "\": no such instance");
    }
    throw Error("instance \"" + name + "\": not running");
  }
  Spec spec = load_spec(name);
  int secs = timeout.value_or(stop_timeout_of(spec));
  Fd pidfd = open_init(*state);
  if (pidfd) {
    siginfo_t info {};
    info.si_signo = state->pid1_is_mult_init ? kInitStopSignal : SIGTERM;
    info.si_code = SI_QUEUE;
    info.si_pid = ::getpid();
    info.si_uid = ::getuid();
    info.si_value.sival_int = secs > 0 ? secs : -1;
    if (secs > 0) ::syscall(SYS_pidfd_send_signal, pidfd.get(), info.si_signo, &info, 0);
    // mult-init keeps its own clock; ours only backs it up.
    if (secs <= 0 || !wait_exit(pidfd.get(), secs * 1000 + 2000)) {
      Cgroup cg = Cgroup::open(CgroupLayout::host(), state->cgroup_path);
      cg.kill_all();
      ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
      wait_exit(pidfd.get(), 5000);
    }
  }
  cleanup_runtime(name, &*state);
  if (state->ephemeral && !defined(name)) lock.forget();
}

// Every process of the instance killed, its init waited for.
static void kill_running(const RuntimeState& state) {
  Cgroup cg = Cgroup::open(CgroupLayout::host(), state.cgroup_path);
  cg.kill_all();
  if (Fd pidfd = open_init(state)) {
    ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    wait_exit(pidfd.get(), 5000);
  }
}

void Engine::kill(const std::string& name) {
  check_name(name);
  InstanceLock lock(store_, name);
  auto state = read_state(store_, name);
  if (state && is_alive(*state)) kill_running(*state);
  else if (!defined(name) && !has_runtime(name)) lock.forget();
}

void Engine::remove(const std::string& name, bool force) {
  check_name(name);
  InstanceLock lock(store_, name);
  if (!defined(name) && !has_runtime(name)) {
    lock.forget();
    throw Error("instance \"" + name + "\": no such instance");
  }
  if (auto state = live_state(name)) {
    if (!force) throw Error("instance \"" + name + "\": is running (stop it first, or use rm -f)");
    kill_running(*state);
    cleanup_runtime(name, &*state);
  }
  remove_tree(store_.definition_dir(name));
  lock.forget();
}

std::vector<std::string> Engine::names() {
  std::set<std::string> all;
  for (auto& n : list_dirs(store_.definitions_dir())) all.insert(n);
  // <run>/locks and <run>/seccomp (the filter cache) are not instances.
  for (auto& n : list_dirs(store_.run()))
    if (n != "locks" && n != "seccomp") all.insert(n);
  return {all.begin(), all.end()};
}

std::vector<InstanceInfo> Engine::list() {
  std::vector<InstanceInfo> out;
  for (const auto& name : names()) {
    InstanceLock lock(store_, name);
    auto state = live_state(name);
    bool persistent = defined(name);
    if (!state && !persistent) {
      lock.forget();
      continue;  // an ephemeral instance that ended: gone
    }
    InstanceInfo info;
    info.name = name;
    info.persistent = persistent;
    if (state) {
      info.state = "running";
      info.pid = state->pid;
      info.hostname = state->hostname;
      info.rootfs = state->rootfs;
      info.network = state->network;
      info.started = state->started;
      CgroupStats cs = Cgroup::open(CgroupLayout::host(), state->cgroup_path).stats();
      info.memory_usage = cs.memory_usage;
      info.pids = cs.pids;
    } else {
      info.state = "stopped";
      try {
        Spec spec = load_spec(name);
        info.hostname = spec.hostname;
        info.rootfs = spec.root.path;
      } catch (const Error&) {
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

int Engine::gc() {
  int cleaned = 0;
  for (const auto& name : names()) {
    InstanceLock lock(store_, name);
    if (!has_runtime(name)) continue;
    if (!live_state(name)) {
      ++cleaned;
      if (!defined(name)) lock.forget();
    }
  }
  return cleaned;
}

Json Engine::inspect(const std::string& name) {
  check_name(name);
  InstanceLock lock(store_, name);
  auto state = live_state(name);
  if (!state && !defined(name)) {
    lock.forget();
    throw Error("instance \"" + name + "\": no such instance");
  }
  std::string path = state ? store_.runtime_dir(name) + "/config.json"
                           : store_.definition_dir(name) + "/config.json";
  Json out;
  out["name"] = name;
  out["state"] = state ? "running" : "stopped";
  out["persistent"] = defined(name);
  if (state) {
    out["runtime"] = state->to_json();
    CgroupStats cs = Cgroup::open(CgroupLayout::host(), state->cgroup_path).stats();
    out["oomKills"] = cs.oom_kills;
    out["oomKilled"] = cs.oom_kills > 0;
  }
  std::string last;
  if (read_file_if_exists(store_.definition_dir(name) + "/last-exit.json", last))
    out["lastExit"] = Json::parse(last);
  out["spec"] = Json::parse(read_file(path));
  // The seccomp profile in force (null: none), in full: the spec names the
  // default profile by annotation only. (A spec that no longer parses has
  // none to show; start says why.)
  try {
    Spec spec = parse_spec(out["spec"]);
    out["seccomp"] = spec.linux.seccomp ? seccomp_json(*spec.linux.seccomp) : Json(nullptr);
  } catch (const Error&) {
  }
  return out;
}

void Engine::update(const std::string& name, const Json& resources) {
  check_name(name);
  InstanceLock lock(store_, name);
  auto state = live_state(name);
  if (!state) {
    if (!defined(name)) throw Error("instance \"" + name + "\": no such instance");
    throw Error("instance \"" + name + "\": not running");
  }
  std::string runtime = store_.runtime_dir(name) + "/config.json";
  Json doc = Json::parse(read_file(runtime));
  doc["linux"]["resources"].merge_patch(resources);
  Spec spec = parse_spec(doc);
  Cgroup cg = Cgroup::open(CgroupLayout::host(), state->cgroup_path);
  // A limit for a controller the instance started without: on a v1 or
  // hybrid host its cgroup is not in that hierarchy yet.
  cg.join(Cgroup::controllers_for(*spec.linux.resources));
  cg.apply(*spec.linux.resources);
  write_file_atomic(runtime, doc.dump() + "\n", 0600, Durability::kVolatile);
  if (defined(name)) {
    std::string def = store_.definition_dir(name) + "/config.json";
    Json d = Json::parse(read_file(def));
    d["linux"]["resources"].merge_patch(resources);
    write_file_atomic(def, d.dump(2) + "\n", 0600);
  }
}

// Bytes through the network stack of `pid`'s namespace, loopback aside.
static void read_net_dev(pid_t pid, uint64_t& rx, uint64_t& tx) {
  std::string text;
  try {
    if (!read_file_if_exists("/proc/" + std::to_string(pid) + "/net/dev", text)) return;
  } catch (const Error&) {
    return;
  }
  size_t pos = 0;
  for (int line = 0; pos < text.size(); ++line) {
    size_t end = text.find('\n', pos);
    std::string l = text.substr(pos, end - pos);
    pos = end == std::string::npos ? text.size() : end + 1;
    auto colon = l.find(':');
    if (line < 2 || colon == std::string::npos) continue;
    std::string ifname = l.substr(0, colon);
    ifname.erase(0, ifname.find_first_not_of(' '));
    if (ifname == "lo") continue;
    unsigned long long v[9] = {};
    if (std::sscanf(l.c_str() + colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9) {
      rx += v[0];
      tx += v[8];
    }
  }
}

std::vector<InstanceStats> Engine::stats(const std::vector<std::string>& names) {
  std::vector<InstanceStats> out;
  std::vector<std::string> wanted = names;
  if (wanted.empty())
    for (const auto& i : list())
      if (i.state == "running") wanted.push_back(i.name);
  for (const auto& name : wanted) {
    check_name(name);
    auto state = read_state(store_, name);
    if (!state || !is_alive(*state)) throw Error("instance \"" + name + "\": not running");
    InstanceStats st;
    st.name = name;
    st.cgroup = Cgroup::open(CgroupLayout::host(), state->cgroup_path).stats();
    read_net_dev(state->pid, st.net_rx_bytes, st.net_tx_bytes);
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    st.sampled_ns = uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace mult
