// mult-oci: the OCI runtime interface (runtime-spec runtime.md) over the same
// engine as mult. A container is an instance made by launch() from its
// bundle's config.json, with its process as PID 1 (org.mult.pid1=process);
// mult-oci keeps its state in <root>/<id>/:
//
//   state.json    the OCI state, plus what mult-oci needs to track it
//   config.json   the config the container was created from (its hooks)
//   exec.fifo     while created: the process blocks until `start` reads it
//
// Every operation is one short process, like runc's: no daemon. The
// container's status is derived live from its process (pid + start time),
// the start fifo and its cgroup's freezer. No terminal I/O here beyond what
// launch() and the exec relay do.
#pragma once
#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cgroup.hh"
#include "spec.hh"

namespace mult::oci {

inline constexpr const char* kDefaultRoot = "/run/mult-oci";
inline constexpr const char* kVersion = MULT_VERSION;

// The OCI state of a container, and how mult-oci finds it again.
struct ContainerState {
  std::string oci_version = kOciVersion;
  std::string id;
  std::string status;  // creating, created, running, paused, stopped
  pid_t pid = 0;       // as the host sees it
  std::string bundle;  // absolute
  std::string rootfs;  // absolute
  std::string created; // RFC 3339, UTC
  std::string owner;   // user name of the creator
  std::map<std::string, std::string> annotations;
  // Kept in state.json only.
  uint64_t start_time = 0;  // of `pid` (process_start_time): guards against pid reuse
  std::string cgroup_path;

  // The OCI state as `state` prints it and hooks read it: ociVersion, id,
  // status, pid (0 once stopped), bundle, rootfs, created, owner, annotations.
  Json to_json() const;
  Json to_file_json() const;
  static ContainerState from_file_json(const Json& j);
};

struct CreateOptions {
  std::string id;
  std::string bundle = ".";   // holds config.json; a relative root.path is below it
  std::string pid_file;       // the host pid of the container's process goes here
  int console_socket = -1;    // process.terminal: a connected unix socket for the pty master
  int preserve_fds = 0;       // fds 3 .. 3+N-1 pass into the container
  int listen_fds = 0;         // socket activation: LISTEN_FDS more fds, and the env to say so
  bool systemd_cgroup = false;  // refused: there is no systemd here
  int stdin_fd = 0, stdout_fd = 1, stderr_fd = 2;
};

struct ExecOptions {
  Process process;            // args, env, cwd, user, terminal, capabilities, rlimits
  std::string user;           // "uid[:gid]" or a name, looked up inside; empty: process.user
  int console_socket = -1;    // process.terminal: the pty master goes here
  int preserve_fds = 0;
  bool detach = false;        // return once it runs (the caller's subreaper reaps it)
  std::string pid_file;
};

class Runtime {
 public:
  explicit Runtime(std::string root = kDefaultRoot);
  const std::string& root() const { return root_; }
  // Where warnings go (failed poststart/poststop hooks); stderr by default.
  void set_warn(std::function<void(const std::string&)> warn) { warn_ = std::move(warn); }

  // create: the container's process is set up and blocks until start. Runs
  // prestart and createRuntime hooks (and createContainer inside). On
  // failure nothing is left: no state, cgroup or mount.
  ContainerState create(const CreateOptions& o);
  // create + start; unless `detach`, waits for the process, deletes the
  // container (unless `keep`) and returns its exit status. A terminal
  // without a console socket is relayed to our stdin/stdout.
  int run(const CreateOptions& o, bool detach, bool keep);
  // Lets a created container's process run; then the poststart hooks.
  void start(const std::string& id);
  // The state with its status as it is now. Throws "does not exist".
  ContainerState state(const std::string& id) const;
  // Sends `signal` to the container's process, or with `all` to every
  // process of its cgroup. An error on a stopped container.
  void kill(const std::string& id, int signal, bool all);
  // delete: a stopped (or created) container; `force` kills a running one.
  // Removes its cgroup and state, then runs the poststop hooks.
  void remove(const std::string& id, bool force);
  // A new process in a running container; its exit status, or 0 detached.
  int exec(const std::string& id, const ExecOptions& o);
  // The process of the config the container was created from (exec's base).
  Process config_process(const std::string& id) const;
  std::vector<pid_t> pids(const std::string& id) const;
  std::vector<ContainerState> list() const;
  void pause(const std::string& id);
  void resume(const std::string& id);
  void update(const std::string& id, const Resources& r);
  CgroupStats stats(const std::string& id) const;

 private:
  class Created;
  void remove_dead_create(const std::string& id);
  std::string dir(const std::string& id) const { return root_ + "/" + id; }
  // Compiled seccomp filters, kept between containers (not a container: its
  // name is not an id).
  std::string seccomp_cache() const { return root_ + "/.seccomp-cache"; }
  ContainerState read(const std::string& id) const;
  void write(const ContainerState& st) const;
  Spec saved_spec(const std::string& id) const;
  void warn(const std::string& msg) const;

  std::string root_;
  std::function<void(const std::string&)> warn_;
};

// "KILL", "SIGKILL", "sigterm", "9", "RTMIN+3" -> the signal number.
// Throws Error (usage) for anything else.
int parse_signal(const std::string& s);

// `spec`: the default config.json (runc's defaults: a terminal, sh,
// rootfs "rootfs"); `rootless` adds a user namespace mapping the current
// user to root and drops what a user cannot do (network namespace, sysfs).
Json default_config(bool rootless);

// `features`: what this runtime supports, as runtime-spec features.md says.
Json features();

// A process JSON (exec --process) or a resources JSON (update --resources),
// validated by the spec parser; errors name the JSON path.
Process parse_process_json(const Json& j);
Resources parse_resources_json(const Json& j);

// Current time as RFC 3339 with nanoseconds, UTC ("2024-05-01T12:00:00.123456789Z").
std::string rfc3339_now();

// Container ids: [A-Za-z0-9_][A-Za-z0-9_.+-]*, at most 1024 characters
// (never "." or "..", nor a hidden name like mult-oci's .seccomp-cache).
void check_id(const std::string& id);

}  // namespace mult::oci
