#include "mounts.hh"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "error.hh"
#include "fd.hh"

namespace mult {

namespace {

struct FlagOption {
  unsigned long set;    // flags the option sets
  unsigned long clear;  // flags the option clears
};

const std::map<std::string, FlagOption>& flag_options() {
  static const std::map<std::string, FlagOption> table = {
      {"ro", {MS_RDONLY, 0}},          {"rw", {0, MS_RDONLY}},
      {"nosuid", {MS_NOSUID, 0}},      {"suid", {0, MS_NOSUID}},
      {"nodev", {MS_NODEV, 0}},        {"dev", {0, MS_NODEV}},
      {"noexec", {MS_NOEXEC, 0}},      {"exec", {0, MS_NOEXEC}},
      {"sync", {MS_SYNCHRONOUS, 0}},   {"async", {0, MS_SYNCHRONOUS}},
      {"dirsync", {MS_DIRSYNC, 0}},    {"remount", {MS_REMOUNT, 0}},
      {"mand", {MS_MANDLOCK, 0}},      {"nomand", {0, MS_MANDLOCK}},
      {"noatime", {MS_NOATIME, 0}},    {"atime", {0, MS_NOATIME}},
      {"nodiratime", {MS_NODIRATIME, 0}}, {"diratime", {0, MS_NODIRATIME}},
      {"relatime", {MS_RELATIME, 0}},  {"norelatime", {0, MS_RELATIME}},
      {"strictatime", {MS_STRICTATIME, 0}}, {"nostrictatime", {0, MS_STRICTATIME}},
      {"silent", {MS_SILENT, 0}},      {"loud", {0, MS_SILENT}},
      {"nosymfollow", {MS_NOSYMFOLLOW, 0}}, {"symfollow", {0, MS_NOSYMFOLLOW}},
  };
  return table;
}

const std::map<std::string, unsigned long>& propagation_table() {
  static const std::map<std::string, unsigned long> table = {
      {"private", MS_PRIVATE},        {"rprivate", MS_PRIVATE | MS_REC},
      {"shared", MS_SHARED},          {"rshared", MS_SHARED | MS_REC},
      {"slave", MS_SLAVE},            {"rslave", MS_SLAVE | MS_REC},
      {"unbindable", MS_UNBINDABLE},  {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  return table;
}

int openat2_in_root(int rootfd, const std::string& path, int flags) {
  struct open_how how {};
  how.flags = uint64_t(flags) | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = path;
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  if (rel.empty()) rel = ".";
  return int(::syscall(SYS_openat2, rootfd, rel.c_str(), &how, sizeof how));
}

// Opens `path` inside the root, making it (and its parents) when missing: a
// directory, or an empty file when `as_file`. Symlinks are followed only
// within the root, so no target can land outside it.
Fd open_or_make(int rootfd, const std::string& path, bool as_file) {
  int fd = openat2_in_root(rootfd, path, O_PATH);
  if (fd >= 0) return Fd(fd);
  if (errno != ENOENT) throw sys_error("mount target \"" + path + "\"");
  auto slash = path.find_last_of('/');
  std::string parent = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  std::string leaf = path.substr(slash + 1);
  Fd pfd = open_or_make(rootfd, parent, false);
  Fd dir(openat2_in_root(pfd.get(), ".", O_RDONLY | O_DIRECTORY));
  if (!dir) throw sys_error("mount target \"" + parent + "\"");
  if (as_file) {
    int f = ::openat(dir.get(), leaf.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f < 0 && errno != EEXIST) throw sys_error("mount target \"" + path + "\"");
    if (f >= 0) ::close(f);
  } else if (::mkdirat(dir.get(), leaf.c_str(), 0755) != 0 && errno != EEXIST) {
    throw sys_error("mount target \"" + path + "\"");
  }
  fd = openat2_in_root(rootfd, path, O_PATH);
  if (fd < 0) throw sys_error("mount target \"" + path + "\"");
  return Fd(fd);
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

void do_mount(const std::string& where, const char* src, const std::string& target,
              const char* type, unsigned long flags, const char* data) {
  if (::mount(src, target.c_str(), type, flags, data) != 0)
    throw sys_error("mount \"" + where + "\"");
}

// What mount_one() needs to know of the host, learnt before pivot_root.
struct HostView {
  bool cgroup2_root = false;  // a pure v2 host: /sys/fs/cgroup is cgroup2
  bool reachable = true;      // the host's paths are (false: after pivot_root)
};

void mount_one(int rootfd, const Mount& m, const HostView& host) {
  std::string where = m.destination;
  MountFlags mf = parse_mount_options(m.options, "mount \"" + where + "\"");
  bool bind = mf.bind || m.type == "bind";
  struct stat src_st {};
  if (bind) {
    if (::stat(m.source.c_str(), &src_st) != 0)
      throw sys_error("mount \"" + where + "\": source \"" + m.source + "\"");
  }
  if ((m.type == "cgroup" || m.type == "cgroup2") && !host.cgroup2_root) {
    // Through its cgroup namespace the instance sees its own cgroup; that
    // view is mounted on pure v2 hosts only (v1 and hybrid: left out).
    return;
  }
  Fd target = open_or_make(rootfd, m.destination, bind && !S_ISDIR(src_st.st_mode));
  std::string tpath = fd_path(target.get());
  if (bind) {
    unsigned long f = MS_BIND | (mf.recursive ? MS_REC : 0);
    do_mount(where, m.source.c_str(), tpath, nullptr, f, nullptr);
    // Bind mounts take their other flags only on a remount.
    unsigned long extra = mf.flags & ~(MS_REMOUNT);
    if (extra) {
      // Reopen: the fd still names the directory under the new mount.
      Fd t2(openat2_in_root(rootfd, m.destination, O_PATH));
      if (!t2) throw sys_error("mount \"" + where + "\"");
      do_mount(where, nullptr, fd_path(t2.get()), nullptr, MS_REMOUNT | MS_BIND | extra, nullptr);
    }
  } else {
    const char* type = m.type == "cgroup" ? "cgroup2" : m.type.c_str();
    if (m.destination == "/dev") mf.flags |= MS_NODEV;  // devices come as binds
    const char* src = m.source.empty() ? type : m.source.c_str();
    const char* data = mf.data.empty() ? nullptr : mf.data.c_str();
    if (::mount(src, tpath.c_str(), type, mf.flags, data) != 0) {
      if (m.type != "sysfs" || errno != EPERM || !host.reachable) throw sys_error("mount \"" + where + "\"");
      // A user namespace that does not own its network namespace (--net
      // host) may not mount sysfs: the host's, bound read-only, instead.
      do_mount(where, "/sys", tpath, nullptr, MS_BIND | MS_REC, nullptr);
      Fd again(openat2_in_root(rootfd, m.destination, O_PATH));
      if (!again) throw sys_error("mount \"" + where + "\"");
      do_mount(where, nullptr, fd_path(again.get()), nullptr,
               MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    }
  }
  if (unsigned long prop = mf.propagation) {
    Fd t3(openat2_in_root(rootfd, m.destination, O_PATH));
    if (!t3) throw sys_error("mount \"" + where + "\"");
    do_mount(where, nullptr, fd_path(t3.get()), nullptr, prop, nullptr);
  }
}

struct DefaultDevice {
  const char* name;
};
constexpr DefaultDevice kDefaultDevices[] = {
    {"null"}, {"zero"}, {"full"}, {"random"}, {"urandom"}, {"tty"},
};

void bind_host_device(int rootfd, const std::string& path);
void bind_device_onto_itself(int dir, const std::string& leaf, const std::string& path);

// Device nodes work only where a mount allows them: the root and /dev are
// mounted nodev, so a node made inside (CAP_MKNOD) opens nothing. Each
// device the instance is given is a bind mount of its own, without nodev.
void make_device(int rootfd, const std::string& path, char type, unsigned major,
                 unsigned minor, mode_t perm, uid_t uid, gid_t gid) {
  auto slash = path.find_last_of('/');
  std::string parent = slash == 0 ? "/" : path.substr(0, slash);
  std::string leaf = path.substr(slash + 1);
  Fd pfd = open_or_make(rootfd, parent, false);
  Fd dir(openat2_in_root(pfd.get(), ".", O_RDONLY | O_DIRECTORY));
  if (!dir) throw sys_error("device \"" + path + "\"");
  mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
  ::unlinkat(dir.get(), leaf.c_str(), 0);
  if (::mknodat(dir.get(), leaf.c_str(), kind | perm, makedev(major, minor)) != 0) {
    struct stat host;
    // In a user namespace mknod is refused: the host's node, if it is the same device.
    if (errno == EPERM && ::stat(path.c_str(), &host) == 0 && (host.st_mode & S_IFMT) == kind &&
        host.st_rdev == makedev(major, minor))
      return bind_host_device(rootfd, path);
    throw sys_error("device \"" + path + "\"");
  }
  // mknod is subject to umask: set the mode the spec asked for.
  if (::fchmodat(dir.get(), leaf.c_str(), perm, 0) != 0 ||
      ::fchownat(dir.get(), leaf.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
    throw sys_error("device \"" + path + "\"");
  if (kind == S_IFIFO) return;
  bind_device_onto_itself(dir.get(), leaf, path);
}

// Gives the instance the host's own node at `path`: an empty file in the
// instance's /dev with the host node bound over it. Works in a user
// namespace too, where mknod does not.
void bind_host_device(int rootfd, const std::string& path) {
  Fd target = open_or_make(rootfd, path, true);
  std::string t = fd_path(target.get());
  if (::mount(path.c_str(), t.c_str(), nullptr, MS_BIND, nullptr) != 0)
    throw sys_error("device \"" + path + "\"");
}

void bind_device_onto_itself(int dir, const std::string& leaf, const std::string& path) {
  Fd node(::openat(dir, leaf.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!node) throw sys_error("device \"" + path + "\"");
  std::string p = fd_path(node.get());
  if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND, nullptr) != 0)
    throw sys_error("device \"" + path + "\"");
  Fd bound(::openat(dir, leaf.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  std::string bp = fd_path(bound.get());
  if (!bound || ::mount(nullptr, bp.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC,
                        nullptr) != 0)
    throw sys_error("device \"" + path + "\"");
}

// The host's nodes of the default devices, each bound over an empty file
// in the instance's fresh /dev tmpfs (`dev`, whose fd names every target).
void bind_default_devices(int dev) {
  for (const auto& d : kDefaultDevices) {
    std::string host = std::string("/dev/") + d.name;
    Fd target(::openat(dev, d.name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!target) throw sys_error("device \"" + host + "\"");
    if (::mount(host.c_str(), fd_path(target.get()).c_str(), nullptr, MS_BIND, nullptr) != 0)
      throw sys_error("device \"" + host + "\"");
  }
}

void make_dev_links(const Fd& dev) {
  const std::pair<const char*, const char*> links[] = {
      {"/proc/self/fd", "fd"},         {"/proc/self/fd/0", "stdin"},
      {"/proc/self/fd/1", "stdout"},   {"/proc/self/fd/2", "stderr"},
      {"pts/ptmx", "ptmx"},
  };
  for (auto [target, name] : links) {
    if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST)
      throw sys_error(std::string("/dev/") + name);
  }
}

bool mounts_tmpfs_dev(const Spec& spec) {
  for (const auto& m : spec.mounts)
    if (m.destination == "/dev" && m.type == "tmpfs") return true;
  return false;
}

void populate_dev(int rootfd, const Spec& spec) {
  if (mounts_tmpfs_dev(spec)) {
    Fd dev(openat2_in_root(rootfd, "/dev", O_RDONLY | O_DIRECTORY));
    if (!dev) throw sys_error("/dev");
    bind_default_devices(dev.get());
    make_dev_links(dev);
  }
  for (const auto& d : spec.linux.devices) {
    make_device(rootfd, d.path, d.type == 'u' ? 'c' : d.type, unsigned(d.major),
                unsigned(d.minor), d.file_mode.value_or(0666), d.uid.value_or(0),
                d.gid.value_or(0));
  }
}

void pivot_into(int rootfd) {
  if (::fchdir(rootfd) != 0) throw sys_error("rootfs: chdir");
  // pivot_root(".", ".") stacks the old root under the new one; detaching it
  // leaves no path back to the host.
  if (::syscall(SYS_pivot_root, ".", ".") != 0) throw sys_error("rootfs: pivot_root");
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
    throw sys_error("rootfs: make old root a slave");
  if (::umount2(".", MNT_DETACH) != 0) throw sys_error("rootfs: detach old root");
  if (::chdir("/") != 0) throw sys_error("rootfs: chdir /");
}

void write_sysctls(const Spec& spec) {
  for (const auto& [key, value] : spec.linux.sysctl) {
    std::string path = "/proc/sys/" + key;
    for (auto& c : path)
      if (c == '.') c = '/';
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), value.data(), value.size()) < 0)
      throw sys_error("sysctl \"" + key + "\"");
  }
}

// A masked directory gets an empty read-only tmpfs: the first one its own,
// the others a bind of it (`empty_dir`), one superblock per instance
// instead of one per path.
void mask_path(const std::string& path, std::string& empty_dir) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == EACCES) return;
    throw sys_error("masked path \"" + path + "\"");
  }
  if (S_ISDIR(st.st_mode)) {
    int r = empty_dir.empty() ? ::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY, "size=0")
                              : ::mount(empty_dir.c_str(), path.c_str(), nullptr, MS_BIND, nullptr);
    if (r != 0) throw sys_error("masked path \"" + path + "\"");
    if (empty_dir.empty()) empty_dir = path;
  } else if (::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    throw sys_error("masked path \"" + path + "\"");
  }
}

void make_readonly(const std::string& path) {
  if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    if (errno == ENOENT) return;
    throw sys_error("read-only path \"" + path + "\"");
  }
  if (::mount(nullptr, path.c_str(), nullptr,
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    throw sys_error("read-only path \"" + path + "\"");
}

}  // namespace

unsigned long propagation_flags(const std::string& name) {
  if (name.empty()) return 0;
  auto it = propagation_table().find(name);
  if (it == propagation_table().end())
    throw Error("rootfsPropagation: unknown propagation \"" + name + "\"");
  return it->second;
}

MountFlags parse_mount_options(const std::vector<std::string>& options, const std::string& where) {
  MountFlags out;
  for (const auto& opt : options) {
    if (auto it = flag_options().find(opt); it != flag_options().end()) {
      out.flags = (out.flags | it->second.set) & ~it->second.clear;
      out.clear = (out.clear | it->second.clear) & ~it->second.set;
    } else if (auto p = propagation_table().find(opt); p != propagation_table().end()) {
      out.propagation = p->second;
    } else if (opt == "bind") {
      out.bind = true;
    } else if (opt == "rbind") {
      out.bind = out.recursive = true;
    } else if (opt.empty()) {
      throw Error(where + ": empty mount option");
    } else if (opt == "rro" || opt == "rrw" || opt.rfind("idmap", 0) == 0 ||
               opt.rfind("ridmap", 0) == 0 || opt == "tmpcopyup") {
      throw Error(where + ": mount option \"" + opt + "\" is not supported");
    } else {
      if (!out.data.empty()) out.data += ',';
      out.data += opt;  // file-system specific: handed to the file system
    }
  }
  return out;
}

void setup_rootfs(const Spec& spec, const std::string& rootfs, int root_tree,
                  const std::function<void()>& before_pivot, const std::function<void()>& join_network) {
  bool joined = !join_network;
  auto join = [&] {
    if (!joined) join_network();
    joined = true;
  };
  // sysfs shows the network namespace of whoever mounts it: where mult
  // makes that namespace meanwhile, /sys and what is under it come last,
  // after pivot_root, so that the instance waits for it as little as can be
  // (not when one of them binds a host path, which pivot_root puts out of
  // reach).
  auto under_sys = [](const std::string& d) { return d == "/sys" || d == "/sys/" || d.starts_with("/sys/"); };
  auto binds = [](const Mount& m) {
    return m.type == "bind" || parse_mount_options(m.options, "mount \"" + m.destination + "\"").bind;
  };
  const bool sys_last =
      join_network && std::none_of(spec.mounts.begin(), spec.mounts.end(),
                                   [&](const Mount& m) { return under_sys(m.destination) && binds(m); });
  std::vector<const Mount*> sys_mounts;
  HostView host;
  host.cgroup2_root = std::any_of(spec.mounts.begin(), spec.mounts.end(),
                                  [](const Mount& m) { return m.type == "cgroup" || m.type == "cgroup2"; }) &&
                      ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;  // asked only where needed
  unsigned long root_prop = propagation_flags(spec.linux.rootfs_propagation);
  // Nothing we mount may propagate back to the host.
  unsigned long host_prop = MS_REC | ((root_prop & (MS_SHARED | MS_SLAVE)) ? MS_SLAVE : MS_PRIVATE);
  if (::mount(nullptr, "/", nullptr, host_prop, nullptr) != 0)
    throw sys_error("rootfs: make / private");
  bool attached = root_tree >= 0
                      ? ::syscall(SYS_move_mount, root_tree, "", AT_FDCWD, rootfs.c_str(),
                                  MOVE_MOUNT_F_EMPTY_PATH) == 0
                      : ::mount(rootfs.c_str(), rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0;
  if (!attached ||
      ::mount(nullptr, rootfs.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_NODEV, nullptr) != 0)
    throw sys_error("rootfs \"" + rootfs + "\"");
  Fd rootfd(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) throw sys_error("rootfs \"" + rootfs + "\"");

  for (const auto& m : spec.mounts) {
    if (sys_last && under_sys(m.destination)) {
      sys_mounts.push_back(&m);
      continue;
    }
    if (m.type == "sysfs") join();
    mount_one(rootfd.get(), m, host);
  }
  populate_dev(rootfd.get(), spec);
  if (before_pivot) before_pivot();
  pivot_into(rootfd.get());
  rootfd.reset();

  join();  // net.* sysctls are the namespace's too
  if (!sys_mounts.empty()) {
    Fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw sys_error("rootfs: open /");
    host.reachable = false;
    for (const Mount* m : sys_mounts) mount_one(root.get(), *m, host);
  }
  write_sysctls(spec);
  std::string empty_dir;
  for (const auto& p : spec.linux.masked_paths) mask_path(p, empty_dir);
  for (const auto& p : spec.linux.readonly_paths) make_readonly(p);
  if (spec.root.readonly &&
      ::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV, nullptr) != 0)
    throw sys_error("rootfs: remount read-only");
  if (root_prop && ::mount(nullptr, "/", nullptr, root_prop, nullptr) != 0)
    throw sys_error("rootfs: propagation");
}

}  // namespace mult
