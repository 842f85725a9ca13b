// The state root: where mult keeps definitions, images and runtime state.
// No daemon: everything is a file, written atomically, under a lock.
//
//   <lib>/instances/NAME/config.json   a persistent instance's spec
//   <lib>/images/NAME/rootfs           an image
//   <run>/NAME/state.json              a running (or exited) instance
//   <run>/NAME/config.json             the spec it was started with
//
// Defaults: lib = /var/lib/mult, run = /run/mult; `--root DIR` makes them
// DIR and DIR/run.
#pragma once
#include <string>
#include <string_view>

#include "fd.hh"

namespace mult {

class Store {
 public:
  explicit Store(const std::string& root = "");
  const std::string& lib() const { return lib_; }
  const std::string& run() const { return run_; }
  std::string definitions_dir() const { return lib_ + "/instances"; }
  std::string definition_dir(std::string_view name) const;
  std::string images_dir() const { return lib_ + "/images"; }
  std::string runtime_dir(std::string_view name) const;
  // Compiled seccomp filters, kept between starts (gone with a reboot).
  std::string seccomp_cache() const { return run_ + "/seccomp"; }

 private:
  std::string lib_, run_;
};

// Instance and image names: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 chars.
bool valid_name(std::string_view name);
// Throws Error "instance "x/y": invalid name (...)" naming `what`.
void check_name(std::string_view name, std::string_view what = "instance");

// mkdir -p; returns nothing, throws on failure.
void make_dirs(const std::string& path, mode_t mode = 0755);
// Writes `data` to a temporary file beside `path` and renames it over
// `path`. `durable` fsyncs file and directory: definitions must survive a
// crash; runtime state need not (it is gone with the processes anyway).
enum class Durability { kDurable, kVolatile };
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                       Durability durability = Durability::kDurable);
// Whole file; throws Error naming the path on failure.
std::string read_file(const std::string& path);
// The whole file into `out`; 0 or the errno, never throws (cgroupfs
// readers that treat a missing file as "no such controller").
int try_read_file(const std::string& path, std::string& out) noexcept;
// The rest of `fd` (up to end of file) appended to `out`; 0 or the errno.
int try_read_fd(int fd, std::string& out) noexcept;
// Like read_file, but false instead of ENOENT.
bool read_file_if_exists(const std::string& path, std::string& out);
// rm -rf on a directory that mult owns (does not cross mount points).
void remove_tree(const std::string& path);

// An exclusive flock(2) on a file or directory, held until destruction.
class Lock {
 public:
  Lock() = default;
  // Locks `path` (a directory or an existing/creatable file).
  explicit Lock(const std::string& path, bool create_file = false);
  bool held() const { return fd_.valid(); }

 private:
  Fd fd_;
};

}  // namespace mult
