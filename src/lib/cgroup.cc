// cgroups over v1, v2 and hybrid hosts. Everything here is plain
// mkdir/open/read/write/rmdir on cgroupfs: it runs on the start path of every
// instance, so it reads nothing it does not need.
#include "cgroup.hh"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <string_view>
#include <thread>

#include "error.hh"
#include "store.hh"

namespace mult {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// How long remove() waits for dying tasks to leave a directory.
constexpr milliseconds kRemoveWait{1000};
// How long one freeze of kill_all() waits for the freezer to settle.
constexpr milliseconds kFreezeWait{500};
// How long kill_all() keeps chasing processes that appear after a kill round.
constexpr milliseconds kKillWait{5000};
constexpr microseconds kFirstDelay{100};
constexpr microseconds kMaxDelay{20000};

// Sleeps `delay` (not past `deadline`) and doubles it up to kMaxDelay.
void back_off(microseconds& delay, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<microseconds>(deadline - Clock::now());
  std::this_thread::sleep_for(std::min(delay, std::max(left, microseconds{0})));
  delay = std::min(delay * 2, kMaxDelay);
}

// Reads a whole (small) file. Returns 0 or the errno.
int read_file(const std::string& path, std::string& out) {
  return try_read_file(path, out);
}

// Writes `data` to an existing file in one write(2), as cgroupfs wants: every
// write is one command. `extra_flags` may add O_CREAT. Returns 0 or the errno.
int write_file(const std::string& path, std::string_view data, int extra_flags = 0) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | extra_flags, 0644);
  if (fd < 0) return errno;
  int err = 0;
  ssize_t n;
  do {
    n = ::write(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) err = errno;
  else if (static_cast<size_t>(n) != data.size()) err = EIO;
  ::close(fd);
  return err;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

// "\040" -> " ": mountinfo escapes space, tab, newline and backslash in octal.
std::string unescape_octal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto oct = [](char c) { return c >= '0' && c <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
      out.push_back(static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

// Superoptions of a v1 mount that are not controllers.
bool is_v1_mount_option(std::string_view opt) {
  static constexpr std::string_view kOptions[] = {
      "rw",       "ro",       "relatime",      "noatime",       "nodiratime", "strictatime",
      "lazytime", "nosuid",   "nodev",         "noexec",        "sync",       "dirsync",
      "mand",     "silent",   "none",          "all",           "noprefix",   "xattr",
      "clone_children", "cpuset_v2_mode", "favordynmods",
  };
  if (opt.empty()) return true;
  if (opt.starts_with("name=")) return false;
  if (opt.find('=') != std::string_view::npos) return true;  // release_agent=...
  return std::find(std::begin(kOptions), std::end(kOptions), opt) != std::end(kOptions);
}

bool has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// "mult/x" or "/mult/x" -> its components; throws on "..", "." or empty ones.
std::vector<std::string> path_components(const std::string& path) {
  auto bad = [&](const std::string& why) { return Error("cgroup \"" + path + "\": " + why); };
  std::string_view rel(path);
  if (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  if (rel.empty()) throw bad("empty path");
  std::vector<std::string> comps;
  for (std::string_view c : split(rel, '/')) {
    if (c.empty()) throw bad("empty path component");
    if (c == ".." || c == ".") throw bad("\"" + std::string(c) + "\" is not allowed in a cgroup path");
    comps.emplace_back(c);
  }
  return comps;
}

// The hierarchy that holds `dir` (longest mount point that is a prefix).
const CgroupHierarchy* hierarchy_of(const CgroupLayout* layout, const std::string& dir) {
  if (!layout) return nullptr;
  const CgroupHierarchy* best = nullptr;
  for (const auto& h : layout->hierarchies) {
    const std::string& mp = h.mount_point;
    if (dir.size() > mp.size() && dir.compare(0, mp.size(), mp) == 0 && dir[mp.size()] == '/' &&
        (!best || mp.size() > best->mount_point.size()))
      best = &h;
  }
  return best;
}

// The directory among `dirs` where `controller` is driven: its v1 hierarchy,
// else the unified one when it offers the controller. (Resource limits go
// through here; "" when the controller is nowhere.)
const std::string* controller_dir(const CgroupLayout* layout, const std::vector<std::string>& dirs,
                                  std::string_view controller) {
  const std::string* v2 = nullptr;
  for (const auto& d : dirs) {
    const CgroupHierarchy* h = hierarchy_of(layout, d);
    if (!h || !has(h->controllers, controller)) continue;
    if (!h->v2) return &d;
    v2 = &d;
  }
  return v2;
}

const std::string* unified_dir(const CgroupLayout* layout, const std::vector<std::string>& dirs) {
  for (const auto& d : dirs) {
    const CgroupHierarchy* h = hierarchy_of(layout, d);
    if (h && h->v2) return &d;
  }
  return nullptr;
}

// Appends the pids of `dir`/cgroup.procs (and of sub-cgroups when recursive).
void collect_pids(const std::string& dir, std::vector<pid_t>& out, bool recursive) {
  std::string text;
  int err = read_file(dir + "/cgroup.procs", text);
  if (err == ENOENT || err == ENODEV) return;  // gone
  if (err) throw sys_error("read " + dir + "/cgroup.procs", err);
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line = trim(std::string_view(text).substr(i, nl - i));
    if (!line.empty()) {
      pid_t pid = 0;
      bool ok = true;
      for (char c : line) {
        if (c < '0' || c > '9') { ok = false; break; }
        pid = pid * 10 + (c - '0');
      }
      if (ok && pid > 0) out.push_back(pid);
    }
    i = nl + 1;
  }
  if (!recursive) return;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> subs;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (e->d_type != DT_DIR || name == "." || name == "..") continue;
    subs.push_back(dir + "/" + e->d_name);
  }
  ::closedir(d);
  for (const auto& s : subs) collect_pids(s, out, true);
}

int rmdir_until(const std::string& dir, Clock::time_point deadline);

// Removes the sub-cgroups of `dir` (an instance may make its own). Returns
// whether there were any.
bool remove_subdirs(const std::string& dir, Clock::time_point deadline) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  std::vector<std::string> subs;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (e->d_type != DT_DIR || name == "." || name == "..") continue;
    subs.push_back(dir + "/" + e->d_name);
  }
  ::closedir(d);
  for (const auto& s : subs) rmdir_until(s, deadline);
  return !subs.empty();
}

// rmdir(2) of a cgroup that dying tasks may still hold (EBUSY) until
// `deadline`. Returns 0 (gone) or the errno.
int rmdir_until(const std::string& dir, Clock::time_point deadline) {
  microseconds delay = kFirstDelay;
  for (;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return 0;
    int err = errno;
    if (err != EBUSY && err != ENOTEMPTY) return err;
    if (remove_subdirs(dir, deadline)) continue;
    if (err != EBUSY || Clock::now() >= deadline) return err;
    back_off(delay, deadline);
  }
}

// v1 cpuset: a new cpuset has no cpus and mems, and attaching a task to it
// fails with ENOSPC; start it with its parent's.
void copy_cpuset(const std::string& parent, const std::string& dir) {
  for (const char* file : {"/cpuset.cpus", "/cpuset.mems"}) {
    std::string value;
    int err = read_file(parent + file, value);
    if (err == ENOENT) continue;  // not there (noprefix or a fake tree): nothing to copy
    if (err) throw sys_error("read " + parent + file, err);
    std::string_view v = trim(value);
    if (v.empty()) continue;
    // cgroupfs makes these files with the directory; in a plain directory
    // (tests) they are missing, which is not an error here.
    err = write_file(dir + file, v);
    if (err && err != ENOENT) throw sys_error("write " + dir + file, err);
  }
}

// v2: lets `dir`'s children use `controllers` (best effort: one write for all,
// else one per controller, skipping those the kernel refuses here).
void enable_controllers(const std::string& dir, const std::vector<std::string>& controllers) {
  if (controllers.empty()) return;
  std::string file = dir + "/cgroup.subtree_control";
  // Usually they are on already (the v2 root, mult/): then no write, which
  // would take the cgroup mutex and first wait for dying cgroups to drain.
  std::string enabled;
  if (read_file(file, enabled) == 0) {
    std::vector<std::string_view> on = split(trim(enabled), ' ');
    if (std::all_of(controllers.begin(), controllers.end(), [&](const std::string& c) {
          return std::find(on.begin(), on.end(), c) != on.end();
        }))
      return;
  }
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;  // a plain directory (tests)
    // Above a rootless user's delegated cgroup: what it allows is the
    // owner's choice (check_delegated made sure of what the limits need).
    if (errno == EACCES || errno == EPERM) return;
    throw sys_error("open " + file);
  }
  auto put = [fd](const std::string& s) {
    ssize_t n;
    do {
      n = ::write(fd, s.data(), s.size());
    } while (n < 0 && errno == EINTR);
    return n < 0 ? errno : 0;
  };
  std::string all;
  for (const auto& c : controllers) {
    if (!all.empty()) all += ' ';
    all += '+';
    all += c;
  }
  if (put(all) == 0) {
    ::close(fd);
    return;
  }
  for (const auto& c : controllers) {
    int err = put("+" + c);
    // EBUSY: processes in the cgroup or a threaded subtree; EOPNOTSUPP: not
    // in a threaded cgroup; ENOENT/EINVAL: not available at this level.
    if (err == 0 || err == EBUSY || err == EOPNOTSUPP || err == ENOENT || err == EINVAL) continue;
    ::close(fd);
    throw sys_error("enable controller " + c + " in " + file, err);
  }
  ::close(fd);
}

// Whether `dir` is the cgroup `path` itself (not one of its parents).
bool is_leaf(const CgroupLayout* layout, const std::string& dir, const std::string& path) {
  const CgroupHierarchy* h = hierarchy_of(layout, dir);
  if (!h) return false;
  std::string_view rel(path);
  if (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  const std::string& mp = h->mount_point;
  return dir.size() == mp.size() + 1 + rel.size() && dir.compare(mp.size() + 1, rel.size(), rel) == 0;
}

// Removes the directories in `made`, newest first; never throws. Only a leaf
// may be waited for and emptied of sub-cgroups: a parent that is busy or not
// empty is in use by other instances and stays.
void remove_made(const CgroupLayout* layout, const std::string& path, std::vector<std::string>& made) {
  if (made.empty()) return;
  auto deadline = Clock::now() + kRemoveWait;
  for (auto it = made.rbegin(); it != made.rend(); ++it) {
    if (is_leaf(layout, *it, path)) rmdir_until(*it, deadline);
    else ::rmdir(it->c_str());
  }
  made.clear();
}

// Failure-path rollback: removes what we made; never throws.
void rollback(const CgroupLayout* layout, const std::string& path, std::vector<std::string>& owned,
              Fd& unified_fd) {
  unified_fd.reset();
  remove_made(layout, path, owned);
}

// Makes the cgroup `path` (split into `comps`) in hierarchy `h`, with its
// missing parents: a v2 parent lets its children use every controller, a v1
// cpuset starts with its parent's cpus and mems. Appends each directory it
// makes to `made` (parents first). An existing leaf is an error unless
// `leaf_may_exist`. Returns the leaf.
std::string make_cgroup_dir(const CgroupHierarchy& h, const std::vector<std::string>& comps,
                            const std::string& path, bool leaf_may_exist, std::vector<std::string>& made) {
  const bool cpuset = !h.v2 && has(h.controllers, "cpuset");
  // A concurrent `rm` may remove an empty parent between our mkdirs
  // (ENOENT): walk again from the top a few times.
  for (int attempt = 0;; ++attempt) {
    std::string dir = h.mount_point;
    bool vanished = false;
    for (size_t i = 0; i < comps.size(); ++i) {
      if (h.v2) enable_controllers(dir, h.controllers);
      std::string parent = dir;
      dir += '/';
      dir += comps[i];
      if (::mkdir(dir.c_str(), 0755) == 0) {
        if (!has(made, dir)) made.push_back(dir);
        if (cpuset) copy_cpuset(parent, dir);
      } else if (errno == EEXIST) {
        if (i + 1 == comps.size() && !leaf_may_exist) throw Error("cgroup \"" + path + "\": already exists");
      } else if (errno == ENOENT && i > 0 && attempt < 3) {
        vanished = true;
        break;
      } else {
        throw sys_error("cgroup \"" + path + "\": mkdir " + dir);
      }
    }
    if (!vanished) return dir;
  }
}

// Writes `pid` to `dir`/cgroup.procs. Returns 0 or the errno; a process that
// is gone (ESRCH) is not an error.
int move_process(const std::string& dir, pid_t pid) {
  int err = write_file(dir + "/cgroup.procs", std::to_string(pid));
  return err == ESRCH ? 0 : err;
}

}  // namespace

// ---- layout ---------------------------------------------------------------

// The controllers a cgroup2 hierarchy mounted at `mount_point` offers.
static std::vector<std::string> v2_controllers(const std::string& mount_point) {
  std::string text;
  int err = read_file(mount_point + "/cgroup.controllers", text);
  if (err && err != ENOENT) throw sys_error("read " + mount_point + "/cgroup.controllers", err);
  std::vector<std::string> out;
  for (std::string_view c : split(trim(text), ' '))
    if (!trim(c).empty()) out.emplace_back(trim(c));
  return out;
}

CgroupLayout CgroupLayout::unified_at(const std::string& mount_point) {
  CgroupLayout layout;
  CgroupHierarchy h;
  h.mount_point = mount_point;
  h.v2 = true;
  h.controllers = v2_controllers(mount_point);
  layout.hierarchies.push_back(std::move(h));
  layout.mode = CgroupMode::kV2;
  return layout;
}

CgroupLayout CgroupLayout::detect(const std::string& mountinfo, const std::string& path_prefix) {
  std::string text;
  if (int err = read_file(mountinfo, text)) throw sys_error("read " + mountinfo, err);

  CgroupLayout layout;
  std::vector<std::string_view> seen_devices;  // major:minor of hierarchies already taken
  bool any_v1 = false, any_v2 = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;

    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    // Most lines are not cgroups: skipped on their type alone (the fields
    // before " - " escape their spaces, so it is the separator).
    size_t type_at = line.find(" - ");
    if (type_at == std::string_view::npos || line.substr(type_at + 3, 6) != "cgroup") continue;
    std::vector<std::string_view> f = split(line, ' ');
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 3 >= f.size()) continue;  // not a mountinfo line
    std::string_view fstype = f[dash + 1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::string_view device = f[2];
    if (std::find(seen_devices.begin(), seen_devices.end(), device) != seen_devices.end()) continue;

    CgroupHierarchy h;
    h.mount_point = path_prefix + unescape_octal(f[4]);
    while (h.mount_point.size() > 1 && h.mount_point.back() == '/') h.mount_point.pop_back();
    if (fstype == "cgroup2") {
      h.v2 = true;
      h.controllers = v2_controllers(h.mount_point);
      any_v2 = true;
    } else {
      for (std::string_view opt : split(f[dash + 3], ','))
        if (!is_v1_mount_option(opt)) h.controllers.emplace_back(opt);
      if (h.controllers.empty()) continue;
      any_v1 = true;
    }
    seen_devices.push_back(device);
    layout.hierarchies.push_back(std::move(h));
  }
  layout.mode = any_v1 && any_v2 ? CgroupMode::kHybrid
                : any_v2         ? CgroupMode::kV2
                : any_v1         ? CgroupMode::kV1
                                 : CgroupMode::kNone;
  return layout;
}

const CgroupLayout& CgroupLayout::host() {
  static const CgroupLayout layout = [] {
    struct statfs fs;
    if (::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
      return unified_at("/sys/fs/cgroup");
    return detect();
  }();
  return layout;
}

const CgroupHierarchy* CgroupLayout::unified() const {
  for (const auto& h : hierarchies)
    if (h.v2) return &h;
  return nullptr;
}

const CgroupHierarchy* CgroupLayout::v1_for(const std::string& controller) const {
  for (const auto& h : hierarchies)
    if (!h.v2 && has(h.controllers, controller)) return &h;
  return nullptr;
}

// ---- cgroup ---------------------------------------------------------------

Cgroup::Cgroup(Cgroup&& o) noexcept
    : layout_(std::exchange(o.layout_, nullptr)),
      path_(std::move(o.path_)),
      dirs_(std::move(o.dirs_)),
      owned_(std::move(o.owned_)),
      adopted_(std::exchange(o.adopted_, false)),
      unified_fd_(std::move(o.unified_fd_)) {
  o.path_.clear();
  o.dirs_.clear();
  o.owned_.clear();
}

Cgroup& Cgroup::operator=(Cgroup&& o) noexcept {
  if (this != &o) {
    rollback(layout_, path_, owned_, unified_fd_);  // what this one made goes first
    layout_ = std::exchange(o.layout_, nullptr);
    path_ = std::move(o.path_);
    dirs_ = std::move(o.dirs_);
    owned_ = std::move(o.owned_);
    adopted_ = std::exchange(o.adopted_, false);
    unified_fd_ = std::move(o.unified_fd_);
    o.path_.clear();
    o.dirs_.clear();
    o.owned_.clear();
  }
  return *this;
}

Cgroup::~Cgroup() { rollback(layout_, path_, owned_, unified_fd_); }

Cgroup Cgroup::create(const CgroupLayout& layout, const std::string& path) {
  return create_in(layout, path, nullptr);
}

Cgroup Cgroup::create(const CgroupLayout& layout, const std::string& path,
                      const std::vector<std::string>& controllers) {
  return create_in(layout, path, &controllers);
}

bool CgroupLayout::joins(const CgroupHierarchy& h, const std::vector<std::string>& controllers) const {
  if (h.v2) return true;
  const bool v2_devices = unified() != nullptr;  // a BPF program there instead (Cgroup::apply)
  for (const auto& c : h.controllers)
    if (has(controllers, c) && !(c == "devices" && v2_devices)) return true;
  if (unified()) return false;
  // A pure v1 host tracks and stops instances through the freezer.
  if (v1_for("freezer")) return has(h.controllers, "freezer");
  return &h == &hierarchies.front();
}

Cgroup Cgroup::create_in(const CgroupLayout& layout, const std::string& path,
                         const std::vector<std::string>* controllers) {
  std::vector<std::string> comps = path_components(path);
  Cgroup cg;  // its destructor undoes everything below if we throw
  cg.layout_ = &layout;
  cg.path_ = path;
  cg.dirs_.reserve(layout.hierarchies.size());

  for (const auto& h : layout.hierarchies) {
    if (controllers && !layout.joins(h, *controllers)) continue;
    cg.dirs_.push_back(make_cgroup_dir(h, comps, path, false, cg.owned_));
    if (h.v2 && !cg.unified_fd_) {
      int fd = ::open(cg.dirs_.back().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) throw sys_error("cgroup \"" + path + "\": open " + cg.dirs_.back());
      cg.unified_fd_.reset(fd);
    }
  }
  return cg;
}

Cgroup Cgroup::open(const CgroupLayout& layout, const std::string& path) {
  if (path.empty()) {  // an instance without a cgroup (rootless): nothing to do
    Cgroup none;
    none.layout_ = &layout;
    return none;
  }
  std::vector<std::string> comps = path_components(path);
  std::string rel;
  for (const auto& c : comps) rel += "/" + c;
  Cgroup cg;
  cg.layout_ = &layout;
  cg.path_ = path;
  for (const auto& h : layout.hierarchies) {
    std::string dir = h.mount_point + rel;
    if (h.v2 && !cg.unified_fd_) {
      int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) continue;
        throw sys_error("cgroup \"" + path + "\": open " + dir);
      }
      cg.unified_fd_.reset(fd);
    } else {
      struct stat st;
      if (::stat(dir.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) continue;
        throw sys_error("cgroup \"" + path + "\": stat " + dir);
      }
      if (!S_ISDIR(st.st_mode)) continue;
    }
    cg.dirs_.push_back(std::move(dir));
  }
  return cg;
}

void Cgroup::adopt() {
  for (const auto& d : dirs_)
    if (!has(owned_, d)) owned_.push_back(d);
  adopted_ = true;
}

void Cgroup::add_process(pid_t pid, bool skip_unified) const {
  const std::string text = std::to_string(pid);
  for (const auto& dir : dirs_) {
    if (skip_unified) {
      const CgroupHierarchy* h = hierarchy_of(layout_, dir);
      if (h && h->v2) continue;
    }
    std::string file = dir + "/cgroup.procs";
    if (int err = write_file(file, text))
      throw Error("cgroup \"" + path_ + "\": add process " + text + " to " + file + ": " +
                  std::strerror(err));
  }
}

void Cgroup::add_process_unified(pid_t pid) const {
  const std::string text = std::to_string(pid);
  for (const auto& dir : dirs_) {
    const CgroupHierarchy* h = hierarchy_of(layout_, dir);
    if (!h || !h->v2) continue;
    std::string file = dir + "/cgroup.procs";
    if (int err = write_file(file, text))
      throw Error("cgroup \"" + path_ + "\": add process " + text + " to " + file + ": " + std::strerror(err));
  }
}

CgroupEntry::CgroupEntry(const Cgroup& cg) : path_(cg.path()) {
  const CgroupLayout* layout = cg.layout_;
  for (const auto& dir : cg.dirs()) {
    const CgroupHierarchy* h = hierarchy_of(layout, dir);
    if (h && h->v2) continue;
    std::string file = dir + "/tasks";
    int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw sys_error("cgroup \"" + path_ + "\": open " + file);
    tasks_.emplace_back(Fd(fd), dir);
  }
}

void CgroupEntry::enter() const {
  for (const auto& [fd, dir] : tasks_) {
    ssize_t n;
    do {
      n = ::write(fd.get(), "0", 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) throw sys_error("cgroup \"" + path_ + "\": enter " + dir, n < 0 ? errno : EIO);
  }
}

std::vector<pid_t> Cgroup::pids() const {
  std::vector<pid_t> out;
  for (const auto& dir : dirs_) collect_pids(dir, out, false);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void Cgroup::join(const std::vector<std::string>& controllers) {
  if (path_.empty()) return;  // no cgroup at all (rootless): apply() tells
  if (!layout_ || dirs_.empty()) throw Error("cgroup \"" + path_ + "\": does not exist");
  auto index_of = [this](const std::string& dir) {
    const CgroupHierarchy* h = hierarchy_of(layout_, dir);
    return h ? static_cast<size_t>(h - layout_->hierarchies.data()) : layout_->hierarchies.size();
  };

  // The hierarchies to join, in the layout's order.
  std::vector<const CgroupHierarchy*> missing;
  for (const auto& h : layout_->hierarchies) {
    if (!layout_->joins(h, controllers)) continue;
    if (std::none_of(dirs_.begin(), dirs_.end(),
                     [&](const std::string& d) { return hierarchy_of(layout_, d) == &h; }))
      missing.push_back(&h);
  }
  if (missing.empty()) return;

  // The directories, as create() makes them. A leaf that is there already
  // (left by an earlier join that failed half-way) is used as it is.
  const std::vector<std::string> comps = path_components(path_);
  std::vector<std::string> made, leaves;
  Fd unified_fd;
  try {
    for (const CgroupHierarchy* h : missing) {
      leaves.push_back(make_cgroup_dir(*h, comps, path_, true, made));
      if (h->v2 && !unified_fd_) {
        int fd = ::open(leaves.back().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw sys_error("cgroup \"" + path_ + "\": open " + leaves.back());
        unified_fd.reset(fd);
      }
    }
  } catch (...) {
    remove_made(layout_, path_, made);
    throw;
  }

  // Every process of the instance (sub-cgroups included), from the
  // directories it was in before.
  const std::vector<std::string> old_dirs = dirs_;
  auto instance_pids = [&] {
    std::vector<pid_t> out;
    for (const auto& d : old_dirs) collect_pids(d, out, true);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  };
  // Moves each process that is not in a new directory yet into it. Returns
  // how many writes it made (0: every process is where it belongs). A pid
  // written once is not written again: the kernel moved all its threads
  // then, unless it was exiting (it may still be listed for a moment, or as
  // a dead leader of live threads that did move).
  bool moved_any = false;
  std::vector<std::set<pid_t>> written(leaves.size());
  auto move_pass = [&] {
    size_t writes = 0;
    const std::vector<pid_t> all = instance_pids();
    for (size_t i = 0; i < leaves.size(); ++i) {
      std::vector<pid_t> in;
      collect_pids(leaves[i], in, true);
      std::sort(in.begin(), in.end());
      for (pid_t pid : all) {
        if (written[i].count(pid) || std::binary_search(in.begin(), in.end(), pid)) continue;
        if (int err = move_process(leaves[i], pid))
          throw Error("cgroup \"" + path_ + "\": move process " + std::to_string(pid) + " into " +
                      leaves[i] + ": " + std::strerror(err));
        written[i].insert(pid);
        moved_any = true;
        ++writes;
      }
    }
    return writes;
  };

  std::string failure;
  try {
    // Frozen, nothing forks between reading the pids and moving them (a
    // child forked after its parent moved is born in the new directories).
    // Without any freezer, the passes below chase the forks instead.
    bool freezer = true;
    try {
      bool v2 = false;
      freeze_file(&v2);
    } catch (const Error&) {
      freezer = false;
    }
    bool froze = false;
    if (freezer && !instance_pids().empty() && !frozen()) {
      freeze();
      froze = true;
    }
    try {
      move_pass();
    } catch (const Error& e) {
      failure = e.what();
    }
    if (froze) {
      try {
        thaw();
      } catch (const Error& e) {
        failure += (failure.empty() ? "" : "; ") + std::string(e.what());
      }
    }
    // A process that forked while freeze() settled, or while we moved
    // unfrozen, may have been missed: again until a pass moves nothing.
    auto deadline = Clock::now() + kKillWait;
    microseconds delay = kFirstDelay;
    while (failure.empty() && move_pass() != 0) {
      if (Clock::now() >= deadline)
        throw Error("cgroup \"" + path_ + "\": processes keep escaping the move into " + leaves.front());
      back_off(delay, deadline);
    }
  } catch (const Error& e) {
    if (failure.empty()) failure = e.what();
  }

  if (!failure.empty() && !moved_any) {
    remove_made(layout_, path_, made);
    throw Error(failure);
  }
  // The processes are (some of them, after a failure) in the new
  // directories: they are the instance's now, removed with it.
  const bool owns = adopted_ || std::any_of(dirs_.begin(), dirs_.end(),
                                            [&](const std::string& d) { return has(owned_, d); });
  for (auto& leaf : leaves) dirs_.push_back(std::move(leaf));
  std::stable_sort(dirs_.begin(), dirs_.end(),
                   [&](const std::string& a, const std::string& b) { return index_of(a) < index_of(b); });
  if (owns)
    for (auto& d : made)
      if (!has(owned_, d)) owned_.push_back(std::move(d));
  if (unified_fd) unified_fd_ = std::move(unified_fd);
  if (!failure.empty())
    throw Error(failure + " (the new directories stay with the instance)");
}

void Cgroup::kill_all() const {
  if (dirs_.empty()) return;
  const std::string* v2 = unified_dir(layout_, dirs_);

  // v2 (>= 5.14): the kernel kills the whole subtree, forks included.
  if (v2 && write_file(*v2 + "/cgroup.kill", "1") == 0) return;

  // Otherwise freeze so nothing forks between reading the pids and killing
  // them, kill, thaw (frozen tasks die once thawed).
  const std::string* freezer = controller_dir(layout_, dirs_, "freezer");
  if (freezer) {
    const CgroupHierarchy* h = hierarchy_of(layout_, *freezer);
    if (h && h->v2) freezer = nullptr;  // "freezer" is not a v2 controller name
  }
  std::string freeze_file, events_file;
  const char *frozen_cmd = nullptr, *thawed_cmd = nullptr;
  if (freezer) {
    freeze_file = *freezer + "/freezer.state";
    frozen_cmd = "FROZEN";
    thawed_cmd = "THAWED";
  } else if (v2) {
    freeze_file = *v2 + "/cgroup.freeze";
    events_file = *v2 + "/cgroup.events";
    frozen_cmd = "1";
    thawed_cmd = "0";
  }

  auto freeze = [&]() -> bool {
    if (!frozen_cmd) return false;
    auto deadline = Clock::now() + kFreezeWait;
    microseconds delay = kFirstDelay;
    std::string state;
    for (;;) {
      // v1 retries the tasks it could not freeze yet on every write.
      if (write_file(freeze_file, frozen_cmd) != 0) return false;
      if (events_file.empty()) {
        if (read_file(freeze_file, state) != 0) return false;
        if (trim(state) == "FROZEN") return true;
      } else {
        if (read_file(events_file, state) != 0) return false;
        if (state.find("frozen 1") != std::string::npos) return true;
      }
      if (Clock::now() >= deadline) return true;  // kill what we see anyway
      back_off(delay, deadline);
    }
  };
  auto thaw = [&]() {
    if (frozen_cmd) write_file(freeze_file, thawed_cmd);
  };

  std::set<pid_t> killed;
  auto deadline = Clock::now() + kKillWait;
  microseconds delay = kFirstDelay;
  for (;;) {
    bool frozen = freeze();
    std::vector<pid_t> pids;
    try {
      for (const auto& dir : dirs_) collect_pids(dir, pids, true);
    } catch (...) {
      if (frozen) thaw();
      throw;
    }
    for (pid_t pid : pids) {
      if (::kill(pid, SIGKILL) == 0 || errno == ESRCH) killed.insert(pid);
    }
    if (frozen) thaw();

    // A task killed above cannot fork any more; one that is not in `killed`
    // appeared after we read (freezer missing or too slow): go again.
    pids.clear();
    for (const auto& dir : dirs_) collect_pids(dir, pids, true);
    bool escaped = std::any_of(pids.begin(), pids.end(), [&](pid_t p) { return !killed.count(p); });
    if (!escaped) return;
    if (Clock::now() >= deadline)
      throw Error("cgroup \"" + path_ + "\": processes keep appearing while killing them");
    if (!frozen) back_off(delay, deadline);
  }
}

void Cgroup::remove() {
  unified_fd_.reset();
  auto deadline = Clock::now() + kRemoveWait;
  std::string failure;
  auto disown = [this](const std::string& d) {
    owned_.erase(std::remove(owned_.begin(), owned_.end(), d), owned_.end());
  };

  // The leaves (and any sub-cgroups the instance made in them).
  std::vector<std::string> still;
  for (const auto& dir : dirs_) {
    if (int err = rmdir_until(dir, deadline)) {
      if (failure.empty())
        failure = "cgroup \"" + path_ + "\": remove " + dir + ": " + std::strerror(err);
      still.push_back(dir);
    } else {
      disown(dir);
    }
  }

  // Then the parents: those we made and, for an adopted cgroup, the other
  // components of the path, deepest first, when nobody else uses them.
  std::vector<std::string> parents(owned_.rbegin(), owned_.rend());
  if (adopted_) {
    for (const auto& dir : dirs_) {
      const CgroupHierarchy* h = hierarchy_of(layout_, dir);
      if (!h) continue;
      std::string p = dir;
      for (;;) {
        size_t slash = p.rfind('/');
        if (slash == std::string::npos || slash <= h->mount_point.size()) break;
        p.resize(slash);
        if (!has(parents, p)) parents.push_back(p);
      }
    }
    std::stable_sort(parents.begin(), parents.end(),
                     [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  }
  for (const auto& p : parents) {
    if (has(still, p) || std::any_of(still.begin(), still.end(), [&](const std::string& s) {
          return s.size() > p.size() && s.compare(0, p.size(), p) == 0 && s[p.size()] == '/';
        }))
      continue;  // a leaf below it is still there
    // EACCES: a rootless user's delegated cgroup, whose parent is not theirs.
    if (::rmdir(p.c_str()) == 0 || errno == ENOENT || errno == EBUSY || errno == ENOTEMPTY || errno == EACCES) {
      disown(p);  // gone, or in use by others: not ours to remove any more
    } else if (failure.empty()) {
      failure = "cgroup \"" + path_ + "\": remove " + p + ": " + std::strerror(errno);
    }
  }

  dirs_ = std::move(still);
  if (!failure.empty()) throw Error(failure);
  owned_.clear();
  adopted_ = false;
}

std::string default_cgroup_path(const std::string& name) { return "mult/" + name; }

}  // namespace mult
