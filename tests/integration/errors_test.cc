// Bad input: a one-line error naming the object and the cause, a non-zero
// exit, and nothing left behind (no mount, no cgroup, no state).
#include <string>

#include "harness.hh"

namespace mult_it {
namespace {

class IntegrationErrors : public MultTest {
 protected:
  // Runs `args`, which must fail with `code` (any non-zero code when -1),
  // print nothing on stdout and exactly one line "mult: ..." on stderr that
  // holds every one of `needles`, and change nothing.
  void expect_clean_failure(const Argv& args, int code, const std::vector<std::string>& needles) {
    Snapshot before = take_snapshot(root());
    CmdResult r = mult(args);
    SCOPED_TRACE(r.describe());
    if (code < 0) {
      EXPECT_GT(r.status, 0);
    } else {
      EXPECT_EQ(r.status, code);
    }
    EXPECT_EQ(r.out, "");
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.back(), '\n');
    EXPECT_EQ(split_lines(r.err).size(), 1u) << "one line";
    EXPECT_EQ(r.err.rfind("mult: ", 0), 0u);
    for (const auto& n : needles) EXPECT_TRUE(contains(r.err, n)) << "missing \"" << n << "\"";
    EXPECT_EQ(snapshot_diff(before, take_snapshot(root())), "") << "left behind";
  }
};

TEST_F(IntegrationErrors, UnknownInstance) {
  // The image store exists, as it would on any used host.
  ASSERT_EQ(mult({"run", "--name", unique("img"), "--", "true"}).status, 0);
  std::string nope = unique("nope");
  std::string q = "\"" + nope + "\"";
  for (const char* cmd : {"start", "stop", "rm", "inspect", "restart"})
    expect_clean_failure({cmd, nope}, 1, {q, "no such instance"});
  expect_clean_failure({"rm", "-f", nope}, 1, {q, "no such instance"});
  expect_clean_failure({"stop", "-t", "1", nope}, 1, {q, "no such instance"});
  expect_clean_failure({"exec", nope, "--", "true"}, 1, {q, "not running"});
}

TEST_F(IntegrationErrors, DuplicateName) {
  std::string d = unique("dup");
  CmdResult r = mult({"create", d, "--", "true"});
  ASSERT_EQ(r.status, 0) << r.describe();
  std::string q = "\"" + d + "\"";
  expect_clean_failure({"create", d, "--", "true"}, 1, {q, "already exists"});
  expect_clean_failure({"run", "--name", d, "--", "true"}, 1, {q, "already exists"});
  expect_clean_failure({"run", "-d", "--name", d, "--", "sleep", "100"}, 1, {q, "already exists"});

  // A running ephemeral instance blocks the name too.
  std::string e = unique("eph");
  r = mult({"run", "-d", "--name", e, "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  expect_clean_failure({"run", "--name", e, "--", "true"}, 1, {"\"" + e + "\"", "already exists"});
  expect_clean_failure({"create", e, "--", "true"}, 1, {"\"" + e + "\"", "already exists"});
}

TEST_F(IntegrationErrors, InvalidNames) {
  const std::string long_name(65, 'a');
  for (const std::string& bad : {std::string("../x"), std::string(""), std::string("a/b"), long_name,
                                 std::string("-x"), std::string("a b")}) {
    SCOPED_TRACE("name \"" + bad + "\"");
    std::string q = "instance \"" + bad + "\": invalid name";
    // "-x" reads as an option where an option may stand.
    if (bad != "-x") expect_clean_failure({"create", bad, "--", "true"}, 2, {q});
    expect_clean_failure({"run", "--name", bad, "--", "true"}, 2, {q});
    if (bad != "-x") {
      expect_clean_failure({"start", bad}, 2, {q});
      expect_clean_failure({"rm", bad}, 2, {q});
      expect_clean_failure({"inspect", bad}, 2, {q});
      expect_clean_failure({"exec", bad, "--", "true"}, 2, {q});
    }
  }
  expect_clean_failure({"run", "--name", long_name, "--", "true"}, 2, {"longer than 64"});
  expect_clean_failure({"create", "", "--", "true"}, 2, {"(empty)"});
  // 64 characters are fine.
  std::string ok(64, 'b');
  CmdResult r = mult({"create", ok, "--", "true"});
  EXPECT_EQ(r.status, 0) << r.describe();
}

TEST_F(IntegrationErrors, MissingRootfs) {
  expect_clean_failure({"run", "--rootfs", "/nonexistent", "--", "true"}, 1,
                       {"\"/nonexistent\"", "No such file or directory"});
  expect_clean_failure({"create", unique("r"), "--rootfs", "/nonexistent", "--", "true"}, 1,
                       {"\"/nonexistent\"", "No such file or directory"});
  expect_clean_failure({"run", "--rootfs", "/etc/hostname", "--", "true"}, 1,
                       {"\"/etc/hostname\"", "not a directory"});
  expect_clean_failure({"run", "--image", "no-such-image", "--", "true"}, 1,
                       {"\"no-such-image\"", "not found"});
}

TEST_F(IntegrationErrors, BadSpec) {
  std::string n = unique("spec");
  expect_clean_failure({"create", n, "--stop-timeout", "abc", "--", "true"}, 2,
                       {"--stop-timeout", "\"abc\"", "not a number"});
  expect_clean_failure({"run", "--stop-timeout", "-1", "--", "true"}, 2,
                       {"--stop-timeout", "\"-1\"", "not a number"});
  expect_clean_failure({"run", "--bind", "nocolon", "--", "true"}, 2,
                       {"--bind \"nocolon\"", "expected SRC:DST"});
  expect_clean_failure({"run", "--bind", "/etc:relative", "--", "true"}, 2,
                       {"--bind \"/etc:relative\"", "absolute"});
  expect_clean_failure({"run", "--bind", "/etc:/mnt:rx", "--", "true"}, 2,
                       {"--bind \"/etc:/mnt:rx\"", "\"rx\""});
  expect_clean_failure({"run", "--tmpfs", "rel", "--", "true"}, 2, {"--tmpfs \"rel\"", "absolute"});
  expect_clean_failure({"run", "-e", "NOEQUALS", "--", "true"}, 2,
                       {"--env \"NOEQUALS\"", "expected KEY=VALUE"});
  expect_clean_failure({"run", "-w", "rel", "--", "true"}, 2, {"--workdir \"rel\"", "absolute"});
  expect_clean_failure({"run", "--rootfs", "/", "--image", "x", "--", "true"}, 2,
                       {"--rootfs and --image"});
  expect_clean_failure({"create", n, "--hostname"}, 2, {"--hostname", "needs a value"});
}

TEST_F(IntegrationErrors, UnknownOptionsAndCommands) {
  expect_clean_failure({"run", "--bogus", "--", "true"}, 2, {"--bogus", "unknown option"});
  expect_clean_failure({"create", unique("o"), "--bogus", "--", "true"}, 2, {"--bogus", "unknown option"});
  expect_clean_failure({"stop", "--bogus", "x"}, 2, {"--bogus", "unknown option"});
  expect_clean_failure({"ls", "--format", "yaml"}, 2, {"\"yaml\"", "table or json"});
  expect_clean_failure({"frobnicate"}, 2, {"\"frobnicate\"", "unknown command"});
  CmdResult r = run_command({MULT_BIN, "--root", root(), "--bogus", "ls"});
  EXPECT_EQ(r.status, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "unknown option --bogus")) << r.describe();
}

// Help for a command is the usage, on stdout, exit 0; after run's or exec's
// command it is that command's own option.
TEST_F(IntegrationErrors, HelpForEveryCommand) {
  for (const char* command : {"run", "exec", "create", "start", "stop", "rm", "ls", "update", "net"}) {
    CmdResult r = mult({command, "--help"});
    EXPECT_EQ(r.status, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "usage: mult")) << r.describe();
    EXPECT_TRUE(contains(r.out, std::string("  ") + command + " ")) << r.describe();
  }
  CmdResult r = mult({"run", "--", "sh", "-c", "echo $1", "sh", "--help"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "--help\n") << r.describe();
}

TEST_F(IntegrationErrors, MissingCommand) {
  expect_clean_failure({"run"}, 2, {"run", "missing command"});
  expect_clean_failure({"run", "--name", unique("m")}, 2, {"run", "missing command"});
  expect_clean_failure({"run", "-d", "--"}, 2, {"run", "missing command"});
  expect_clean_failure({"exec", unique("m")}, 2, {"exec", "missing command"});
  expect_clean_failure({"start"}, 2, {"start", "missing instance name"});
  expect_clean_failure({"create"}, 2, {"create", "missing instance name"});
}

TEST_F(IntegrationErrors, FailingBindMountRollsBack) {
  ASSERT_EQ(mult({"run", "--name", unique("img"), "--", "true"}).status, 0);  // image built beforehand
  std::string n = unique("bind");
  // Source missing: refused before anything is made.
  expect_clean_failure({"run", "--name", n, "--bind", "/nonexistent:/mnt", "--", "true"}, 1,
                       {"\"/nonexistent\"", "No such file or directory"});
  expect_clean_failure({"run", "--keep", "--name", n, "--bind", "/nonexistent:/mnt", "--", "true"}, 1,
                       {"\"/nonexistent\""});
  expect_clean_failure({"create", n, "--bind", "/nonexistent:/mnt", "--", "true"}, 1,
                       {"\"/nonexistent\""});

  // Source fine, target impossible: fails in the middle of setup, after the
  // cgroup and the runtime dir were made; all of it goes again.
  for (const char* target : {"/proc/foo", "/sys/foo"}) {
    SCOPED_TRACE(target);
    std::string bind = std::string("/etc/hostname:") + target;
    expect_clean_failure({"run", "--name", n, "--bind", bind, "--", "true"}, 125,
                         {"\"" + std::string(target) + "\""});
    expect_clean_failure({"run", "--keep", "--name", n, "--bind", bind, "--", "true"}, 125,
                         {"\"" + std::string(target) + "\""});
    expect_clean_failure({"run", "-d", "--name", n, "--bind", bind, "--", "true"}, 125,
                         {"\"" + std::string(target) + "\""});
  }
  // A defined instance whose start fails stays defined, not running.
  CmdResult r = mult({"create", n, "--bind", "/etc/hostname:/proc/foo", "--", "true"});
  ASSERT_EQ(r.status, 0) << r.describe();
  expect_clean_failure({"start", n}, 125, {"\"/proc/foo\""});
  auto entry = listed(n);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value("state", ""), "stopped");

  // The name is free again for an instance that works.
  r = mult({"rm", n});
  EXPECT_EQ(r.status, 0) << r.describe();
  r = mult({"run", "--name", n, "--", "true"});
  EXPECT_EQ(r.status, 0) << r.describe();
}

}  // namespace
}  // namespace mult_it
