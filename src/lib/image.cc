// Images: the busybox image is assembled offline from the host's static
// busybox; other images are directories someone put in <lib>/images.
#include "image.hh"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string_view>
#include <vector>
#include <nlohmann/json.hpp>

#include "error.hh"
#include "fd.hh"

extern char** environ;

namespace mult {
namespace {

constexpr const char* kBusyboxHint = " (install busybox-static)";

Error not_found(const std::string& name) {
  return Error("image \"" + name + "\": not found");
}

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// mkdir with an exact mode (umask does not apply); an existing dir is fine.
void make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    throw sys_error("mkdir " + path);
  if (::chmod(path.c_str(), mode) != 0) throw sys_error("chmod " + path);
}

void write_new_file(const std::string& path, std::string_view data, mode_t mode) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) throw sys_error("create " + path);
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("write " + path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fchmod(fd.get(), mode) != 0) throw sys_error("chmod " + path);
}

// True when the ELF file has a PT_INTERP program header (dynamically linked).
// Throws when `fd` is not an ELF executable at all.
bool has_interpreter(int fd, const std::string& what) {
  unsigned char ident[EI_NIDENT];
  auto bad = [&] { return Error(what + ": not an ELF executable" + kBusyboxHint); };
  if (::pread(fd, ident, sizeof ident, 0) != static_cast<ssize_t>(sizeof ident) ||
      std::memcmp(ident, ELFMAG, SELFMAG) != 0)
    throw bad();
  // Only the native byte order is supported: that is what can run here.
  uint64_t phoff;
  unsigned phnum, phentsize;
  if (ident[EI_CLASS] == ELFCLASS64) {
    Elf64_Ehdr eh;
    if (::pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh)) throw bad();
    phoff = eh.e_phoff;
    phnum = eh.e_phnum;
    phentsize = eh.e_phentsize;
    if (phentsize < sizeof(Elf64_Phdr)) throw bad();
  } else if (ident[EI_CLASS] == ELFCLASS32) {
    Elf32_Ehdr eh;
    if (::pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh)) throw bad();
    phoff = eh.e_phoff;
    phnum = eh.e_phnum;
    phentsize = eh.e_phentsize;
    if (phentsize < sizeof(Elf32_Phdr)) throw bad();
  } else {
    throw bad();
  }
  for (unsigned i = 0; i < phnum; i++) {
    uint32_t type;  // p_type is the first 32-bit field in both classes
    off_t at = static_cast<off_t>(phoff + uint64_t{i} * phentsize);
    if (::pread(fd, &type, sizeof type, at) != static_cast<ssize_t>(sizeof type))
      throw bad();
    if (type == PT_INTERP) return true;
  }
  return false;
}

void copy_file(int in, const std::string& to, mode_t mode) {
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!out) throw sys_error("create " + to);
  char buf[1 << 16];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(in, buf, sizeof buf, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("read busybox");
    }
    if (n == 0) break;
    off += n;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buf + done, static_cast<size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        throw sys_error("write " + to);
      }
      done += w;
    }
  }
  if (::fchmod(out.get(), mode) != 0) throw sys_error("chmod " + to);
}

// Runs `busybox --list-full` (no shell) and returns its output.
std::string list_applets(const std::string& busybox) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw sys_error("pipe");
  Fd rd(p[0]), wr(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  std::string arg0 = busybox, arg1 = "--list-full";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid;
  int err = posix_spawn(&pid, busybox.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) throw sys_error("busybox \"" + busybox + "\": run --list-full", err);
  wr.reset();
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error("busybox \"" + busybox + "\": --list-full failed");
  return out;
}

// A listed applet path is relative and stays inside the rootfs.
bool safe_relative(std::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    std::string_view part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

void link_applets(const std::string& rootfs, const std::string& list) {
  size_t start = 0;
  while (start < list.size()) {
    size_t end = list.find('\n', start);
    if (end == std::string::npos) end = list.size();
    std::string path = list.substr(start, end - start);
    start = end + 1;
    while (!path.empty() && (path.back() == '\r' || path.back() == ' ')) path.pop_back();
    if (path.empty() || path == "bin/busybox" || !safe_relative(path)) continue;
    std::string full = rootfs + "/" + path;
    size_t slash = full.rfind('/');
    std::string parent = full.substr(0, slash);
    if (!is_dir(parent)) {
      // Directories the FHS list does not have: create each level.
      for (size_t i = rootfs.size() + 1; i <= parent.size(); i++) {
        if (i == parent.size() || parent[i] == '/') make_dir(parent.substr(0, i), 0755);
      }
    }
    if (::symlink("/bin/busybox", full.c_str()) != 0 && errno != EEXIST)
      throw sys_error("symlink " + full);
  }
}

constexpr const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

constexpr const char* kGroup =
    "root:x:0:\n"
    "daemon:x:1:\n"
    "tty:x:5:\n"
    "nogroup:x:65534:\n";

constexpr const char* kHosts =
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n";

constexpr const char* kOsRelease =
    "NAME=\"mult busybox\"\n"
    "ID=mult-busybox\n"
    "PRETTY_NAME=\"mult busybox\"\n";

constexpr const char* kShells = "/bin/sh\n/bin/ash\n";

constexpr const char* kRc =
    "#!/bin/sh\n"
    "# Run at boot by a system instance: then every executable /etc/rc.d/*.\n"
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
    "export PATH\n"
    "echo \"mult: booting $(hostname)\"\n"
    "for f in /etc/rc.d/*; do\n"
    "  [ -f \"$f\" ] && [ -x \"$f\" ] && \"$f\"\n"
    "done\n"
    "exit 0\n";

uint64_t tree_size(int dirfd) {
  DIR* d = ::fdopendir(dirfd);
  if (!d) {
    ::close(dirfd);
    return 0;
  }
  uint64_t total = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      total += static_cast<uint64_t>(st.st_size);
    } else if (S_ISDIR(st.st_mode)) {
      int sub = ::openat(::dirfd(d), e->d_name,
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) total += tree_size(sub);
    }
  }
  ::closedir(d);
  return total;
}

long long image_created(const std::string& dir) {
  std::string text;
  if (read_file_if_exists(dir + "/image.json", text)) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_object() && j.contains("created") && j["created"].is_number_integer())
      return j["created"].get<long long>();
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) return st.st_mtim.tv_sec;
  return 0;
}

// Leftovers of builds that died: only possible to see while holding the lock.
void remove_stale_builds(const std::string& images) {
  DIR* d = ::opendir(images.c_str());
  if (!d) return;
  std::vector<std::string> stale;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, ".tmp-", 5) == 0) stale.push_back(images + "/" + e->d_name);
  }
  ::closedir(d);
  for (const auto& s : stale) {
    try {
      remove_tree(s);
    } catch (const Error&) {
    }
  }
}

}  // namespace

void build_busybox_rootfs(const std::string& rootfs, const std::string& busybox) {
  std::string what = "busybox \"" + busybox + "\"";
  Fd bb(::open(busybox.c_str(), O_RDONLY | O_CLOEXEC));
  if (!bb) {
    if (errno == ENOENT) throw Error(what + ": not found" + kBusyboxHint);
    throw sys_error(what);
  }
  struct stat st;
  if (::fstat(bb.get(), &st) != 0) throw sys_error(what);
  if (!S_ISREG(st.st_mode)) throw Error(what + ": not a regular file" + kBusyboxHint);
  if (has_interpreter(bb.get(), what))
    throw Error(what + ": is not statically linked" + kBusyboxHint);

  make_dir(rootfs, 0755);
  static const struct {
    const char* path;
    mode_t mode;
  } kDirs[] = {
      {"bin", 0755},  {"sbin", 0755},    {"usr", 0755},  {"usr/bin", 0755},
      {"usr/sbin", 0755}, {"etc", 0755}, {"dev", 0755},  {"proc", 0555},
      {"sys", 0555},  {"tmp", 01777},    {"var", 0755},  {"var/tmp", 01777},
      {"root", 0700}, {"home", 0755},    {"run", 0755},
  };
  for (const auto& d : kDirs) make_dir(rootfs + "/" + d.path, d.mode);

  copy_file(bb.get(), rootfs + "/bin/busybox", 0755);
  link_applets(rootfs, list_applets(busybox));

  const std::string etc = rootfs + "/etc/";
  write_new_file(etc + "passwd", kPasswd, 0644);
  write_new_file(etc + "group", kGroup, 0644);
  write_new_file(etc + "hosts", kHosts, 0644);
  write_new_file(etc + "resolv.conf", "", 0644);
  write_new_file(etc + "os-release", kOsRelease, 0644);
  write_new_file(etc + "shells", kShells, 0644);
  write_new_file(etc + "rc", kRc, 0755);
  make_dir(etc + "rc.d", 0755);
}

std::string image_rootfs(const Store& store, const std::string& name) {
  check_name(name, "image");
  const std::string images = store.images_dir();
  const std::string dir = images + "/" + name;
  const std::string rootfs = dir + "/rootfs";
  if (is_dir(rootfs)) return rootfs;
  if (name != kDefaultImage) throw not_found(name);

  make_dirs(images);
  Lock lock(images + "/.lock", true);
  if (is_dir(rootfs)) return rootfs;  // someone built it while we waited
  remove_stale_builds(images);
  if (exists(dir)) remove_tree(dir);  // a broken image: no rootfs

  const std::string tmp = images + "/.tmp-" + name + "-" + std::to_string(::getpid());
  try {
    make_dir(tmp, 0755);
    build_busybox_rootfs(tmp + "/rootfs");
    nlohmann::json info = {
        {"name", name},
        {"created", static_cast<long long>(std::time(nullptr))},
        {"source", "/bin/busybox"},
    };
    write_file_atomic(tmp + "/image.json", info.dump(2) + "\n");
    if (::rename(tmp.c_str(), dir.c_str()) != 0) throw sys_error("rename " + tmp + " to " + dir);
  } catch (...) {
    try {
      if (exists(tmp)) remove_tree(tmp);
    } catch (const Error&) {
    }
    throw;
  }
  return rootfs;
}

std::vector<ImageInfo> list_images(const Store& store) {
  std::vector<ImageInfo> out;
  const std::string images = store.images_dir();
  DIR* d = ::opendir(images.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    throw sys_error("images " + images);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const std::string dir = images + "/" + name;
    ImageInfo info;
    info.name = name;
    info.rootfs = dir + "/rootfs";
    if (!is_dir(info.rootfs)) continue;
    int fd = ::open(info.rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) info.size_bytes = tree_size(fd);
    info.created = image_created(dir);
    out.push_back(std::move(info));
  }
  return out;
}

void remove_image(const Store& store, const std::string& name) {
  check_name(name, "image");
  const std::string images = store.images_dir();
  const std::string dir = images + "/" + name;
  if (!exists(dir)) throw not_found(name);
  Lock lock(images + "/.lock", true);
  if (!exists(dir)) throw not_found(name);
  remove_tree(dir);
}

}  // namespace mult
