#include "store.hh"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "error.hh"

namespace mult {

Store::Store(const std::string& root) {
  if (root.empty() && ::geteuid() != 0) {
    // Rootless: the user's own state, as XDG says.
    const char* home = ::getenv("HOME");
    const char* xdg_data = ::getenv("XDG_DATA_HOME");
    const char* xdg_run = ::getenv("XDG_RUNTIME_DIR");
    lib_ = xdg_data && *xdg_data ? std::string(xdg_data) + "/mult"
                                 : std::string(home ? home : "/tmp") + "/.local/share/mult";
    run_ = xdg_run && *xdg_run ? std::string(xdg_run) + "/mult"
                               : "/tmp/mult-" + std::to_string(::geteuid());
  } else if (root.empty()) {
    lib_ = "/var/lib/mult";
    run_ = "/run/mult";
  } else {
    lib_ = root;
    while (lib_.size() > 1 && lib_.back() == '/') lib_.pop_back();
    run_ = lib_ + "/run";
  }
}

std::string Store::definition_dir(std::string_view name) const {
  return definitions_dir() + "/" + std::string(name);
}

std::string Store::runtime_dir(std::string_view name) const {
  return run_ + "/" + std::string(name);
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) return false;
  for (char c : name)
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

void check_name(std::string_view name, std::string_view what) {
  // The runtime dir holds these beside the instances' own.
  if (what == "instance" && (name == "locks" || name == "seccomp"))
    throw Error("instance \"" + std::string(name) + "\": invalid name (reserved)", kExitUsage);
  if (valid_name(name)) return;
  std::string why = name.empty()        ? "empty"
                    : name.size() > 64 ? "longer than 64 characters"
                                       : "must match [A-Za-z0-9][A-Za-z0-9_.-]*";
  throw Error(std::string(what) + " \"" + std::string(name) + "\": invalid name (" + why + ")",
              kExitUsage);
}

void make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return;
  // The whole path first: usually it, or all but its last part, exists.
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return;
  if (errno != ENOENT) throw sys_error("mkdir " + path);
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) make_dirs(path.substr(0, slash), mode);
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) throw sys_error("mkdir " + path);
}

static void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("write " + path);
    }
    data.remove_prefix(size_t(n));
  }
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode,
                       Durability durability) {
  bool durable = durability == Durability::kDurable;
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) throw sys_error("create " + tmp);
  try {
    write_all(fd.get(), data, tmp);
    if (durable && ::fsync(fd.get()) != 0) throw sys_error("fsync " + tmp);
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw sys_error("rename " + tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (!durable) return;
  // The rename itself must reach the disk too.
  std::string dir = path.substr(0, path.rfind('/'));
  Fd dfd(::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
}

int try_read_file(const std::string& path, std::string& out) noexcept {
  out.clear();
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno;
  return try_read_fd(fd.get(), out);
}

int try_read_fd(int fd, std::string& out) noexcept {
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    try {
      out.append(buf, size_t(n));
    } catch (...) {
      return ENOMEM;
    }
  }
}

bool read_file_if_exists(const std::string& path, std::string& out) {
  int err = try_read_file(path, out);
  if (err == ENOENT) return false;
  if (err) throw sys_error("read " + path, err);
  return true;
}

std::string read_file(const std::string& path) {
  std::string out;
  if (!read_file_if_exists(path, out)) throw sys_error("open " + path, ENOENT);
  return out;
}

static void remove_below(int dirfd, const std::string& path, dev_t dev) {
  DIR* dir = ::fdopendir(dirfd);
  if (!dir) {
    ::close(dirfd);
    throw sys_error("open " + path);
  }
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) {
        ::closedir(dir);
        throw Error(path + "/" + name + ": is a mount point, not removing");
      }
      int sub = ::openat(::dirfd(dir), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        ::closedir(dir);
        throw sys_error("open " + path + "/" + name);
      }
      remove_below(sub, path + "/" + name, dev);
      if (::unlinkat(::dirfd(dir), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
        int err = errno;
        ::closedir(dir);
        throw sys_error("rmdir " + path + "/" + name, err);
      }
    } else if (::unlinkat(::dirfd(dir), name.c_str(), 0) != 0 && errno != ENOENT) {
      int err = errno;
      ::closedir(dir);
      throw sys_error("unlink " + path + "/" + name, err);
    }
  }
  ::closedir(dir);
}

void remove_tree(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    if (errno == ENOTDIR || errno == ELOOP) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw sys_error("unlink " + path);
      return;
    }
    throw sys_error("open " + path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw sys_error("stat " + path);
  }
  remove_below(fd, path, st.st_dev);
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) throw sys_error("rmdir " + path);
}

Lock::Lock(const std::string& path, bool create_file) {
  int flags = O_RDONLY | O_CLOEXEC | (create_file ? O_CREAT : 0);
  Fd fd(::open(path.c_str(), flags, 0600));
  if (!fd) throw sys_error("lock " + path);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) throw sys_error("lock " + path);
  }
  fd_ = std::move(fd);
}

}  // namespace mult
