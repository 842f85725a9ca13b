// User namespaces: which host IDs an instance's IDs map to. Root inside an
// instance with a user namespace is an unprivileged ID outside.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "fd.hh"
#include "spec.hh"
#include "store.hh"

namespace mult {

inline constexpr uint32_t kIdRangeSize = 65536;

// Ranges of subordinate IDs for `user` (or its numeric `id`) in a file laid
// out as /etc/subuid: "name:start:count" lines.
std::vector<IdMapping> subordinate_ids(const std::string& file, const std::string& user, uid_t id);

// --userns=auto: leases a 65536-ID range of its own to `instance`, under a
// lock, from root's ranges in /etc/subuid or, without any, from the range
// systemd-nspawn picks from (0x80000 .. 0x6fffffff). The same instance gets
// its range back while it holds it.
uint32_t lease_id_range(const Store& store, const std::string& instance);
void release_id_range(const Store& store, const std::string& instance);

// A detached copy of the mount tree at `path`, idmapped through the user
// namespace `userns_fd`, so that the image's files appear inside owned as
// on disk. Throws naming the path where the file system cannot do it.
Fd idmapped_tree(const std::string& path, int userns_fd);

// Writes the maps of a process in a new user namespace: directly when mult
// is root, else through newuidmap/newgidmap (uidmap) or, for a lone ID, by
// the rules an unprivileged process may use itself.
void write_id_maps(pid_t pid, const std::vector<IdMapping>& uids, const std::vector<IdMapping>& gids);

}  // namespace mult
