#include "harness.hh"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#ifndef MULT_BIN
#error "MULT_BIN must name build/mult"
#endif

namespace mult_it {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// In a freshly forked child: stdio, own process group, no inherited fds or
// blocked signals, then exec. Never returns.
[[noreturn]] void exec_child(const Argv& argv, int out_fd, int err_fd) {
  ::setpgid(0, 0);
  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd < 0) ::_exit(126);
  if (::dup2(null_fd, 0) < 0 || ::dup2(out_fd < 0 ? null_fd : out_fd, 1) < 0 ||
      ::dup2(err_fd < 0 ? null_fd : err_fd, 2) < 0)
    ::_exit(126);
  ::syscall(SYS_close_range, 3U, ~0U, 0U);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) ::signal(sig, SIG_DFL);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  std::string msg = "harness: exec " + argv[0] + ": " + std::strerror(errno) + "\n";
  ssize_t ignored = ::write(2, msg.data(), msg.size());
  (void)ignored;
  ::_exit(127);
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Reads what is available; false on EOF or error.
bool drain(int fd, std::string& into) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, size_t(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN;
  }
}

std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit((unsigned char)s[i + 1])) {
      out += char(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Mount points at or below `dir`, from /proc/self/mountinfo.
std::vector<std::string> mounts_below(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& line : mountinfo_lines()) {
    auto w = split_words(line);
    if (w.size() < 5) continue;
    std::string mp = unescape_mountinfo(w[4]);
    if (mp == dir || mp.rfind(dir + "/", 0) == 0) out.push_back(mp);
  }
  return out;
}

// An instance this test process did not name: MultTest::unique() names end
// in "-<our pid>-<n>".
bool foreign_instance(const std::string& name) {
  std::string tail = "-" + std::to_string(::getpid()) + "-";
  auto at = name.rfind(tail);
  if (at == std::string::npos || at == 0) return true;
  std::string n = name.substr(at + tail.size());
  return n.empty() || !std::all_of(n.begin(), n.end(), [](char c) { return std::isdigit((unsigned char)c); });
}

// Another process's own cgroup tree, like the unit tests' scratch cgroups
// ("mult-test-<pid>", "mult-limits-test-<pid>"): a name ending in "-<pid>"
// of a live process that is not this one.
bool other_process_tree(const std::string& name) {
  auto dash = name.rfind('-');
  if (dash == std::string::npos || dash + 1 == name.size()) return false;
  std::string pid = name.substr(dash + 1);
  if (!std::all_of(pid.begin(), pid.end(), [](char c) { return std::isdigit((unsigned char)c); }))
    return false;
  return pid != std::to_string(::getpid()) && path_exists("/proc/" + pid);
}

// Records the dirs below `dir` that are (or are below) one whose name holds
// "mult". `level`: -1 outside such a dir, 0 for the instances right in it,
// more below. Returns true when it skipped an instance not ours.
bool walk_cgroups(const std::string& dir, int level, std::vector<std::string>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (e->d_type == DT_DIR) subdirs.push_back(n);
  }
  ::closedir(d);
  bool skipped = false;
  for (const auto& n : subdirs) {
    bool marker = level < 0 && contains(n, "mult");
    if (marker && other_process_tree(n)) continue;
    if (level == 0 && foreign_instance(n)) {
      skipped = true;
      continue;
    }
    int sub_level = marker ? 0 : level < 0 ? -1 : level + 1;
    std::vector<std::string> below;
    bool foreign_below = walk_cgroups(dir + "/" + n, sub_level, below);
    // A parent (mult/) that holds only instances not ours is not ours.
    bool keep = marker ? !(below.empty() && foreign_below) : level >= 0;
    if (keep) out.push_back(dir + "/" + n);
    out.insert(out.end(), below.begin(), below.end());
  }
  return skipped;
}

void walk_state(const std::string& base, const std::string& rel, std::vector<std::string>& out) {
  std::string dir = rel.empty() ? base : base + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    if (r == "images" || r == "run/seccomp") continue;  // image store, filter cache: kept
    struct stat st;
    if (::lstat((base + "/" + r).c_str(), &st) != 0) continue;
    bool kept_dir = r == "instances" || r == "run" || r == "run/locks";
    if (!kept_dir) out.push_back(S_ISDIR(st.st_mode) ? r + "/" : r);
    if (S_ISDIR(st.st_mode)) walk_state(base, r, out);
  }
}

void diff_lists(const char* what, const std::vector<std::string>& a,
                const std::vector<std::string>& b, std::string& out) {
  std::multiset<std::string> sa(a.begin(), a.end()), sb(b.begin(), b.end());
  std::set<std::string> keys(a.begin(), a.end());
  keys.insert(b.begin(), b.end());
  for (const auto& k : keys) {
    if (sa.count(k) > sb.count(k)) out += std::string("- ") + what + " " + k + "\n";
    if (sb.count(k) > sa.count(k)) out += std::string("+ ") + what + " " + k + "\n";
  }
}

}  // namespace

// ---- Commands --------------------------------------------------------------

std::string CmdResult::describe() const {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  s += " -> " + (timed_out ? std::string("TIMED OUT") : "status " + std::to_string(status));
  s += "\n--- stdout:\n" + out + "\n--- stderr:\n" + err;
  return s;
}

CmdResult run_command(const Argv& argv, double timeout) {
  CmdResult r;
  r.argv = argv;
  int outp[2], errp[2];
  if (::pipe2(outp, O_CLOEXEC) != 0) return r;
  if (::pipe2(errp, O_CLOEXEC) != 0) {
    ::close(outp[0]);
    ::close(outp[1]);
    return r;
  }
  auto t0 = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) exec_child(argv, outp[1], errp[1]);
  ::close(outp[1]);
  ::close(errp[1]);
  if (pid < 0) {
    ::close(outp[0]);
    ::close(errp[0]);
    return r;
  }
  ::setpgid(pid, pid);  // no race with the child's own setpgid
  int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
  for (int fd : {outp[0], errp[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  int fds[2] = {outp[0], errp[0]};
  std::string* bufs[2] = {&r.out, &r.err};
  bool open_[2] = {true, true};
  bool exited = false;
  Clock::time_point exited_at;
  for (;;) {
    double left = timeout - seconds_since(t0);
    if (left <= 0) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);  // the child's own group: only what we started
      ::kill(pid, SIGKILL);
      break;
    }
    // Once the child is gone, output held open by a grandchild that
    // escaped (a daemon) is not waited for longer than a moment.
    if (exited && ((!open_[0] && !open_[1]) || seconds_since(exited_at) > 0.3)) break;
    struct pollfd p[3];
    int n = 0;
    int idx[2] = {-1, -1};
    for (int i = 0; i < 2; ++i)
      if (open_[i]) {
        idx[i] = n;
        p[n++] = {fds[i], POLLIN, 0};
      }
    int pid_slot = -1;
    if (!exited && pidfd >= 0) {
      pid_slot = n;
      p[n++] = {pidfd, POLLIN, 0};
    }
    int wait_ms = int(std::min(left, exited ? 0.05 : 0.2) * 1000) + 1;
    int rc = ::poll(p, nfds_t(n), wait_ms);
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i)
      if (idx[i] >= 0 && p[idx[i]].revents) open_[i] = drain(fds[i], *bufs[i]);
    if (!exited) {
      bool gone = pid_slot >= 0 ? (rc > 0 && p[pid_slot].revents) : false;
      if (pidfd < 0) {  // no pidfd: ask waitid without reaping
        siginfo_t si{};
        gone = ::waitid(P_PID, id_t(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
      }
      if (gone) {
        exited = true;
        exited_at = Clock::now();
      }
    }
  }
  for (int i = 0; i < 2; ++i)
    if (open_[i]) drain(fds[i], *bufs[i]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.seconds = seconds_since(t0);
  r.status = r.timed_out ? -1 : decode_status(status);
  ::close(outp[0]);
  ::close(errp[0]);
  if (pidfd >= 0) ::close(pidfd);
  return r;
}

HostProcess::HostProcess(const Argv& argv) {
  pid_ = ::fork();
  if (pid_ == 0) exec_child(argv, -1, -1);
  if (pid_ > 0) ::setpgid(pid_, pid_);
}

HostProcess::HostProcess(HostProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), reaped_(o.reaped_), status_(o.status_) {}

HostProcess& HostProcess::operator=(HostProcess&& o) noexcept {
  if (this != &o) {
    kill_and_reap();
    pid_ = std::exchange(o.pid_, -1);
    reaped_ = o.reaped_;
    status_ = o.status_;
  }
  return *this;
}

HostProcess::~HostProcess() { kill_and_reap(); }

bool HostProcess::running() {
  if (pid_ <= 0 || reaped_) return false;
  int status;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = decode_status(status);
    return false;
  }
  return r == 0;
}

void HostProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> HostProcess::wait(double timeout) {
  if (pid_ <= 0) return std::nullopt;
  wait_until([&] { return !running(); }, timeout);
  if (reaped_) return status_;
  return std::nullopt;
}

void HostProcess::kill_and_reap() {
  if (pid_ <= 0 || reaped_) return;
  if (running()) {
    ::kill(-pid_, SIGKILL);  // its own group, made by us
    ::kill(pid_, SIGKILL);
  }
  if (!reaped_) {
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    status_ = decode_status(status);
  }
}

// ---- Temporary state roots -------------------------------------------------

std::string make_temp_root() {
  char tmpl[] = "/tmp/mult-it.XXXXXX";
  if (!::mkdtemp(tmpl)) return "";
  return tmpl;
}

namespace {
std::string g_remove_error;
int remove_entry(const char* path, const struct stat*, int type, struct FTW*) {
  int rc = type == FTW_DP ? ::rmdir(path) : ::unlink(path);
  if (rc != 0 && errno != ENOENT && g_remove_error.empty())
    g_remove_error = std::string(path) + ": " + std::strerror(errno);
  return 0;
}
}  // namespace

std::string remove_temp_root(const std::string& root) {
  if (root.empty() || root.rfind("/tmp/mult-it.", 0) != 0) return "refusing to remove \"" + root + "\"";
  // Never recurse into a mount: a leaked bind mount of a host directory
  // has the same st_dev and FTW_MOUNT would not notice.
  auto mounts = mounts_below(root);
  if (!mounts.empty()) return "mounts left below " + root + ": " + mounts.front();
  g_remove_error.clear();
  ::nftw(root.c_str(), remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  return g_remove_error;
}

// ---- Snapshots -------------------------------------------------------------

std::vector<std::string> mountinfo_lines() { return split_lines(read_text("/proc/self/mountinfo")); }

std::vector<std::string> mult_cgroup_dirs() {
  std::vector<std::string> out;
  walk_cgroups("/sys/fs/cgroup", -1, out);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> state_entries(const std::string& root) {
  std::vector<std::string> out;
  walk_state(root, "", out);
  std::sort(out.begin(), out.end());
  return out;
}

Snapshot take_snapshot(const std::string& root) {
  return Snapshot{mountinfo_lines(), mult_cgroup_dirs(), state_entries(root)};
}

std::string snapshot_diff(const Snapshot& before, const Snapshot& after) {
  std::string out;
  diff_lists("mount", before.mounts, after.mounts, out);
  diff_lists("cgroup", before.cgroups, after.cgroups, out);
  diff_lists("state", before.state, after.state, out);
  return out;
}

// ---- Small utilities -------------------------------------------------------

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

bool wait_until(const std::function<bool()>& pred, double timeout) {
  auto t0 = Clock::now();
  for (;;) {
    if (pred()) return true;
    if (seconds_since(t0) >= timeout) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> b(bytes);
  if (::getrandom(b.data(), b.size(), 0) != ssize_t(b.size())) {
    for (auto& c : b) c = (unsigned char)(::rand());
  }
  static const char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::optional<std::string> field(const std::string& text, const std::string& key) {
  for (const auto& line : split_lines(text))
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return std::nullopt;
}

// ---- The fixture -----------------------------------------------------------

void MultTest::SetUp() {
  root_ = make_temp_root();
  ASSERT_FALSE(root_.empty()) << "mkdtemp: " << std::strerror(errno);
  host_before_ = take_snapshot(root_);
}

void MultTest::TearDown() {
  if (root_.empty()) return;
  // Every instance mult knows of, and any directory that looks like one.
  std::set<std::string> names;
  CmdResult ls = mult({"ls", "--format", "json"});
  if (ls.status == 0) {
    try {
      for (const auto& i : Json::parse(ls.out)) names.insert(i.at("name").get<std::string>());
    } catch (const std::exception& e) {
      ADD_FAILURE() << "teardown: ls --format json: " << e.what() << "\n" << ls.describe();
    }
  } else {
    ADD_FAILURE() << "teardown: " << ls.describe();
  }
  for (const char* sub : {"/instances", "/run"}) {
    if (DIR* d = ::opendir((root_ + sub).c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (e->d_type == DT_DIR && n != "." && n != ".." && n != "locks" && n != "seccomp") names.insert(n);
      }
      ::closedir(d);
    }
  }
  for (const auto& n : names) {
    CmdResult rm = mult({"rm", "-f", n});
    if (rm.status != 0) ADD_FAILURE() << "teardown: " << rm.describe();
  }
  spawned_.clear();  // kills and reaps the host processes this test started

  // Nothing of mult may stay on the host once its instances are removed.
  Snapshot after = take_snapshot(root_);
  Snapshot before = host_before_;
  before.state = after.state = {};  // the state root itself goes below
  std::string diff = snapshot_diff(before, after);
  EXPECT_EQ(diff, "") << "left behind after removing every instance";

  std::string err = remove_temp_root(root_);
  EXPECT_EQ(err, "") << "removing the state root " << root_;
  root_.clear();
}

CmdResult MultTest::mult(const Argv& args, double timeout) {
  Argv argv = {MULT_BIN, "--root", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, timeout);
}

std::string MultTest::unique(const std::string& base) {
  return base + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter_);
}

Json MultTest::ls_json() {
  CmdResult r = mult({"ls", "--format", "json"});
  EXPECT_EQ(r.status, 0) << r.describe();
  try {
    Json j = Json::parse(r.out);
    EXPECT_TRUE(j.is_array()) << r.out;
    if (j.is_array()) return j;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "ls --format json: " << e.what() << "\n" << r.describe();
  }
  return Json::array();
}

std::optional<Json> MultTest::listed(const std::string& name) {
  for (const auto& i : ls_json())
    if (i.value("name", "") == name) return i;
  return std::nullopt;
}

HostProcess& MultTest::spawn(const Argv& argv) {
  spawned_.push_back(std::make_unique<HostProcess>(argv));
  return *spawned_.back();
}

std::vector<std::string> MultTest::cgroup_dirs_of(const std::string& name) {
  std::vector<std::string> out;
  for (const auto& d : mult_cgroup_dirs())
    if (d.size() > name.size() && d.compare(d.size() - name.size() - 1, std::string::npos, "/" + name) == 0)
      out.push_back(d);
  return out;
}

}  // namespace mult_it
