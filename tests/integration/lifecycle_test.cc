// The life of an instance: exit statuses, reaping, stop, ls after the fact,
// --keep, restart and inspect.
#include <signal.h>
#include <unistd.h>

#include "harness.hh"

namespace mult_it {
namespace {

using IntegrationLifecycle = MultTest;

struct ProcStat {
  long pid = 0, ppid = 0;
  std::string comm;
  char state = '?';
};

// Parses `cat /proc/[0-9]*/stat` output (the comm may hold spaces).
std::vector<ProcStat> parse_stats(const std::string& text) {
  std::vector<ProcStat> out;
  for (const auto& line : split_lines(text)) {
    auto open = line.find(" ("), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 2 >= line.size()) continue;
    ProcStat s;
    s.pid = std::stol(line.substr(0, open));
    s.comm = line.substr(open + 2, close - open - 2);
    auto rest = split_words(line.substr(close + 2));
    if (rest.size() < 2) continue;
    s.state = rest[0][0];
    s.ppid = std::stol(rest[1]);
    out.push_back(s);
  }
  return out;
}

TEST_F(IntegrationLifecycle, ExitStatusAndSignalsPropagate) {
  CmdResult r = mult({"run", "--name", unique("st"), "--", "sh", "-c", "exit 3"});
  EXPECT_EQ(r.status, 3) << r.describe();
  r = mult({"run", "--name", unique("st"), "--", "sh", "-c", "kill -9 $$"});
  EXPECT_EQ(r.status, 137) << r.describe();
  r = mult({"run", "--name", unique("st"), "--", "sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.status, 128 + SIGTERM) << r.describe();
  r = mult({"run", "--name", unique("img"), "--", "true"});
  EXPECT_EQ(r.status, 0) << r.describe();
  r = mult({"run", "--name", unique("st"), "--", "sh", "-c", "echo out; echo err >&2; exit 0"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  r = mult({"run", "--name", unique("st"), "--", "no-such-command-y"});
  EXPECT_EQ(r.status, 127) << r.describe();
  EXPECT_TRUE(contains(r.err, "no-such-command-y")) << r.describe();
  // None of these ephemeral instances is left.
  EXPECT_EQ(ls_json().size(), 0u);
}

TEST_F(IntegrationLifecycle, OrphansAreReaped) {
  std::string name = unique("orph");
  CmdResult r = mult({"run", "-d", "--name", name, "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"exec", name, "--", "sh", "-c", "(sleep 0.2 &); (sleep 0.3 &); (sleep 1 &); exit 0"});
  ASSERT_EQ(r.status, 0) << r.describe();

  // Right away: the orphans now belong to PID 1.
  r = mult({"exec", name, "--", "sh", "-c", "cat /proc/[0-9]*/stat"});
  ASSERT_EQ(r.status, 0) << r.describe();
  int orphans = 0;
  for (const auto& s : parse_stats(r.out))
    if (s.comm == "sleep" && s.ppid == 1 && s.pid != 2) ++orphans;
  EXPECT_GE(orphans, 1) << "no orphaned sleep adopted by PID 1\n" << r.describe();

  // Once they ended: no zombie, only mult-init and the main sleep (plus cat).
  std::string last;
  bool clean = wait_until([&] {
    CmdResult s = mult({"exec", name, "--", "sh", "-c", "cat /proc/[0-9]*/stat"});
    last = s.describe();
    if (s.status != 0) return false;
    int sleeps = 0;
    for (const auto& p : parse_stats(s.out)) {
      if (p.state == 'Z') return false;
      if (p.comm == "sleep") ++sleeps;
    }
    return sleeps == 1;
  }, 4);
  EXPECT_TRUE(clean) << last;
  ::usleep(300 * 1000);
  r = mult({"exec", name, "--", "sh", "-c", "cat /proc/[0-9]*/stat"});
  ASSERT_EQ(r.status, 0) << r.describe();
  for (const auto& p : parse_stats(r.out)) EXPECT_NE(p.state, 'Z') << r.describe();
}

TEST_F(IntegrationLifecycle, StopKillsWhatIgnoresSigterm) {
  std::string name = unique("stubborn");
  CmdResult r = mult({"create", name, "--stop-timeout", "1", "--", "sh", "-c", "trap '' TERM; sleep 1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"start", name});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto entry = listed(name);
  ASSERT_TRUE(entry);
  pid_t init = entry->value("pid", 0);
  ASSERT_GT(init, 0);
  // The trap is set once sleep runs.
  ASSERT_TRUE(wait_until([&] {
    return contains(mult({"exec", name, "--", "sh", "-c", "cat /proc/[0-9]*/comm"}).out, "sleep");
  }, 5));

  r = mult({"stop", name}, 20);
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.err, "");
  // Loose: it waited for the grace period, then killed; it did not hang.
  EXPECT_GE(r.seconds, 0.8) << "SIGTERM was ignored, yet it stopped at once";
  EXPECT_LE(r.seconds, 6.0);

  entry = listed(name);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value("state", ""), "stopped");
  EXPECT_EQ(entry->value("pid", -1), 0);
  EXPECT_FALSE(process_alive(init));
  EXPECT_FALSE(path_exists(root() + "/run/" + name));
  EXPECT_EQ(cgroup_dirs_of(name), std::vector<std::string>{});

  // stop -t overrides: 0 kills at once.
  r = mult({"start", name});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"stop", "-t", "0", name}, 20);
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_LE(r.seconds, 4.0);
  EXPECT_EQ(listed(name).value_or(Json::object()).value("state", ""), "stopped");

  // Stopping what does not run says so.
  r = mult({"stop", name});
  EXPECT_EQ(r.status, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "\"" + name + "\": not running")) << r.describe();
}

TEST_F(IntegrationLifecycle, LsRightAfterDetachedStart) {
  std::string name = unique("det");
  CmdResult r = mult({"run", "-d", "--name", name, "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, name + "\n");
  // The starting mult has exited; the instance runs on.
  auto entry = listed(name);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value("state", ""), "running");
  EXPECT_EQ(entry->value("persistent", true), false);
  EXPECT_EQ(entry->value("hostname", ""), name);
  pid_t pid = entry->value("pid", 0);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(process_alive(pid));
  EXPECT_EQ(trim(read_text("/proc/" + std::to_string(pid) + "/comm")), "mult-init");
  EXPECT_FALSE(cgroup_dirs_of(name).empty());

  // The table says the same.
  r = mult({"ls"});
  ASSERT_EQ(r.status, 0) << r.describe();
  bool found = false;
  for (const auto& line : split_lines(r.out)) {
    auto w = split_words(line);
    if (w.size() >= 3 && w[0] == name) {
      found = true;
      EXPECT_EQ(w[1], "running");
      EXPECT_EQ(w[2], std::to_string(pid));
    }
  }
  EXPECT_TRUE(found) << r.out;

  r = mult({"rm", name});
  EXPECT_EQ(r.status, 1) << "rm without -f must refuse a running instance\n" << r.describe();
  EXPECT_TRUE(contains(r.err, "is running")) << r.describe();
  EXPECT_TRUE(process_alive(pid));
  r = mult({"rm", "-f", name});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_FALSE(process_alive(pid));
  EXPECT_FALSE(listed(name));
  EXPECT_EQ(cgroup_dirs_of(name), std::vector<std::string>{});
}

// rm -f of several: all killed first, then removed one by one; a name
// that is not there is reported and the others still go.
TEST_F(IntegrationLifecycle, RmForceOfSeveralRemovesEachAndReportsTheMissing) {
  std::vector<std::string> names;
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) {
    names.push_back(unique("many"));
    CmdResult r = mult({"run", "-d", "--name", names.back(), "--", "sleep", "1000"});
    ASSERT_EQ(r.status, 0) << r.describe();
    auto entry = listed(names.back());
    ASSERT_TRUE(entry);
    pids.push_back(entry->value("pid", 0));
  }
  const std::string missing = unique("missing");
  CmdResult r = mult({"rm", "-f", names[0], missing, names[1], names[2]});
  EXPECT_EQ(r.status, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "\"" + missing + "\": no such instance")) << r.describe();
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_FALSE(process_alive(pids[i])) << names[i];
    EXPECT_FALSE(listed(names[i])) << names[i];
    EXPECT_EQ(cgroup_dirs_of(names[i]), std::vector<std::string>{}) << names[i];
  }
  EXPECT_FALSE(path_exists(root() + "/run/locks/" + missing)) << "a lock file for the missing name";
}

TEST_F(IntegrationLifecycle, LsAfterInstancesDiedOnTheirOwn) {
  // Ephemeral: gone from ls, with its runtime dir and cgroup.
  std::string eph = unique("eph");
  CmdResult r = mult({"run", "-d", "--name", eph, "--", "sh", "-c", "sleep 0.3; exit 0"});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto entry = listed(eph);
  ASSERT_TRUE(entry) << "listed right after start";
  pid_t pid = entry->value("pid", 0);
  ASSERT_TRUE(wait_until([&] { return !process_alive(pid); }, 5));
  EXPECT_FALSE(listed(eph));
  EXPECT_FALSE(path_exists(root() + "/run/" + eph));
  EXPECT_EQ(cgroup_dirs_of(eph), std::vector<std::string>{});

  // Persistent: listed as stopped, runtime dir and cgroup gone.
  std::string per = unique("per");
  r = mult({"create", per, "--", "sh", "-c", "sleep 0.3; exit 0"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"start", per});
  ASSERT_EQ(r.status, 0) << r.describe();
  entry = listed(per);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value("state", ""), "running");
  pid = entry->value("pid", 0);
  ASSERT_TRUE(wait_until([&] { return !process_alive(pid); }, 5));
  entry = listed(per);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value("state", ""), "stopped");
  EXPECT_EQ(entry->value("pid", -1), 0);
  EXPECT_EQ(entry->value("persistent", false), true);
  EXPECT_FALSE(path_exists(root() + "/run/" + per));
  EXPECT_EQ(cgroup_dirs_of(per), std::vector<std::string>{});
  // It can start again.
  r = mult({"start", per});
  EXPECT_EQ(r.status, 0) << r.describe();
}

TEST_F(IntegrationLifecycle, GcCleansUpDeadInstances) {
  std::string name = unique("gc");
  CmdResult r = mult({"run", "-d", "--name", name, "--", "true"});
  ASSERT_EQ(r.status, 0) << r.describe();
  ASSERT_TRUE(wait_until([&] {
    auto st = read_text(root() + "/run/" + name + "/state.json");
    if (st.empty()) return true;
    return !process_alive(Json::parse(st).value("pid", 0));
  }, 5));
  r = mult({"gc"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "1 instance cleaned up\n");
  EXPECT_FALSE(path_exists(root() + "/run/" + name));
  EXPECT_EQ(cgroup_dirs_of(name), std::vector<std::string>{});
  r = mult({"gc"});
  EXPECT_EQ(r.out, "");
}

TEST_F(IntegrationLifecycle, KeepDefinesAStoppedInstance) {
  std::string k = unique("k");
  CmdResult r = mult({"run", "--keep", "--name", k, "--", "true"});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto entry = listed(k);
  ASSERT_TRUE(entry) << "run --keep left no definition";
  EXPECT_EQ(entry->value("state", ""), "stopped");
  EXPECT_EQ(entry->value("persistent", false), true);

  r = mult({"inspect", k});
  ASSERT_EQ(r.status, 0) << r.describe();
  Json j = Json::parse(r.out);
  EXPECT_EQ(j.value("name", ""), k);
  EXPECT_EQ(j.value("state", ""), "stopped");
  EXPECT_EQ(j.value("persistent", false), true);
  EXPECT_FALSE(j.contains("runtime"));
  EXPECT_EQ(j["spec"]["process"]["args"], Json::array({"true"}));
  EXPECT_EQ(j["spec"]["hostname"], k);

  r = mult({"rm", k});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_FALSE(listed(k));
  EXPECT_FALSE(path_exists(root() + "/instances/" + k));
  r = mult({"inspect", k});
  EXPECT_EQ(r.status, 1) << r.describe();
}

TEST_F(IntegrationLifecycle, RestartAndInspect) {
  std::string name = unique("rs");
  CmdResult r = mult({"create", name, "--stop-timeout", "2", "--hostname", "rshost", "-e", "A=b",
                      "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  // Restarting a stopped instance starts it.
  r = mult({"restart", name});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto entry = listed(name);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value("state", ""), "running");
  pid_t first = entry->value("pid", 0);
  ASSERT_TRUE(process_alive(first));

  r = mult({"restart", name}, 20);
  ASSERT_EQ(r.status, 0) << r.describe();
  entry = listed(name);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value("state", ""), "running");
  pid_t second = entry->value("pid", 0);
  EXPECT_TRUE(process_alive(second));
  EXPECT_NE(second, first);
  EXPECT_FALSE(process_alive(first));

  r = mult({"inspect", name});
  ASSERT_EQ(r.status, 0) << r.describe();
  Json j = Json::parse(r.out);
  EXPECT_EQ(j.value("name", ""), name);
  EXPECT_EQ(j.value("state", ""), "running");
  EXPECT_EQ(j.value("persistent", false), true);
  ASSERT_TRUE(j.contains("runtime")) << r.out;
  EXPECT_EQ(j["runtime"].value("pid", 0), second);
  EXPECT_EQ(j["spec"]["hostname"], "rshost");
  EXPECT_EQ(j["spec"]["process"]["args"], Json::array({"sleep", "1000"}));
  EXPECT_EQ(j["spec"]["annotations"]["org.mult.stop-timeout"], "2");
  bool env = false;
  for (const auto& e : j["spec"]["process"]["env"]) env = env || e == "A=b";
  EXPECT_TRUE(env) << j["spec"]["process"]["env"].dump();

  r = mult({"exec", name, "--", "hostname"});
  EXPECT_EQ(trim(r.out), "rshost") << r.describe();

  r = mult({"restart", unique("missing")});
  EXPECT_EQ(r.status, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "no such instance")) << r.describe();
}

}  // namespace
}  // namespace mult_it
