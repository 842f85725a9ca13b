// Runtime state of an instance: <run>/NAME/state.json. An instance is
// tracked by its init's pid together with that process's start time, so a
// reused pid never passes for the instance.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "spec.hh"
#include "store.hh"

namespace mult {

struct RuntimeState {
  std::string name;
  pid_t pid = 0;               // the init, as the host sees it
  uint64_t start_time = 0;     // field 22 of /proc/PID/stat
  std::string status;          // "created" or "running" as written
  std::string cgroup_path;
  std::string rootfs;
  std::string hostname;
  std::string network = "none";
  long long started = 0;       // unix time
  bool ephemeral = false;      // removed when it ends
  bool pid1_is_mult_init = true;

  Json to_json() const;
  static RuntimeState from_json(const Json& j);
};

// Start time of `pid` in clock ticks since boot; 0 if there is no such
// process or it is a zombie.
uint64_t process_start_time(pid_t pid);

// True while the init recorded in `state` runs.
bool is_alive(const RuntimeState& state);

std::string state_file(const Store& store, const std::string& name);
void write_state(const Store& store, const RuntimeState& state);
// nullopt when the instance has no runtime state.
std::optional<RuntimeState> read_state(const Store& store, const std::string& name);

}  // namespace mult
