// mult-oci: an OCI runtime with runc's command line, so that podman,
// containerd and Kubernetes can run mult instances. Everything here reads
// words and prints results; the operations are in src/lib/oci.cc.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "cgroup.hh"
#include "enter.hh"
#include "error.hh"
#include "fd.hh"
#include "oci.hh"
#include "store.hh"

namespace mult::oci::cli {

using Args = std::vector<std::string>;

// ---- global options and logging -------------------------------------------

struct Globals {
  std::string root = kDefaultRoot;
  std::string log_file;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
};

Globals g;

// A line in --log, as runc writes it: JSON {"level","msg","time"} or
// logrus's text form.
// Opened once, up front: exec writes after entering the container's mounts.
int log_fd = -1;

void open_log() {
  if (g.log_file.empty() || log_fd >= 0) return;
  log_fd = ::open(g.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd >= 0 && log_fd < 64) {  // out of the way of preserved fds
    int high = ::fcntl(log_fd, F_DUPFD_CLOEXEC, 64);
    if (high >= 0) {
      ::close(log_fd);
      log_fd = high;
    }
  }
}

void log_line(const char* level, const std::string& msg) {
  open_log();
  if (log_fd < 0) return;
  int fd = log_fd;
  std::string line;
  if (g.log_format == "json") {
    line = Json{{"level", level}, {"msg", msg}, {"time", rfc3339_now()}}.dump() + "\n";
  } else {
    line = "time=\"" + rfc3339_now() + "\" level=" + level + " msg=" + Json(msg).dump() + "\n";
  }
  ssize_t ignored = ::write(fd, line.data(), line.size());
  (void)ignored;
}

void debug(const std::string& msg) {
  if (g.debug) log_line("debug", msg);
}

void warn(const std::string& msg) {
  std::fprintf(stderr, "mult-oci: warning: %s\n", msg.c_str());
  log_line("warning", msg);
}

// ---- argument reading -----------------------------------------------------

// Options as runc (Go's flag package) takes them: --name, -name, -n, with
// the value after "=" or in the next word. `interleaved`: options may
// follow positionals (all commands but exec, whose words after the id are
// the command's own).
class Reader {
 public:
  Reader(const Args& a, std::string command, bool interleaved = true)
      : args_(a), command_(std::move(command)), interleaved_(interleaved) {}

  // Advances to the next option; false when the options end.
  bool next_option() {
    while (i_ < args_.size()) {
      const std::string& a = args_[i_];
      if (a == "--") {
        ++i_;
        while (i_ < args_.size()) positional_.push_back(args_[i_++]);
        return false;
      }
      if (a.size() > 1 && a[0] == '-' && !(stopped_)) {
        std::string name = a.substr(a[1] == '-' ? 2 : 1);
        has_value_ = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
          value_ = name.substr(eq + 1);
          name.resize(eq);
          has_value_ = true;
        }
        name_ = name;
        ++i_;
        return true;
      }
      if (!interleaved_) {
        while (i_ < args_.size()) positional_.push_back(args_[i_++]);
        return false;
      }
      positional_.push_back(a);
      ++i_;
    }
    return false;
  }
  bool is(const char* long_name, const char* short_name = nullptr) const {
    return name_ == long_name || (short_name && name_ == short_name);
  }
  std::string value() {
    if (has_value_) return value_;
    if (i_ >= args_.size()) throw Error(command_ + ": option --" + name_ + " needs a value", kExitUsage);
    return args_[i_++];
  }
  int int_value() {
    std::string v = value();
    try {
      size_t used = 0;
      int n = std::stoi(v, &used);
      if (used == v.size()) return n;
    } catch (const std::exception&) {
    }
    throw Error(command_ + ": --" + name_ + " " + quote(v) + ": expected a number", kExitUsage);
  }
  // A boolean flag: --flag, --flag=true, --flag=false.
  bool flag() {
    if (!has_value_) return true;
    if (value_ == "true" || value_ == "1") return true;
    if (value_ == "false" || value_ == "0") return false;
    throw Error(command_ + ": --" + name_ + "=" + value_ + ": expected true or false", kExitUsage);
  }
  [[noreturn]] void unknown() const {
    throw Error(command_ + ": unknown option -" + (name_.size() > 1 ? "-" : "") + name_ +
                    " (see mult-oci --help)",
                kExitUsage);
  }
  Args& positional() { return positional_; }
  // Exactly one positional: the container id.
  std::string id() {
    if (positional_.empty())
      throw Error(command_ + ": missing container id (usage: mult-oci " + command_ + " ID)", kExitUsage);
    if (positional_.size() > 1)
      throw Error(command_ + ": unexpected argument " + quote(positional_[1]), kExitUsage);
    return positional_[0];
  }
  static std::string quote(const std::string& s) { return "\"" + s + "\""; }

 private:
  const Args& args_;
  std::string command_;
  bool interleaved_;
  bool stopped_ = false;
  size_t i_ = 0;
  std::string name_, value_;
  bool has_value_ = false;
  Args positional_;
};

// Connects to the console socket at `path` (runc's --console-socket); the
// fd lands above the preserved ones.
Fd connect_console(const std::string& path, int min_fd) {
  Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) throw sys_error("console socket");
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw Error("--console-socket " + Reader::quote(path) + ": path too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw sys_error("--console-socket " + Reader::quote(path));
  if (s.get() < min_fd) {
    int fd = ::fcntl(s.get(), F_DUPFD_CLOEXEC, min_fd);
    if (fd < 0) throw sys_error("console socket");
    s.reset(fd);
  }
  return s;
}

int listen_fds() {
  const char* n = std::getenv("LISTEN_FDS");
  if (!n || !*n) return 0;
  int v = std::atoi(n);
  return v > 0 ? v : 0;
}

Json read_json(const std::string& path, const std::string& what) {
  std::string text;
  if (path == "-") {
    if (int err = try_read_fd(0, text)) throw sys_error(what + " from standard input", err);
  } else {
    text = read_file(path);
  }
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(what + " " + Reader::quote(path) + ": invalid JSON: " + e.what());
  }
}

void print_json(const Json& j, bool pretty = true) {
  std::string s = pretty ? j.dump(2) : j.dump();
  std::printf("%s\n", s.c_str());
}

// ---- commands -------------------------------------------------------------

// create and run share their options.
struct CreateFlags {
  CreateOptions o;
  std::string console_socket;
  bool detach = false, keep = false;
};

bool read_create_option(Reader& r, CreateFlags& f) {
  if (r.is("bundle", "b")) f.o.bundle = r.value();
  else if (r.is("pid-file")) f.o.pid_file = r.value();
  else if (r.is("console-socket")) f.console_socket = r.value();
  else if (r.is("preserve-fds")) f.o.preserve_fds = r.int_value();
  else if (r.is("no-pivot") || r.is("no-new-keyring")) r.flag();  // mult always pivots; no keyring is made
  else if (r.is("no-subreaper")) r.flag();
  else return false;
  return true;
}

void finish_create_flags(Reader& r, CreateFlags& f, Fd& console) {
  f.o.id = r.id();
  f.o.systemd_cgroup = g.systemd_cgroup;
  f.o.listen_fds = listen_fds();
  if (f.o.preserve_fds < 0) throw Error("--preserve-fds: must not be negative", kExitUsage);
  if (!f.console_socket.empty()) {
    console = connect_console(f.console_socket, 3 + f.o.preserve_fds + f.o.listen_fds);
    f.o.console_socket = console.get();
  }
}

int cmd_create(Runtime& rt, const Args& a) {
  Reader r(a, "create");
  CreateFlags f;
  while (r.next_option())
    if (!read_create_option(r, f)) r.unknown();
  Fd console;
  finish_create_flags(r, f, console);
  rt.create(f.o);
  return kExitOk;
}

int cmd_run(Runtime& rt, const Args& a) {
  Reader r(a, "run");
  CreateFlags f;
  while (r.next_option()) {
    if (read_create_option(r, f)) continue;
    if (r.is("detach", "d")) f.detach = r.flag();
    else if (r.is("keep")) f.keep = r.flag();
    else r.unknown();
  }
  Fd console;
  finish_create_flags(r, f, console);
  return rt.run(f.o, f.detach, f.keep);
}

int cmd_start(Runtime& rt, const Args& a) {
  Reader r(a, "start");
  while (r.next_option()) r.unknown();
  rt.start(r.id());
  return kExitOk;
}

int cmd_state(Runtime& rt, const Args& a) {
  Reader r(a, "state");
  while (r.next_option()) r.unknown();
  print_json(rt.state(r.id()).to_json());
  return kExitOk;
}

int cmd_kill(Runtime& rt, const Args& a) {
  Reader r(a, "kill");
  bool all = false;
  while (r.next_option()) {
    if (r.is("all", "a")) all = r.flag();
    else r.unknown();
  }
  Args& p = r.positional();
  if (p.empty()) throw Error("kill: missing container id (usage: mult-oci kill [--all] ID [SIGNAL])", kExitUsage);
  if (p.size() > 2) throw Error("kill: unexpected argument " + Reader::quote(p[2]), kExitUsage);
  int sig = p.size() == 2 ? parse_signal(p[1]) : SIGTERM;
  rt.kill(p[0], sig, all);
  return kExitOk;
}

int cmd_delete(Runtime& rt, const Args& a) {
  Reader r(a, "delete");
  bool force = false;
  while (r.next_option()) {
    if (r.is("force", "f")) force = r.flag();
    else r.unknown();
  }
  rt.remove(r.id(), force);
  return kExitOk;
}

int cmd_exec(Runtime& rt, const Args& a) {
  Reader r(a, "exec", /*interleaved=*/false);
  ExecOptions o;
  std::string process_file, console_socket, cwd;
  std::vector<std::string> env, caps;
  std::vector<gid_t> gids;
  bool tty = false, tty_set = false, no_new_privs = false;
  while (r.next_option()) {
    if (r.is("process", "p")) process_file = r.value();
    else if (r.is("console-socket")) console_socket = r.value();
    else if (r.is("cwd")) cwd = r.value();
    else if (r.is("env", "e")) env.push_back(r.value());
    else if (r.is("tty", "t")) tty = r.flag(), tty_set = true;
    else if (r.is("user", "u")) o.user = r.value();
    else if (r.is("additional-gids", "g")) gids.push_back(gid_t(r.int_value()));
    else if (r.is("detach", "d")) o.detach = r.flag();
    else if (r.is("pid-file")) o.pid_file = r.value();
    else if (r.is("preserve-fds")) o.preserve_fds = r.int_value();
    else if (r.is("cap", "c")) caps.push_back(r.value());
    else if (r.is("no-new-privs")) no_new_privs = r.flag();
    else if (r.is("process-label") || r.is("apparmor") || r.is("cgroup")) r.value();
    else if (r.is("ignore-paused")) r.flag();
    else r.unknown();
  }
  Args& p = r.positional();
  if (p.empty()) throw Error("exec: missing container id (usage: mult-oci exec ID COMMAND...)", kExitUsage);
  std::string id = p[0];
  Args command(p.begin() + 1, p.end());
  if (!process_file.empty()) {
    if (!command.empty())
      throw Error("exec: give either --process FILE or a command, not both", kExitUsage);
    o.process = parse_process_json(read_json(process_file, "--process"));
  } else {
    if (command.empty())
      throw Error("exec: missing command (usage: mult-oci exec ID COMMAND...)", kExitUsage);
    o.process = rt.config_process(id);
    o.process.args = command;
    o.process.terminal = false;
  }
  if (tty_set) o.process.terminal = tty;
  if (!cwd.empty()) o.process.cwd = cwd;
  override_env(o.process.env, env);
  for (gid_t gid : gids) o.process.user.additional_gids.push_back(gid);
  if (no_new_privs) o.process.no_new_privileges = true;
  if (!caps.empty()) {
    if (!o.process.capabilities) o.process.capabilities = Capabilities{};
    auto& c = *o.process.capabilities;
    for (const auto& cap : caps)
      for (auto* set : {&c.bounding, &c.effective, &c.permitted, &c.inheritable})
        set->push_back(cap);
  }
  Fd console;
  if (!console_socket.empty()) {
    console = connect_console(console_socket, 3 + o.preserve_fds);
    o.console_socket = console.get();
  }
  return rt.exec(id, o);
}

std::string command_line(pid_t pid) {
  std::string s;
  try {
    if (!read_file_if_exists("/proc/" + std::to_string(pid) + "/cmdline", s)) return "";
  } catch (const Error&) {
    return "";
  }
  while (!s.empty() && s.back() == '\0') s.pop_back();
  std::replace(s.begin(), s.end(), '\0', ' ');
  return s;
}

int cmd_ps(Runtime& rt, const Args& a) {
  Reader r(a, "ps", /*interleaved=*/false);
  std::string format = "table";
  while (r.next_option()) {
    if (r.is("format", "f")) format = r.value();
    else r.unknown();
  }
  if (format != "table" && format != "json")
    throw Error("ps: --format " + Reader::quote(format) + ": expected table or json", kExitUsage);
  Args& p = r.positional();
  if (p.empty()) throw Error("ps: missing container id (usage: mult-oci ps ID)", kExitUsage);
  std::vector<pid_t> pids = rt.pids(p[0]);
  if (format == "json") {
    Json j = Json::array();
    for (pid_t pid : pids) j.push_back(pid);
    print_json(j, false);
    return kExitOk;
  }
  std::printf("%-8s %s\n", "PID", "CMD");
  for (pid_t pid : pids) std::printf("%-8d %s\n", pid, command_line(pid).c_str());
  return kExitOk;
}

int cmd_list(Runtime& rt, const Args& a) {
  Reader r(a, "list");
  std::string format = "table";
  bool quiet = false;
  while (r.next_option()) {
    if (r.is("format", "f")) format = r.value();
    else if (r.is("quiet", "q")) quiet = r.flag();
    else r.unknown();
  }
  if (format != "table" && format != "json")
    throw Error("list: --format " + Reader::quote(format) + ": expected table or json", kExitUsage);
  if (!r.positional().empty()) throw Error("list: unexpected argument " + Reader::quote(r.positional()[0]), kExitUsage);
  auto all = rt.list();
  if (quiet) {
    for (const auto& c : all) std::printf("%s\n", c.id.c_str());
  } else if (format == "json") {
    Json j = Json::array();
    for (const auto& c : all) j.push_back(c.to_json());
    print_json(j, false);
  } else {
    std::printf("%-20s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
    for (const auto& c : all)
      std::printf("%-20s %-8d %-10s %-40s %-32s %s\n", c.id.c_str(), c.status == "stopped" ? 0 : c.pid,
                  c.status.c_str(), c.bundle.c_str(), c.created.c_str(), c.owner.c_str());
  }
  return kExitOk;
}

int cmd_pause(Runtime& rt, const Args& a) {
  Reader r(a, "pause");
  while (r.next_option()) r.unknown();
  rt.pause(r.id());
  return kExitOk;
}

int cmd_resume(Runtime& rt, const Args& a) {
  Reader r(a, "resume");
  while (r.next_option()) r.unknown();
  rt.resume(r.id());
  return kExitOk;
}

int cmd_update(Runtime& rt, const Args& a) {
  Reader r(a, "update");
  Json res = Json::object();
  std::string file;
  auto num = [&](const std::string& v, const char* opt) -> int64_t {
    try {
      size_t used = 0;
      long long n = std::stoll(v, &used);
      if (used == v.size()) return n;
    } catch (const std::exception&) {
    }
    throw Error(std::string("update: --") + opt + " " + Reader::quote(v) + ": expected a number", kExitUsage);
  };
  auto size = [&](const std::string& v, const char* opt) -> int64_t {
    if (v == "-1") return -1;
    return parse_size(v, std::string("--") + opt);
  };
  while (r.next_option()) {
    if (r.is("resources", "r")) file = r.value();
    else if (r.is("memory", "m")) res["memory"]["limit"] = size(r.value(), "memory");
    else if (r.is("memory-reservation")) res["memory"]["reservation"] = size(r.value(), "memory-reservation");
    else if (r.is("memory-swap")) res["memory"]["swap"] = size(r.value(), "memory-swap");
    else if (r.is("kernel-memory") || r.is("kernel-memory-tcp")) r.value();  // deprecated: ignored
    else if (r.is("cpu-quota")) res["cpu"]["quota"] = num(r.value(), "cpu-quota");
    else if (r.is("cpu-period")) res["cpu"]["period"] = num(r.value(), "cpu-period");
    else if (r.is("cpu-shares")) res["cpu"]["shares"] = num(r.value(), "cpu-shares");
    else if (r.is("cpu-rt-period")) res["cpu"]["realtimePeriod"] = num(r.value(), "cpu-rt-period");
    else if (r.is("cpu-rt-runtime")) res["cpu"]["realtimeRuntime"] = num(r.value(), "cpu-rt-runtime");
    else if (r.is("cpu-idle")) res["cpu"]["idle"] = num(r.value(), "cpu-idle");
    else if (r.is("cpuset-cpus")) res["cpu"]["cpus"] = r.value();
    else if (r.is("cpuset-mems")) res["cpu"]["mems"] = r.value();
    else if (r.is("pids-limit")) res["pids"]["limit"] = num(r.value(), "pids-limit");
    else if (r.is("blkio-weight")) res["blockIO"]["weight"] = num(r.value(), "blkio-weight");
    else r.unknown();
  }
  std::string id = r.id();
  Json doc = file.empty() ? Json::object() : read_json(file, "--resources");
  if (!doc.is_object()) throw Error("--resources: expected a JSON object", kExitUsage);
  // Flags win over the file, field by field.
  for (const auto& [section, fields] : res.items())
    for (const auto& [k, v] : fields.items()) doc[section][k] = v;
  if (doc.empty()) throw Error("update: nothing to change (give --resources or a limit flag)", kExitUsage);
  rt.update(id, parse_resources_json(doc));
  return kExitOk;
}

Json stats_json(const std::string& id, const CgroupStats& s) {
  Json mem = {{"usage", {{"usage", s.memory_usage.value_or(0)}}}};
  if (s.memory_limit) mem["usage"]["limit"] = *s.memory_limit;
  Json pids = {{"current", s.pids}};
  if (s.pids_limit) pids["limit"] = *s.pids_limit;
  return Json{{"type", "stats"},
              {"id", id},
              {"data",
               {{"cpu", {{"usage", {{"total", s.cpu_usage_ns}}}}},
                {"memory", mem},
                {"pids", pids},
                {"blkio",
                 {{"ioServiceBytesRecursive",
                   Json::array({{{"op", "Read"}, {"value", s.io_read_bytes}},
                                {{"op", "Write"}, {"value", s.io_write_bytes}}})}}},
                {"oomKills", s.oom_kills}}}};
}

// "5s", "500ms", "1m", "2" (seconds) -> milliseconds.
long parse_interval(const std::string& v) {
  size_t used = 0;
  double n = 0;
  try {
    n = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = v.substr(used);
  double ms = unit == "ms" ? n : unit == "s" || unit.empty() ? n * 1000 : unit == "m" ? n * 60000 : -1;
  if (used == 0 || ms <= 0) throw Error("events: --interval " + Reader::quote(v) + ": expected a duration like 5s", kExitUsage);
  return long(ms);
}

int cmd_events(Runtime& rt, const Args& a) {
  Reader r(a, "events");
  bool once = false;
  long interval = 5000;
  while (r.next_option()) {
    if (r.is("stats")) once = r.flag();
    else if (r.is("interval")) interval = parse_interval(r.value());
    else r.unknown();
  }
  std::string id = r.id();
  for (;;) {
    print_json(stats_json(id, rt.stats(id)), false);
    std::fflush(stdout);
    if (once) return kExitOk;
    std::this_thread::sleep_for(std::chrono::milliseconds(interval));
    if (rt.state(id).status == "stopped") return kExitOk;
  }
}

int cmd_spec(Runtime&, const Args& a) {
  Reader r(a, "spec");
  bool rootless = false;
  std::string bundle = ".";
  while (r.next_option()) {
    if (r.is("rootless")) rootless = r.flag();
    else if (r.is("bundle", "b")) bundle = r.value();
    else r.unknown();
  }
  if (!r.positional().empty()) throw Error("spec: unexpected argument " + Reader::quote(r.positional()[0]), kExitUsage);
  std::string path = bundle + "/config.json";
  if (::access(path.c_str(), F_OK) == 0) throw Error(path + ": already exists (remove it first)");
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) throw sys_error(path);
  std::string text = default_config(rootless).dump(2) + "\n";
  if (::write(fd.get(), text.data(), text.size()) != ssize_t(text.size())) throw sys_error(path);
  return kExitOk;
}

int cmd_features(Runtime&, const Args& a) {
  Reader r(a, "features");
  while (r.next_option()) r.unknown();
  print_json(features());
  return kExitOk;
}

void usage(FILE* to) {
  std::fputs(
      "usage: mult-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] [ID] [ARGS]\n"
      "\n"
      "An OCI runtime (runc's command line) over mult's engine.\n"
      "\n"
      "Commands:\n"
      "  create [-b DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] ID\n"
      "                          set the container up; its process waits for start\n"
      "  start ID                let a created container's process run\n"
      "  run [-b DIR] [-d] [--pid-file F] [--console-socket S] [--keep] ID\n"
      "                          create + start; wait and delete unless -d\n"
      "  state ID                the OCI state as JSON\n"
      "  kill [-a] ID [SIGNAL]   signal its process (-a: every process); default TERM\n"
      "  delete [-f] ID          remove a stopped container (-f: kill it first)\n"
      "  exec [OPTIONS] ID CMD [ARG...] | exec -p process.json ID\n"
      "      --cwd DIR  -e K=V  -u UID[:GID]  -g GID  -t  --console-socket S\n"
      "      -d (detach)  --pid-file F  --preserve-fds N  -c CAP  --no-new-privs\n"
      "  ps [-f table|json] ID   its processes\n"
      "  list, ls [-f table|json] [-q]\n"
      "  pause ID, resume ID     freeze and thaw its cgroup\n"
      "  update [-r FILE|-] [--memory M] [--memory-reservation M] [--memory-swap M]\n"
      "         [--cpu-quota N] [--cpu-period N] [--cpu-shares N] [--cpuset-cpus L]\n"
      "         [--cpuset-mems L] [--pids-limit N] [--blkio-weight N] ID\n"
      "  events [--stats] [--interval 5s] ID\n"
      "                          resource usage as JSON lines\n"
      "  spec [--rootless] [-b DIR]  write a default config.json\n"
      "  features                what this runtime supports, as JSON\n"
      "\n"
      "Global options:\n"
      "  --root DIR              state directory (default /run/mult-oci)\n"
      "  --log FILE              also log errors here\n"
      "  --log-format text|json  format of --log (default text)\n"
      "  --debug                 log debug messages too\n"
      "  --systemd-cgroup        refused: systemd is not running on this host\n"
      "  --rootless VALUE        accepted (true|false|auto)\n"
      "  --criu PATH             accepted and ignored (no checkpointing)\n"
      "  -v, --version           version\n"
      "  -h, --help              this help\n"
      "\n"
      "See mult-oci(8).\n",
      to);
}

}  // namespace mult::oci::cli

int main(int argc, char** argv) {
  using namespace mult;
  using namespace mult::oci;
  using namespace mult::oci::cli;
  Args args(argv + 1, argv + argc);
  size_t i = 0;
  try {
    for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
      std::string a = args[i];
      std::string name = a.substr(a[1] == '-' ? 2 : 1), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
        has_value = true;
      }
      auto take = [&]() -> std::string {
        if (has_value) return value;
        if (i + 1 >= args.size()) throw Error("option --" + name + " needs a value", kExitUsage);
        return args[++i];
      };
      auto flag = [&]() {
        if (!has_value || value == "true" || value == "1") return true;
        if (value == "false" || value == "0") return false;
        throw Error("--" + name + "=" + value + ": expected true or false", kExitUsage);
      };
      if (name == "h" || name == "help") {
        usage(stdout);
        return kExitOk;
      } else if (name == "v" || name == "version") {
        std::printf("mult-oci version %s\nspec: %s\n", kVersion, kOciVersion);
        return kExitOk;
      } else if (name == "root") {
        g.root = take();
      } else if (name == "log") {
        g.log_file = take();
      } else if (name == "log-format") {
        g.log_format = take();
        if (g.log_format != "text" && g.log_format != "json")
          throw Error("--log-format " + Reader::quote(g.log_format) + ": expected text or json", kExitUsage);
      } else if (name == "debug") {
        g.debug = flag();
      } else if (name == "systemd-cgroup") {
        g.systemd_cgroup = flag();
      } else if (name == "rootless") {
        std::string v = take();
        if (v != "true" && v != "false" && v != "auto")
          throw Error("--rootless " + Reader::quote(v) + ": expected true, false or auto", kExitUsage);
      } else if (name == "criu") {
        take();
      } else {
        throw Error("unknown global option " + a + " (see mult-oci --help)", kExitUsage);
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "mult-oci: %s\n", e.what());
    log_line("error", e.what());
    return e.code();
  }
  open_log();
  if (i >= args.size()) {
    usage(stderr);
    return kExitUsage;
  }
  static const std::map<std::string, int (*)(Runtime&, const Args&)> commands = {
      {"create", cmd_create}, {"start", cmd_start},     {"run", cmd_run},
      {"state", cmd_state},   {"kill", cmd_kill},       {"delete", cmd_delete},
      {"exec", cmd_exec},     {"ps", cmd_ps},           {"list", cmd_list},
      {"ls", cmd_list},       {"pause", cmd_pause},     {"resume", cmd_resume},
      {"update", cmd_update}, {"events", cmd_events},   {"spec", cmd_spec},
      {"features", cmd_features},
  };
  std::string command = args[i];
  if (command == "help") {
    usage(stdout);
    return kExitOk;
  }
  auto it = commands.find(command);
  if (it == commands.end()) {
    std::string msg = "unknown command \"" + command + "\" (see mult-oci --help)";
    std::fprintf(stderr, "mult-oci: %s\n", msg.c_str());
    log_line("error", msg);
    return kExitUsage;
  }
  Args rest(args.begin() + long(i) + 1, args.end());
  for (const auto& a : rest) {
    if (a == "--") break;
    if (a == "--help" || a == "-h") {
      if (command == "exec") break;  // may belong to the command
      usage(stdout);
      return kExitOk;
    }
  }
  if (g.debug) {
    std::string line = "mult-oci";
    for (const auto& a : args) line += " " + a;
    debug(line);
  }
  try {
    if (g.systemd_cgroup && command != "spec" && command != "features" && command != "state" &&
        command != "list" && command != "ls")
      throw Error("--systemd-cgroup: systemd is not running on this host");
    Runtime rt(g.root);
    rt.set_warn(warn);
    return it->second(rt, rest);
  } catch (const Error& e) {
    std::fprintf(stderr, "mult-oci: %s\n", e.what());
    log_line("error", e.what());
    return e.code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mult-oci: %s\n", e.what());
    log_line("error", e.what());
    return kExitFailure;
  }
}
