// The engine: the life of an instance (create, start, run, exec, stop, rm,
// ls) over the state root. No daemon: every call is one process that takes
// the instance's lock, does its work and leaves the state in files.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cgroup.hh"
#include "spec.hh"
#include "state.hh"
#include "store.hh"

namespace mult {

struct RunOptions {
  bool detach = false;  // start and return; stdio goes to the console log
  bool keep = false;    // keep the definition after the instance ends
};

struct ExecRequest {
  std::vector<std::string> args;
  std::string user;              // "name", "uid[:gid]"; empty: the spec's user
  std::string cwd;               // empty: the spec's cwd
  std::vector<std::string> env;  // K=V, added to (or replacing) the spec's
  bool tty = false;              // a pty inside the instance
};

struct InstanceInfo {
  std::string name;
  std::string state;  // running, stopped
  pid_t pid = 0;
  std::string hostname, rootfs, network;
  long long started = 0;
  bool persistent = false;
  std::optional<uint64_t> memory_usage;  // running instances in a memory cgroup only
  uint64_t pids = 0;                     // running instances only
};

// One sample of an instance's usage (mult stats).
struct InstanceStats {
  std::string name;
  CgroupStats cgroup;
  uint64_t net_rx_bytes = 0, net_tx_bytes = 0;  // its own network stack, lo aside
  uint64_t sampled_ns = 0;                       // CLOCK_MONOTONIC
};

class Engine {
 public:
  explicit Engine(Store store) : store_(std::move(store)) {}
  const Store& store() const { return store_; }

  // Defines a persistent instance from `spec` (validated, rootfs checked).
  void create(const std::string& name, const Json& spec);
  // Starts a defined instance, detached.
  void start(const std::string& name);
  // Runs an instance made from `spec` (named `name`); returns the exit
  // status of its command, or 0 when detached.
  int run(const std::string& name, const Json& spec, const RunOptions& opts);
  // Stops a running instance: stop command, SIGTERM to all, SIGKILL after
  // `timeout` seconds (default: the instance's stop timeout).
  void stop(const std::string& name, std::optional<int> timeout = std::nullopt);
  // Removes an instance; `force` kills a running one first.
  void remove(const std::string& name, bool force);
  // Kills a running instance's processes and waits for its init, leaving
  // the rest to remove(); nothing for one not running or not there.
  void kill(const std::string& name);
  // Runs a command inside a running instance; returns its exit status.
  int exec(const std::string& name, const ExecRequest& req);
  // Every instance, after cleaning up those that died on their own.
  std::vector<InstanceInfo> list();
  Json inspect(const std::string& name);
  // Changes the limits of a running instance (and of its definition):
  // `resources` is merged into the spec's linux.resources.
  void update(const std::string& name, const Json& resources);
  // Usage of running instances (all when `names` is empty).
  std::vector<InstanceStats> stats(const std::vector<std::string>& names);
  // Cleans up instances that ended without mult; returns how many.
  int gc();

  // The spec an instance was defined or started with.
  Spec load_spec(const std::string& name) const;
  static std::string random_name();

 private:
  bool defined(const std::string& name) const;
  void create_definition_locked(const std::string& name, const Json& doc);
  bool has_runtime(const std::string& name) const;
  // Runtime state of a live instance, or nullopt after cleaning up a dead one.
  std::optional<RuntimeState> live_state(const std::string& name);
  void cleanup_runtime(const std::string& name, const RuntimeState* state);
  std::vector<std::string> names();

  Store store_;
};

}  // namespace mult
