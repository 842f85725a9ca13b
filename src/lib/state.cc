#include "state.hh"

#include <cstdlib>
#include <cstring>

#include "error.hh"

namespace mult {

Json RuntimeState::to_json() const {
  return Json{{"name", name},         {"pid", pid},
              {"startTime", start_time}, {"status", status},
              {"cgroupPath", cgroup_path}, {"rootfs", rootfs},
              {"hostname", hostname}, {"network", network},
              {"started", started},   {"ephemeral", ephemeral},
              {"pid1IsMultInit", pid1_is_mult_init}};
}

RuntimeState RuntimeState::from_json(const Json& j) {
  RuntimeState s;
  s.name = j.value("name", "");
  s.pid = j.value("pid", 0);
  s.start_time = j.value("startTime", uint64_t(0));
  s.status = j.value("status", "");
  s.cgroup_path = j.value("cgroupPath", "");
  s.rootfs = j.value("rootfs", "");
  s.hostname = j.value("hostname", "");
  s.network = j.value("network", "none");
  s.started = j.value("started", 0LL);
  s.ephemeral = j.value("ephemeral", false);
  s.pid1_is_mult_init = j.value("pid1IsMultInit", true);
  return s;
}

uint64_t process_start_time(pid_t pid) {
  if (pid <= 0) return 0;
  std::string stat;
  try {
    if (!read_file_if_exists("/proc/" + std::to_string(pid) + "/stat", stat)) return 0;
  } catch (const Error&) {
    return 0;
  }
  // The command name may hold spaces and parentheses: fields follow the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  const char* p = stat.c_str() + close + 2;
  if (*p == 'Z' || *p == 'X') return 0;
  // Field 3 is the state; start time is field 22.
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return 0;
    ++p;
  }
  return std::strtoull(p, nullptr, 10);
}

bool is_alive(const RuntimeState& state) {
  return state.pid > 0 && state.start_time != 0 &&
         process_start_time(state.pid) == state.start_time;
}

std::string state_file(const Store& store, const std::string& name) {
  return store.runtime_dir(name) + "/state.json";
}

void write_state(const Store& store, const RuntimeState& state) {
  write_file_atomic(state_file(store, state.name), state.to_json().dump(2) + "\n", 0600,
                    Durability::kVolatile);
}

std::optional<RuntimeState> read_state(const Store& store, const std::string& name) {
  std::string text;
  if (!read_file_if_exists(state_file(store, name), text)) return std::nullopt;
  try {
    return RuntimeState::from_json(Json::parse(text));
  } catch (const Json::exception& e) {
    throw Error("instance \"" + name + "\": corrupt state file: " + e.what());
  }
}

}  // namespace mult
