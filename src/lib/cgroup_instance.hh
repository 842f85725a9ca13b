// The cgroup of a new instance: its limits and device list, and for a
// rootless instance a place below the cgroup2 cgroup delegated to the user,
// where there is one (as systemd's Delegate=yes or an administrator's chown
// makes it), and a message naming what is missing where not.
#pragma once
#include <string>
#include <vector>

#include "cgroup.hh"

namespace mult {

struct Delegation {
  std::string path;     // from the hierarchy's root: "/user.slice/user@1000.service"; "" when none
  std::string dir;      // the directory: <unified mount><path>
  std::string missing;  // why there is none: "cgroup2 /x is not delegated to uid 1000 (...)"
};

// The delegated cgroup of this process: its own cgroup2 cgroup (from
// `proc_cgroup`) when the user (euid) owns its directory, cgroup.procs and
// cgroup.subtree_control, or the topmost of its ancestors that the user
// owns likewise (the user's processes sit in leaves below it, so it can
// enable controllers for its children).
Delegation find_delegation(const CgroupLayout& layout, const std::string& proc_cgroup = "/proc/self/cgroup");

// Checks that limits on `controllers` (Cgroup::controllers_for's names) can
// be set in a cgroup below `d`: each is a cgroup v2 controller of the host,
// delegated to `d` (in its cgroup.controllers), and enabled or enableable
// for its children (cgroup v2 enables a controller only in a cgroup without
// processes of its own). Throws Error naming the first controller missing
// and where.
void check_delegated(const CgroupLayout& layout, const Delegation& d, const std::vector<std::string>& controllers);

// Whether this process is in a user namespace other than the host's (its
// `uid_map` maps anything but every ID onto itself).
bool in_user_namespace(const std::string& uid_map = "/proc/self/uid_map");

// Where a rootless instance's cgroup goes: `path` (relative: "mult/NAME")
// below the delegated cgroup; "" without one. An absolute `path` is kept.
std::string rootless_cgroup_path(const CgroupLayout& layout, const std::string& path);

// Makes the cgroup of an instance of `spec` at `path` in `layout` and
// applies its limits, before the instance's first instruction (and, where
// the device list is enforced in a v1 hierarchy, joins that too). Rootless:
// only the limits the delegation allows (check_delegated). An empty `path`
// (rootless without a delegation) gives no cgroup, and an Error naming what
// is missing if the spec has limits.
Cgroup instance_cgroup(const CgroupLayout& layout, const Spec& spec, const std::string& path);

// Applies the device list (instance_device_rules) to an instance's cgroup:
// apart, so that mult loads its program while the instance sets itself up;
// it is in force before the instance's first process execs. Rootless: none
// (only root may load the program; the user namespace keeps the instance
// from making device nodes); the same for root of a user namespace whom the
// kernel refuses the program.
void apply_instance_devices(Cgroup& cg, const Spec& spec);

}  // namespace mult
