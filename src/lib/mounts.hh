// Mounts: the instance's own file system tree. Everything here runs inside
// the new mount namespace of the instance, before its command.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "spec.hh"

namespace mult {

// A spec mount's options, split the way mount(2) wants them.
struct MountFlags {
  unsigned long flags = 0;        // MS_* applied when mounting
  unsigned long clear = 0;        // MS_* the options explicitly turn off
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (+MS_REC)
  bool bind = false, recursive = false;
  std::string data;               // "mode=755,size=65536k"
};

// Throws Error naming `where` for an option that cannot be honoured.
MountFlags parse_mount_options(const std::vector<std::string>& options,
                               const std::string& where = "mount");

// Propagation name ("rslave") -> MS_* flags; 0 for "".
unsigned long propagation_flags(const std::string& name);

// Builds the instance's root: mounts of the spec inside `rootfs` (targets
// resolved inside it, never through a symlink out of it), /dev, pivot_root
// with the old root detached, sysctls, masked and read-only paths.
// `before_pivot` runs once the mounts are made, still in the host's view
// (for OCI createContainer hooks). `root_tree`, when >= 0, is a detached
// (idmapped) mount of the rootfs to use instead of a plain bind mount.
// `join_network`, when given, runs once after pivot_root, before the
// sysctls; the mounts on /sys and under it follow it then, since sysfs
// shows the network namespace of whoever mounts it.
void setup_rootfs(const Spec& spec, const std::string& rootfs, int root_tree = -1,
                  const std::function<void()>& before_pivot = {},
                  const std::function<void()>& join_network = {});

}  // namespace mult
