// Freezing an instance's cgroup (mult-oci pause and resume): the v1
// freezer controller when the cgroup is in its hierarchy, else the
// cgroup.freeze file that every cgroup v2 directory has.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "cgroup.hh"
#include "error.hh"

namespace mult {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kFreezeTimeout{5};

int read_small(const std::string& path, std::string& out) {
  out.clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return err;
    }
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return 0;
}

int write_small(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n;
  while ((n = ::write(fd, data.data(), data.size())) < 0 && errno == EINTR) {
  }
  int err = n < 0 ? errno : 0;
  ::close(fd);
  return err;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// The directory `dirs` holds under mount point `mp`, or "".
const std::string* dir_under(const std::vector<std::string>& dirs, const std::string& mp) {
  for (const auto& d : dirs)
    if (d.size() > mp.size() && d.compare(0, mp.size(), mp) == 0 && d[mp.size()] == '/')
      return &d;
  return nullptr;
}

}  // namespace

std::string Cgroup::freeze_file(bool* v2) const {
  if (layout_) {
    if (const CgroupHierarchy* h = layout_->v1_for("freezer"))
      if (const std::string* d = dir_under(dirs_, h->mount_point)) {
        *v2 = false;
        return *d + "/freezer.state";
      }
    if (const CgroupHierarchy* h = layout_->unified())
      if (const std::string* d = dir_under(dirs_, h->mount_point)) {
        *v2 = true;
        return *d + "/cgroup.freeze";
      }
  }
  throw Error("cgroup \"" + path_ + "\": no freezer (neither a v1 freezer nor a cgroup v2 directory)");
}

void Cgroup::freeze() const {
  bool v2 = false;
  std::string file = freeze_file(&v2);
  auto deadline = Clock::now() + kFreezeTimeout;
  std::string state;
  for (auto delay = std::chrono::microseconds(200);; delay = std::min(delay * 2, decltype(delay)(20000))) {
    // v1 retries the tasks it could not freeze yet on every write.
    if (int err = write_small(file, v2 ? "1" : "FROZEN"))
      throw sys_error("cgroup \"" + path_ + "\": freeze " + file, err);
    bool done;
    if (v2) {
      std::string events = file.substr(0, file.rfind('/')) + "/cgroup.events";
      if (int err = read_small(events, state)) throw sys_error("cgroup \"" + path_ + "\": " + events, err);
      done = state.find("frozen 1") != std::string::npos;
    } else {
      if (int err = read_small(file, state)) throw sys_error("cgroup \"" + path_ + "\": " + file, err);
      done = first_line(state) == "FROZEN";
    }
    if (done) return;
    if (Clock::now() >= deadline) {
      write_small(file, v2 ? "0" : "THAWED");
      throw Error("cgroup \"" + path_ + "\": did not freeze within " +
                  std::to_string(kFreezeTimeout.count()) + "s");
    }
    std::this_thread::sleep_for(delay);
  }
}

void Cgroup::thaw() const {
  bool v2 = false;
  std::string file = freeze_file(&v2);
  if (int err = write_small(file, v2 ? "0" : "THAWED"))
    throw sys_error("cgroup \"" + path_ + "\": thaw " + file, err);
}

bool Cgroup::frozen() const {
  bool v2 = false;
  std::string file, state;
  try {
    file = freeze_file(&v2);
  } catch (const Error&) {
    return false;
  }
  if (read_small(file, state) != 0) return false;
  std::string s = first_line(state);
  return v2 ? s == "1" : (s == "FROZEN" || s == "FREEZING");
}

}  // namespace mult
