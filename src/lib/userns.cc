#include "userns.hh"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "error.hh"
#include "store.hh"
#include "text.hh"

namespace mult {

namespace {

constexpr uint32_t kPoolStart = 0x80000;
constexpr uint32_t kPoolEnd = 0x6fffffff;

std::string leases_file(const Store& s) { return s.lib() + "/userns.leases.json"; }

Json read_leases(const Store& s) {
  std::string text;
  if (!read_file_if_exists(leases_file(s), text) || text.empty()) return Json::object();
  try {
    return Json::parse(text);
  } catch (const Json::exception&) {
    throw Error(leases_file(s) + ": corrupt lease file");
  }
}

std::string map_text(const std::vector<IdMapping>& map) {
  std::string text;
  for (const auto& m : map)
    text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
            std::to_string(m.size) + "\n";
  return text;
}

void write_proc(pid_t pid, const char* file, const std::string& text) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), text.data(), text.size()) < 0)
    throw sys_error(std::string("user namespace: write ") + file);
}

// newuidmap PID ID HOST COUNT ...
void run_id_helper(const char* helper, pid_t pid, const std::vector<IdMapping>& map) {
  std::vector<std::string> args = {helper, std::to_string(pid)};
  for (const auto& m : map)
    for (uint32_t v : {m.container_id, m.host_id, m.size}) args.push_back(std::to_string(v));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child = ::fork();
  if (child < 0) throw sys_error(helper);
  if (child == 0) {
    ::execvp(helper, argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(std::string("user namespace: ") + helper + " failed" +
                (WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (install uidmap)" : ""));
}

}  // namespace

std::vector<IdMapping> subordinate_ids(const std::string& file, const std::string& user, uid_t id) {
  std::vector<IdMapping> out;
  std::string text;
  if (try_read_file(file, text) != 0) return out;  // as if empty
  for (const auto& line : split_fields(text, '\n')) {
    auto f = split_fields(line, ':');  // name:start:count
    if (f.size() < 3) continue;
    const std::string &name = f[0], &start = f[1], &count = f[2];
    if (name != user && name != std::to_string(id)) continue;
    try {
      out.push_back({0, uint32_t(std::stoul(start)), uint32_t(std::stoul(count))});
    } catch (const std::exception&) {
    }
  }
  return out;
}

uint32_t lease_id_range(const Store& store, const std::string& instance) {
  make_dirs(store.lib());
  Lock lock(store.lib() + "/userns.lock", true);
  Json leases = read_leases(store);
  if (leases.contains(instance)) return leases[instance].get<uint32_t>();
  std::vector<IdMapping> pool = subordinate_ids("/etc/subuid", "root", 0);
  if (pool.empty()) pool.push_back({0, kPoolStart, kPoolEnd - kPoolStart});
  std::vector<uint32_t> taken;
  for (auto& [name, start] : leases.items()) taken.push_back(start.get<uint32_t>());
  for (const auto& range : pool) {
    for (uint64_t start = range.host_id; start + kIdRangeSize <= uint64_t(range.host_id) + range.size;
         start += kIdRangeSize) {
      if (std::find(taken.begin(), taken.end(), uint32_t(start)) != taken.end()) continue;
      leases[instance] = uint32_t(start);
      write_file_atomic(leases_file(store), leases.dump(2) + "\n", 0600, Durability::kVolatile);
      return uint32_t(start);
    }
  }
  throw Error("--userns=auto: no free range of 65536 IDs left");
}

void release_id_range(const Store& store, const std::string& instance) {
  if (::access(leases_file(store).c_str(), F_OK) != 0) return;
  Lock lock(store.lib() + "/userns.lock", true);
  Json leases = read_leases(store);
  if (!leases.contains(instance)) return;
  leases.erase(instance);
  if (leases.empty()) {
    ::unlink(leases_file(store).c_str());
    ::unlink((store.lib() + "/userns.lock").c_str());
  } else {
    write_file_atomic(leases_file(store), leases.dump(2) + "\n", 0600, Durability::kVolatile);
  }
}

Fd idmapped_tree(const std::string& path, int userns_fd) {
  Fd tree(int(::syscall(SYS_open_tree, AT_FDCWD, path.c_str(),
                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
  if (!tree) throw sys_error("rootfs \"" + path + "\": clone mount tree");
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = uint64_t(userns_fd);
  if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                sizeof attr) != 0) {
    int err = errno;
    throw Error("rootfs \"" + path + "\": cannot be idmapped (" + std::strerror(err) +
                "): the file system does not support idmapped mounts");
  }
  return tree;
}

void write_id_maps(pid_t pid, const std::vector<IdMapping>& uids, const std::vector<IdMapping>& gids) {
  if (::geteuid() == 0) {
    write_proc(pid, "uid_map", map_text(uids));
    write_proc(pid, "gid_map", map_text(gids));
    return;
  }
  // Unprivileged: a lone mapping of our own IDs we may write ourselves
  // (after denying setgroups); anything wider needs the setuid helpers.
  bool lone = uids.size() == 1 && uids[0].size == 1 && uids[0].host_id == ::geteuid() &&
              gids.size() == 1 && gids[0].size == 1 && gids[0].host_id == ::getegid();
  if (lone) {
    write_proc(pid, "uid_map", map_text(uids));
    write_proc(pid, "setgroups", "deny");
    write_proc(pid, "gid_map", map_text(gids));
  } else {
    run_id_helper("newuidmap", pid, uids);
    run_id_helper("newgidmap", pid, gids);
  }
}

}  // namespace mult
