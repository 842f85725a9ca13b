// Integration test harness: runs build/mult as a subprocess against a
// temporary state root and compares what the host looks like before and
// after. Every command runs with a timeout; every test cleans up after
// itself, even when it fails.
#pragma once
#include <gtest/gtest.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mult_it {

using Json = nlohmann::json;
using Argv = std::vector<std::string>;

// ---- Commands --------------------------------------------------------------

struct CmdResult {
  int status = -1;         // exit code, 128+signal when killed, -1: did not run
  bool timed_out = false;  // killed by us after the timeout
  std::string out, err;
  double seconds = 0;      // wall time
  // "argv -> status; stdout: ...; stderr: ..." for assertion messages.
  std::string describe() const;
  Argv argv;
};

// Runs argv[0] (a path, no PATH search) with stdin from /dev/null, capturing
// stdout and stderr. The child runs in a process group of its own; after
// `timeout` seconds that group is SIGKILLed. Output still held open by a
// grandchild after the child exited is not waited for.
CmdResult run_command(const Argv& argv, double timeout = 30);

// A process the test started on the host (e.g. `sleep 100`), in its own
// process group. Killed and reaped when destroyed unless already reaped.
class HostProcess {
 public:
  HostProcess() = default;
  explicit HostProcess(const Argv& argv);
  HostProcess(HostProcess&& o) noexcept;
  HostProcess& operator=(HostProcess&& o) noexcept;
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;
  ~HostProcess();

  pid_t pid() const { return pid_; }
  // Running (not yet exited) according to waitpid(WNOHANG).
  bool running();
  // Sends `sig` to the process (only ours, never anyone else's).
  void signal(int sig);
  // Waits at most `timeout` seconds for it to exit; its status or nullopt.
  std::optional<int> wait(double timeout);
  // SIGKILL and reap.
  void kill_and_reap();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = -1;
};

// ---- Temporary state roots -------------------------------------------------

// mkdtemp under /tmp.
std::string make_temp_root();
// rm -rf that never crosses into another file system (a leaked mount stays,
// and the failure is reported). Returns an empty string on success.
std::string remove_temp_root(const std::string& root);

// ---- Snapshots -------------------------------------------------------------

struct Snapshot {
  std::vector<std::string> mounts;   // lines of /proc/self/mountinfo
  std::vector<std::string> cgroups;  // dirs under /sys/fs/cgroup with "mult" in a component
  std::vector<std::string> state;    // entries under the state root, relative
};

std::vector<std::string> mountinfo_lines();
// Every cgroup directory, in every hierarchy, one of whose path components
// (below /sys/fs/cgroup/<hierarchy>) contains "mult", except what belongs to
// others who use the host at the same time: another live process's own tree
// ("mult-test-<pid>", the unit tests' scratch cgroups), instances this process did
// not name (every instance a test makes is named by MultTest::unique(), so
// a leak of ours is still seen) and a mult parent dir that holds only those.
std::vector<std::string> mult_cgroup_dirs();
// Files and directories under `root`, relative and sorted, except the image
// store (images/...), the seccomp filter cache (run/seccomp/...) and the
// directories mult keeps even when empty (instances, run, run/locks).
std::vector<std::string> state_entries(const std::string& root);
Snapshot take_snapshot(const std::string& root);
// What changed from `before` to `after`, one "+ x" / "- x" line per entry;
// empty when they are equal.
std::string snapshot_diff(const Snapshot& before, const Snapshot& after);

// ---- Small utilities -------------------------------------------------------

std::vector<std::string> split_lines(const std::string& text);
std::vector<std::string> split_words(const std::string& text);
std::string trim(const std::string& s);
bool contains(const std::string& haystack, const std::string& needle);
std::string read_text(const std::string& path);  // "" when unreadable
void write_text(const std::string& path, const std::string& data);
bool path_exists(const std::string& path);
// Alive and not a zombie (reads /proc/PID/stat; sends no signal).
bool process_alive(pid_t pid);
// Polls `pred` every 20 ms for at most `timeout` seconds.
bool wait_until(const std::function<bool()>& pred, double timeout);
std::string random_hex(size_t bytes);
// Lines "KEY=VALUE" of `text` as a map lookup: the value of the first line
// starting with "key=", or nullopt.
std::optional<std::string> field(const std::string& text, const std::string& key);

// ---- The fixture -----------------------------------------------------------

// Each test gets a fresh state root. TearDown removes every instance that
// `mult ls` lists (rm -f), kills the host processes the test started,
// checks that no mount or mult cgroup was left behind, and removes the root.
class MultTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // build/mult --root <root> args...
  CmdResult mult(const Argv& args, double timeout = 30);
  // A name unique to this test process ("base-<pid>-<n>"): the cgroup path
  // mult/NAME is shared by all state roots of the host.
  std::string unique(const std::string& base);
  // `mult ls --format json`, parsed; a test failure when it does not work.
  Json ls_json();
  // The entry of `ls --format json` for `name`, if listed.
  std::optional<Json> listed(const std::string& name);
  // Starts a host process owned by this test (killed in TearDown at the latest).
  HostProcess& spawn(const Argv& argv);
  // The cgroup dirs of instance `name` (mult_cgroup_dirs() ending in /NAME).
  std::vector<std::string> cgroup_dirs_of(const std::string& name);
  std::string root() const { return root_; }

  std::string root_;
  Snapshot host_before_;
  std::vector<std::unique_ptr<HostProcess>> spawned_;
  int counter_ = 0;
};

}  // namespace mult_it
