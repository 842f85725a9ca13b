// The cgroup of a new instance, delegated cgroups for rootless ones
// (cgroup_instance.hh).
#include "cgroup_instance.hh"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cgroup_devices.hh"
#include "error.hh"
#include "store.hh"
#include "text.hh"

namespace mult {

namespace {

std::string uid_text(uid_t uid) { return "uid " + std::to_string(uid); }

// Whether the user owns the cgroup `dir`: the directory and the two files
// that make a delegation (moving processes, enabling controllers). "" when
// it does, else why not.
std::string not_owned(const std::string& dir, const std::string& path, uid_t uid) {
  for (const char* name : {"", "/cgroup.procs", "/cgroup.subtree_control"}) {
    struct stat st;
    std::string file = dir + name;
    if (::stat(file.c_str(), &st) != 0)
      return "cgroup2 " + path + ": " + (*name ? std::string(name + 1) + ": " : "") + std::strerror(errno);
    if (st.st_uid != uid)
      return "cgroup2 " + path + " is not delegated to " + uid_text(uid) + " (" +
             (*name ? std::string(name + 1) : std::string("the directory")) + " belongs to " +
             uid_text(st.st_uid) + ")";
  }
  return "";
}

// The words of a cgroup file ("cpu memory pids\n").
std::vector<std::string> words(const std::string& file) {
  std::string text;
  if (try_read_file(file, text) != 0) return {};
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return split_fields(text, ' ');
}

bool has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

bool in_user_namespace(const std::string& uid_map) {
  std::string text;
  if (try_read_file(uid_map, text) != 0) return false;
  // The host's: "0 0 4294967295", every ID onto itself.
  unsigned long long inside = 1, outside = 1, count = 0;
  if (std::sscanf(text.c_str(), "%llu %llu %llu", &inside, &outside, &count) != 3) return true;
  return !(inside == 0 && outside == 0 && count == 4294967295ULL && text.find('\n') + 1 == text.size());
}

Delegation find_delegation(const CgroupLayout& layout, const std::string& proc_cgroup) {
  Delegation d;
  const CgroupHierarchy* u = layout.unified();
  if (!u) {
    d.missing = "the host has no cgroup v2 hierarchy to delegate";
    return d;
  }
  std::string text;
  if (int err = try_read_file(proc_cgroup, text)) {
    d.missing = "read " + proc_cgroup + ": " + std::strerror(err);
    return d;
  }
  // "0::/a/b": this process's cgroup2 cgroup.
  std::string own;
  for (const std::string& line : split_fields(text, '\n'))
    if (line.starts_with("0::")) own = line.substr(3);
  if (own.empty() || own.front() != '/') {
    d.missing = proc_cgroup + " names no cgroup2 cgroup";
    return d;
  }
  while (own.size() > 1 && own.back() == '/') own.pop_back();

  const uid_t uid = ::geteuid();
  if (std::string why = own == "/" ? "cgroup2 / is the host's root cgroup" : not_owned(u->mount_point + own, own, uid);
      !why.empty()) {
    d.missing = why;
    return d;
  }
  // Up while the parent is the user's too.
  std::string path = own;
  for (;;) {
    size_t slash = path.rfind('/');
    if (slash == 0 || slash == std::string::npos) break;
    std::string parent = path.substr(0, slash);
    if (!not_owned(u->mount_point + parent, parent, uid).empty()) break;
    path = parent;
  }
  d.path = path;
  d.dir = u->mount_point + path;
  return d;
}

void check_delegated(const CgroupLayout& layout, const Delegation& d, const std::vector<std::string>& controllers) {
  const CgroupHierarchy* u = layout.unified();
  const std::string who = uid_text(::geteuid());
  std::vector<std::string> delegated = words(d.dir + "/cgroup.controllers");
  std::vector<std::string> enabled = words(d.dir + "/cgroup.subtree_control");
  for (const auto& c : controllers) {
    const std::string v2 = c == "blkio" ? "io" : c;
    const std::string field = "rootless limits: " + c;
    if (!u || !has(u->controllers, v2)) {
      if (const CgroupHierarchy* v1 = layout.v1_for(c))
        throw Error(field + ": the host has this controller in cgroup v1 only (" + v1->mount_point +
                    "), which is not delegated to " + who + "; rootless limits need it in cgroup v2");
      throw Error(field + ": the host has no " + c + " controller");
    }
    if (!has(delegated, v2))
      throw Error(field + ": not delegated to " + who + ": " + d.dir + "/cgroup.controllers lacks " + v2 +
                  " (the cgroup above must enable it in its cgroup.subtree_control)");
    if (!has(enabled, v2)) {
      std::string procs;
      if (try_read_file(d.dir + "/cgroup.procs", procs) == 0 &&
          procs.find_first_not_of(" \n") != std::string::npos)
        throw Error(field + ": " + d.dir + " has processes of its own, and cgroup v2 enables " + v2 +
                    " for the cgroups below only in one without (move them into a child cgroup)");
    }
  }
}

std::string rootless_cgroup_path(const CgroupLayout& layout, const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  Delegation d = find_delegation(layout);
  return d.path.empty() ? "" : d.path + "/" + path;
}

Cgroup instance_cgroup(const CgroupLayout& layout, const Spec& spec, const std::string& path) {
  const bool rootless = ::geteuid() != 0;
  Resources limits = spec.linux.resources.value_or(Resources{});
  if (!rootless) limits.devices = instance_device_rules(spec);
  else limits.devices.clear();
  const std::vector<std::string> controllers = Cgroup::controllers_for(limits);
  if (path.empty()) {
    if (!controllers.empty())
      throw Error("limits need a cgroup, and this rootless instance has none: " + find_delegation(layout).missing);
    Cgroup none;
    return none;
  }
  if (rootless && !controllers.empty()) {
    Delegation d = find_delegation(layout);
    if (d.path.empty()) throw Error("limits need a delegated cgroup: " + d.missing);
    check_delegated(layout, d, controllers);
  }
  Cgroup cg = Cgroup::create(layout, path, controllers);
  limits.devices.clear();
  cg.apply(limits);
  return cg;
}

void apply_instance_devices(Cgroup& cg, const Spec& spec) {
  if (::geteuid() != 0 || cg.dirs().empty()) return;
  Resources devices;
  devices.devices = instance_device_rules(spec);
  if (devices.devices.empty()) return;
  try {
    // Made just before: nothing to replace (a cgroup that was there keeps
    // what it had, and both programs must allow).
    cg.apply(devices, /*fresh=*/true);
  } catch (const DeviceProgramRefused&) {
    // mult as root of a container's user namespace may not load BPF
    // programs: as runc there, no device list (that namespace's root
    // cannot make device nodes either). Anywhere else it is an error.
    if (!in_user_namespace()) throw;
  }
}

}  // namespace mult
