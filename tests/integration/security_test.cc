// Security: what an instance is allowed (capabilities, no_new_privs,
// seccomp, user namespaces, rootless) and a battery of ways out that must
// all fail from inside a default instance, each checked on the host too.
//
// Calls busybox has no applet for go through the static sec_helper
// (tests/integration/helper/sec_helper.cc), bound into the instance at
// /bin/sec_helper; it prints "call=ok" or "call=ERRNONAME".
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "harness.hh"

#ifndef MULT_SEC_HELPER
#error "MULT_SEC_HELPER must name the static sec_helper"
#endif

namespace mult_it {
namespace {

// ---- helpers ---------------------------------------------------------------

std::string helper_bind() { return std::string(MULT_SEC_HELPER) + ":/bin/sec_helper:ro"; }

// Bits of the conventional default set (docker's, runc spec's).
constexpr uint64_t bit(int cap) { return uint64_t(1) << cap; }
constexpr uint64_t kConventional14 =
    bit(0) /*CHOWN*/ | bit(1) /*DAC_OVERRIDE*/ | bit(3) /*FOWNER*/ | bit(4) /*FSETID*/ |
    bit(5) /*KILL*/ | bit(6) /*SETGID*/ | bit(7) /*SETUID*/ | bit(8) /*SETPCAP*/ |
    bit(10) /*NET_BIND_SERVICE*/ | bit(13) /*NET_RAW*/ | bit(18) /*SYS_CHROOT*/ |
    bit(27) /*MKNOD*/ | bit(29) /*AUDIT_WRITE*/ | bit(31) /*SETFCAP*/;
constexpr uint64_t kSysBoot = bit(22);
constexpr uint64_t kNetAdmin = bit(12);
static_assert(kConventional14 == 0xa80425fbULL);

// "Name:\tvalue" of /proc/PID/status text.
std::string status_field(const std::string& status, const std::string& name) {
  for (const auto& line : split_lines(status))
    if (line.rfind(name + ":", 0) == 0) return trim(line.substr(name.size() + 1));
  return "";
}

uint64_t cap_field(const std::string& status, const std::string& name) {
  std::string v = status_field(status, name);
  return v.empty() ? ~uint64_t(0) : std::stoull(v, nullptr, 16);
}

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

// st_dev:st_ino of a host path, as sec_helper prints them.
std::string dev_ino(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "none";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

std::string host_pidns_inode() {
  struct stat st;
  if (::stat("/proc/self/ns/pid", &st) != 0) return "";
  return std::to_string(st.st_ino);
}

std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// Host mount points at or below `dir`.
std::vector<std::string> host_mounts_below(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& line : mountinfo_lines()) {
    auto w = split_words(line);
    if (w.size() > 4 && (w[4] == dir || w[4].rfind(dir + "/", 0) == 0)) out.push_back(line);
  }
  return out;
}

std::vector<std::string> dir_entries(const std::string& dir) {
  CmdResult r = run_command({"/bin/ls", "-A", dir});
  auto v = split_lines(r.out);
  std::sort(v.begin(), v.end());
  return v;
}

class SecurityTest : public MultTest {
 protected:
  // The init's host PID of a running instance (inspect: runtime.pid).
  pid_t init_pid(const std::string& name) {
    CmdResult r = mult({"inspect", name});
    EXPECT_EQ(r.status, 0) << r.describe();
    try {
      return Json::parse(r.out).at("runtime").at("pid").get<pid_t>();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "inspect " << name << ": " << e.what() << "\n" << r.describe();
    }
    return -1;
  }

  // /proc/self/status of a default-ish instance's command run with `opts`.
  CmdResult status_with(const Argv& opts) {
    Argv args = {"run", "--name", unique("caps")};
    args.insert(args.end(), opts.begin(), opts.end());
    args.insert(args.end(), {"--", "cat", "/proc/self/status"});
    return mult(args);
  }

  // A user namespace's root (an unprivileged host ID) must reach the image
  // and the runtime dirs below the state root: mkdtemp made it 0700.
  void open_state_root() { ASSERT_EQ(::chmod(root().c_str(), 0711), 0); }
};

using SecurityCapabilities = SecurityTest;
using SecuritySeccomp = SecurityTest;
using SecurityUserns = SecurityTest;
using SecurityRootless = SecurityTest;
using SecurityEscape = SecurityTest;
using SecurityReboot = SecurityTest;

// ---- capabilities ------------------------------------------------------------

TEST_F(SecurityCapabilities, SetsInsideAreWhatWasAsked) {
  struct Case {
    Argv opts;
    uint64_t caps;  // effective, permitted and bounding
    const char* what;
  };
  const Case cases[] = {
      // The conventional 14, plus CAP_SYS_BOOT since 4a2783f (reboot(2)
      // restarts the instance; kexec stays denied by the default profile).
      {{}, kConventional14 | kSysBoot, "default"},
      // Without the default profile, nothing keeps kexec out but the
      // capability: exactly the conventional 14.
      {{"--seccomp", "unconfined"}, kConventional14, "--seccomp unconfined"},
      {{"--cap-drop", "SYS_BOOT"}, kConventional14, "--cap-drop SYS_BOOT"},
      {{"--cap-drop", "ALL"}, 0, "--cap-drop ALL"},
      {{"--cap-drop", "ALL", "--cap-add", "NET_ADMIN"}, kNetAdmin, "--cap-drop ALL --cap-add NET_ADMIN"},
  };
  for (const auto& c : cases) {
    CmdResult r = status_with(c.opts);
    ASSERT_EQ(r.status, 0) << c.what << "\n" << r.describe();
    for (const char* set : {"CapEff", "CapPrm", "CapBnd"})
      EXPECT_EQ(hex(cap_field(r.out, set)), hex(c.caps)) << c.what << ": " << set << "\n" << r.out;
    for (const char* set : {"CapInh", "CapAmb"})
      EXPECT_EQ(hex(cap_field(r.out, set)), hex(0)) << c.what << ": " << set << "\n" << r.out;
    EXPECT_EQ(status_field(r.out, "NoNewPrivs"), "1") << c.what;
  }

  // An unknown capability is a usage error, and nothing is made.
  auto before = state_entries(root());
  std::string foo = unique("foo");
  CmdResult r = mult({"run", "--name", foo, "--cap-add", "FOO", "--", "true"});
  EXPECT_EQ(r.status, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "FOO")) << r.describe();
  EXPECT_FALSE(listed(foo));
  EXPECT_EQ(state_entries(root()), before);

  // no_new_privs: on by default, off when asked.
  r = status_with({"--allow-new-privs"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(status_field(r.out, "NoNewPrivs"), "0") << r.out;

  // A process exec'd into the instance gets the same sets.
  std::string name = unique("capexec");
  r = mult({"run", "-d", "--name", name, "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"exec", name, "--", "cat", "/proc/self/status"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(hex(cap_field(r.out, "CapEff")), hex(kConventional14 | kSysBoot)) << r.out;
  EXPECT_EQ(hex(cap_field(r.out, "CapBnd")), hex(kConventional14 | kSysBoot)) << r.out;
  EXPECT_EQ(status_field(r.out, "NoNewPrivs"), "1") << r.out;
  EXPECT_EQ(status_field(r.out, "Seccomp"), "2") << r.out;
}

// ---- seccomp -----------------------------------------------------------------

TEST_F(SecuritySeccomp, DefaultProfileDeniesWithEpermAndAllowsTheRest) {
  CmdResult r = mult({"run", "--name", unique("sc"), "--bind", helper_bind(), "--", "/bin/sh", "-c",
                      "echo seccomp=$(grep '^Seccomp:' /proc/self/status | tr -dc 0-9); "
                      "mount -t tmpfs x /tmp; echo mount=$?; "
                      "unshare -n true; echo unshare=$?; "
                      "sec_helper mount; "
                      "mkdir /tmp/ok && rmdir /tmp/ok; echo allowed=$?; "
                      "echo hostname=$(hostname)"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "seccomp"), "2") << r.describe();
  EXPECT_NE(field(r.out, "mount").value_or("0"), "0") << r.describe();
  EXPECT_NE(field(r.out, "unshare").value_or("0"), "0") << r.describe();
  EXPECT_TRUE(contains(r.err, "unshare(0x40000000): Operation not permitted")) << r.describe();
  // The calls themselves: EPERM, from the filter (the capability check
  // would say EPERM too; clone3 is the filter's ENOSYS).
  for (const char* call : {"mount_tmpfs", "fsopen", "open_tree", "unshare_user", "unshare_mount",
                           "clone_newuser", "setns_mnt"})
    EXPECT_EQ(field(r.out, call), "EPERM") << call << "\n" << r.describe();
  EXPECT_EQ(field(r.out, "allowed"), "0") << r.describe();
  EXPECT_FALSE(field(r.out, "hostname").value_or("").empty()) << r.describe();

  r = mult({"run", "--name", unique("unconf"), "--seccomp", "unconfined", "--", "/bin/sh", "-c",
            "echo seccomp=$(grep '^Seccomp:' /proc/self/status | tr -dc 0-9)"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "seccomp"), "0") << r.describe();
}

TEST_F(SecuritySeccomp, CustomProfileIsHonoured) {
  std::string profile = root() + "/no-mkdir.json";
  write_text(profile, R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})");
  CmdResult r = mult({"run", "--name", unique("custom"), "--seccomp", profile, "--", "/bin/sh", "-c",
                      "echo seccomp=$(grep '^Seccomp:' /proc/self/status | tr -dc 0-9); "
                      "mkdir /tmp/d; echo mkdir=$?; "
                      "touch /tmp/f && rm /tmp/f; echo touch=$?; "
                      "echo ls=$(ls / | grep -c bin)"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "seccomp"), "2") << r.describe();
  EXPECT_NE(field(r.out, "mkdir").value_or("0"), "0") << r.describe();
  EXPECT_TRUE(contains(r.err, "Operation not permitted")) << "mkdir's errno is EPERM\n" << r.describe();
  EXPECT_EQ(field(r.out, "touch"), "0") << r.describe();
  EXPECT_NE(field(r.out, "ls").value_or("0"), "0") << r.describe();
}

TEST_F(SecuritySeccomp, MalformedProfileNamesThePathAndLeavesNothing) {
  struct Bad {
    const char* json;
    const char* names;  // what the error must say
  };
  const Bad bad[] = {
      {R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_BOGUS"}]})",
       "linux.seccomp.syscalls[0].action"},
      {R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":"mkdir","action":"SCMP_ACT_ERRNO"}]})",
       "linux.seccomp.syscalls[0].names"},
      {R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO",)"
       R"("args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]})",
       "linux.seccomp.syscalls[0].args[0].index"},
      {R"({"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_BOGUS"]})",
       "linux.seccomp.architectures[0]"},
      {R"({"defaultAction": 5})", "linux.seccomp.defaultAction"},
      {R"({"defaultAction":"SCMP_ACT_ALLOW",)", "invalid JSON"},
  };
  auto before = state_entries(root());
  auto mounts_before = host_mounts_below(root());
  for (const auto& b : bad) {
    std::string file = root() + "/bad-" + random_hex(4) + ".json";
    write_text(file, b.json);
    for (const char* verb : {"run", "create"}) {
      std::string name = unique("bad");
      Argv args = std::string(verb) == "run" ? Argv{"run", "--name", name} : Argv{"create", name};
      args.insert(args.end(), {"--seccomp", file, "--", "true"});
      CmdResult r = mult(args);
      EXPECT_NE(r.status, 0) << r.describe();
      EXPECT_TRUE(contains(r.err, b.names)) << "the error names " << b.names << "\n" << r.describe();
      EXPECT_FALSE(listed(name)) << r.describe();
      EXPECT_TRUE(cgroup_dirs_of(name).empty()) << name;
    }
    ::unlink(file.c_str());
  }
  EXPECT_EQ(state_entries(root()), before) << "left behind by refused profiles";
  EXPECT_EQ(host_mounts_below(root()), mounts_before);
}

// The spec names the default profile instead of listing it; inspect shows
// the rules in force, made for the instance's capabilities.
TEST_F(SecuritySeccomp, SpecNamesTheDefaultProfileAndInspectShowsIt) {
  auto inspect = [&](const Argv& opts) {
    std::string name = unique("named");
    Argv args = {"create", name};
    args.insert(args.end(), opts.begin(), opts.end());
    args.insert(args.end(), {"--", "true"});
    CmdResult r = mult(args);
    EXPECT_EQ(r.status, 0) << r.describe();
    r = mult({"inspect", name});
    EXPECT_EQ(r.status, 0) << r.describe();
    return Json::parse(r.out);
  };
  auto denied = [](const Json& profile) {
    std::set<std::string> names;
    for (const Json& rule : profile["syscalls"])
      for (const Json& n : rule["names"]) names.insert(n.get<std::string>());
    return names;
  };
  Json j = inspect({});
  EXPECT_EQ(j["spec"]["annotations"]["org.mult.seccomp"], "default") << j.dump(1);
  EXPECT_FALSE(j["spec"]["linux"].contains("seccomp")) << j.dump(1);
  EXPECT_EQ(j["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW") << j.dump(1);
  EXPECT_TRUE(denied(j["seccomp"]).count("mount")) << j.dump(1);
  EXPECT_LT(j["spec"].dump().size(), 4096u) << "the spec stays small";

  j = inspect({"--cap-add", "SYS_ADMIN"});
  EXPECT_FALSE(denied(j["seccomp"]).count("mount")) << j.dump(1);
  EXPECT_TRUE(denied(j["seccomp"]).count("keyctl")) << j.dump(1);

  j = inspect({"--seccomp", "unconfined"});
  EXPECT_TRUE(j["seccomp"].is_null()) << j.dump(1);
  EXPECT_FALSE(j["spec"].contains("annotations") &&
               j["spec"]["annotations"].contains("org.mult.seccomp")) << j.dump(1);

  std::string profile = root() + "/no-mkdir.json";
  Json own = {{"defaultAction", "SCMP_ACT_ALLOW"},
              {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}}}}};
  write_text(profile, own.dump());
  j = inspect({"--seccomp", profile});
  EXPECT_EQ(j["seccomp"], own) << j.dump(1);
  EXPECT_EQ(j["spec"]["linux"]["seccomp"], own) << j.dump(1);
}

// ---- user namespaces -------------------------------------------------------------

TEST_F(SecurityUserns, RootInsideIsTheMappedIdOutside) {
  open_state_root();
  std::string name = unique("uns");
  CmdResult r = mult({"run", "-d", "--name", name, "--userns=200000:65536", "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();
  pid_t pid = init_pid(name);
  ASSERT_GT(pid, 0);
  std::string status = read_text("/proc/" + std::to_string(pid) + "/status");
  EXPECT_EQ(split_words(status_field(status, "Uid")), (std::vector<std::string>{"200000", "200000", "200000", "200000"}))
      << status;
  EXPECT_EQ(split_words(status_field(status, "Gid")), (std::vector<std::string>{"200000", "200000", "200000", "200000"}))
      << status;
  EXPECT_EQ(split_words(read_text("/proc/" + std::to_string(pid) + "/uid_map")),
            (std::vector<std::string>{"0", "200000", "65536"}));

  // Inside: root, and the image's files root's (an idmapped mount: the
  // files on the host stay root's, no chown).
  r = mult({"exec", name, "--", "/bin/sh", "-c",
            "echo id=$(id -u):$(id -g); echo ls=$(ls -ln /bin/busybox | awk '{print $3, $4}'); "
            "echo passwd=$(stat -c %u:%g /etc/passwd); echo map=$(cat /proc/self/uid_map)"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "id"), "0:0") << r.describe();
  EXPECT_EQ(field(r.out, "ls"), "0 0") << r.describe();
  EXPECT_EQ(field(r.out, "passwd"), "0:0") << r.describe();
  EXPECT_EQ(split_words(field(r.out, "map").value_or("")), (std::vector<std::string>{"0", "200000", "65536"}));
  struct stat st;
  ASSERT_EQ(::stat((root() + "/images/busybox/rootfs/bin/busybox").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);

  r = mult({"rm", "-f", name});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_FALSE(process_alive(pid));
}

// "0 HOST SIZE" of /proc/PID/{uid,gid}_map.
std::pair<uint64_t, uint64_t> single_range(const std::string& map_text) {
  auto w = split_words(map_text);
  if (w.size() != 3 || w[0] != "0") return {0, 0};
  return {std::stoull(w[1]), std::stoull(w[2])};
}

TEST_F(SecurityUserns, AutoRangesAreDisjointAndReleased) {
  open_state_root();
  std::string a = unique("ua"), b = unique("ub");
  std::map<std::string, std::pair<uint64_t, uint64_t>> uid, gid;
  for (const auto& n : {a, b}) {
    CmdResult r = mult({"run", "-d", "--name", n, "--userns=auto", "--", "sleep", "1000"});
    ASSERT_EQ(r.status, 0) << r.describe();
    pid_t pid = init_pid(n);
    ASSERT_GT(pid, 0);
    uid[n] = single_range(read_text("/proc/" + std::to_string(pid) + "/uid_map"));
    gid[n] = single_range(read_text("/proc/" + std::to_string(pid) + "/gid_map"));
    EXPECT_GT(uid[n].first, 0u) << n << ": root inside must not be root outside";
    EXPECT_EQ(uid[n].second, 65536u) << n;
    EXPECT_EQ(uid[n], gid[n]) << n;
  }
  auto [a0, an] = uid[a];
  auto [b0, bn] = uid[b];
  EXPECT_TRUE(a0 + an <= b0 || b0 + bn <= a0)
      << "overlapping ranges: " << a0 << "+" << an << " and " << b0 << "+" << bn;
  std::string leases = root() + "/userns.leases.json";
  EXPECT_TRUE(contains(read_text(leases), a) && contains(read_text(leases), b)) << read_text(leases);

  for (const auto& n : {a, b}) {
    CmdResult r = mult({"rm", "-f", n});
    EXPECT_EQ(r.status, 0) << r.describe();
  }
  std::string left = trim(read_text(leases));
  EXPECT_TRUE(left.empty() || left == "{}") << "leases kept after rm: " << left;
}

// ---- rootless ----------------------------------------------------------------------

TEST_F(SecurityRootless, WorksEndToEndAsAnUnprivilegedUser) {
  if (!path_exists("/usr/bin/setpriv")) GTEST_SKIP() << "no setpriv";
  open_state_root();
  const uid_t nobody = 65534;
  std::string base = root() + "/rootless";
  std::string home = base + "/home", state = base + "/state";
  for (const auto& d : {base, home, state}) {
    ASSERT_EQ(::mkdir(d.c_str(), 0755), 0) << d;
    ASSERT_EQ(::chown(d.c_str(), nobody, nobody), 0) << d;
  }
  auto as_nobody = [&](const Argv& args, double timeout = 30) {
    Argv argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 "/usr/bin/env", "HOME=" + home, "USER=nobody", MULT_BIN, "--root", state};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, timeout);
  };
  auto mounts_before = host_mounts_below(root());

  CmdResult r = as_nobody({"run", "--", "id"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "uid=0(root)")) << r.describe();

  r = as_nobody({"run", "--", "/bin/sh", "-c",
                 "echo map=$(cat /proc/self/uid_map); "
                 "echo nnp=$(grep NoNewPrivs /proc/self/status | tr -dc 0-9); "
                 "echo seccomp=$(grep '^Seccomp:' /proc/self/status | tr -dc 0-9); exit 7"});
  EXPECT_EQ(r.status, 7) << "the exit status propagates\n" << r.describe();
  EXPECT_EQ(split_words(field(r.out, "map").value_or("")), (std::vector<std::string>{"0", "65534", "1"}))
      << r.describe();
  EXPECT_EQ(field(r.out, "nnp"), "1") << r.describe();
  EXPECT_EQ(field(r.out, "seccomp"), "2") << r.describe();

  // Again and again: the ID maps used to lose a race with the child's
  // PR_SET_DUMPABLE now and then ("write uid_map: Permission denied").
  for (int i = 0; i < 8; ++i) {
    r = as_nobody({"run", "--", "true"});
    ASSERT_EQ(r.status, 0) << "run " << i << "\n" << r.describe();
  }

  // Nothing left: no instance, no state but the image and the filter cache,
  // no mount, and (no delegation) no cgroup.
  r = as_nobody({"ls", "--format", "json"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(Json::parse(r.out), Json::array()) << r.describe();
  EXPECT_EQ(state_entries(state), std::vector<std::string>{}) << "left in the rootless state root";
  EXPECT_EQ(host_mounts_below(root()), mounts_before);
  // Whatever is there belongs to the user, not root.
  CmdResult owners = run_command({"/usr/bin/find", state, "-not", "-user", "65534"});
  EXPECT_EQ(trim(owners.out), "") << owners.describe();
}

// ---- the escape battery ----------------------------------------------------------------

TEST_F(SecurityEscape, NoFileSystemCanBeMountedOrRemounted) {
  auto mounts_before = host_mounts_below(root());
  CmdResult r = mult({"run", "--name", unique("mnt"), "--bind", helper_bind(), "--", "/bin/sh", "-c",
                      "mount -t tmpfs x /tmp; echo tmpfs=$?; "
                      "mount -t proc proc /mnt; echo proc=$?; "
                      "mkdir -p /tmp/old; pivot_root /tmp /tmp/old; echo pivot=$?; "
                      "sec_helper mount"});
  ASSERT_EQ(r.status, 0) << r.describe();
  for (const char* k : {"tmpfs", "proc", "pivot"})
    EXPECT_NE(field(r.out, k).value_or("0"), "0") << k << "\n" << r.describe();
  for (const char* call : {"mount_tmpfs", "mount_proc", "remount_root_rw", "bind_root", "umount_proc_keys",
                           "umount_sys", "fsopen", "fspick", "open_tree", "mount_setattr", "pivot_root"})
    EXPECT_EQ(field(r.out, call), "EPERM") << call << "\n" << r.describe();

  // --read-only: / stays read-only, whatever the instance tries.
  std::string probe = "probe-" + random_hex(4);
  r = mult({"run", "--name", unique("ro"), "--read-only", "--bind", helper_bind(), "--", "/bin/sh", "-c",
            "mount -o remount,rw /; echo remount=$?; "
            "touch /" + probe + "; echo touch=$?; "
            "sec_helper mount | grep -E '^(remount_root_rw|mount_setattr)='; "
            "echo rootopts=$(awk '$5 == \"/\" {print $6}' /proc/self/mountinfo)"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_NE(field(r.out, "remount").value_or("0"), "0") << r.describe();
  EXPECT_NE(field(r.out, "touch").value_or("0"), "0") << r.describe();
  EXPECT_TRUE(contains(r.err, "Read-only file system")) << r.describe();
  EXPECT_EQ(field(r.out, "remount_root_rw"), "EPERM") << r.describe();
  EXPECT_EQ(field(r.out, "mount_setattr"), "EPERM") << r.describe();
  EXPECT_TRUE(contains("," + field(r.out, "rootopts").value_or("") + ",", ",ro,")) << r.describe();
  EXPECT_FALSE(path_exists(root() + "/images/busybox/rootfs/" + probe));
  EXPECT_EQ(host_mounts_below(root()), mounts_before);
}

TEST_F(SecurityEscape, NoPathLeadsToTheHostRoot) {
  // A marker on the host, outside the rootfs, with content found nowhere else.
  std::string secret = "secret-" + random_hex(16);
  std::string marker = root() + "/marker-" + random_hex(4);
  write_text(marker, secret + "\n");
  std::string script =
      "echo root=$(stat -c %d:%i /); "
      "sec_helper chroot-escape " + marker + "; "
      "cd /; cd ../../..; echo pwd=$(pwd); "
      "for p in /proc/1/root /proc/self/root /proc/1/cwd /proc/self/cwd; do "
      "  cat $p" + marker + " 2>/dev/null && echo LEAK $p; "
      "  cat $p/../../../../.." + marker + " 2>/dev/null && echo LEAK $p/..; "
      "done; "
      "ls /proc/1/root/ >/dev/null 2>&1; echo p1root=$?; "
      "ls /proc/1/cwd/ >/dev/null 2>&1; echo p1cwd=$?; "
      "echo selfroot=$(stat -L -c %d:%i /proc/self/root/); "
      "sec_helper fds " + marker;
  CmdResult r = mult({"run", "--name", unique("root"), "--bind", helper_bind(), "--", "/bin/sh", "-c", script});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_FALSE(contains(r.out, "LEAK")) << r.describe();
  EXPECT_FALSE(contains(r.out, secret)) << r.describe();
  // chroot then ".." over and over, then chroot("."): still the instance's root.
  auto root_id = field(r.out, "root");
  ASSERT_TRUE(root_id) << r.describe();
  EXPECT_EQ(field(r.out, "chroot_jail"), "ok") << "CAP_SYS_CHROOT is in the default set\n" << r.describe();
  EXPECT_EQ(field(r.out, "root_after"), root_id) << r.describe();
  EXPECT_EQ(field(r.out, "os"), "mult-busybox") << r.describe();
  EXPECT_NE(field(r.out, "open_marker").value_or("ok"), "ok") << r.describe();
  EXPECT_EQ(field(r.out, "pwd"), "/") << r.describe();
  // PID 1 is not dumpable: its root and cwd cannot even be looked at.
  EXPECT_NE(field(r.out, "p1root").value_or("0"), "0") << r.describe();
  EXPECT_NE(field(r.out, "p1cwd").value_or("0"), "0") << r.describe();
  EXPECT_EQ(field(r.out, "selfroot"), root_id) << r.describe();
  // No fd leads anywhere: only stdio, none a directory of the host.
  EXPECT_EQ(field(r.out, "escapes"), "0") << r.describe();
  EXPECT_EQ(field(r.out, "fds_seen"), "3") << r.describe();
}

TEST_F(SecurityEscape, KernelAndDevicesAreOutOfReach) {
  struct stat host_root;
  ASSERT_EQ(::stat("/", &host_root), 0);
  std::string maj = std::to_string(major(host_root.st_dev)), min = std::to_string(minor(host_root.st_dev));
  const std::string name_before = host_name();
  bool host_kcore = path_exists("/proc/kcore");
  std::string script =
      // The host's root disk, as a block device node in each writable place.
      "for d in /tmp /dev /dev/shm; do echo \"== $d\"; sec_helper mknod " + maj + " " + min +
      " $d/rootdisk; done; "
      "echo rootopts=$(awk '$5 == \"/\" {print $6}' /proc/self/mountinfo); "
      "echo devopts=$(awk '$5 == \"/dev\" {print $6}' /proc/self/mountinfo); "
      "echo h > /proc/sysrq-trigger; echo sysrq=$?; "
      "echo evil > /proc/sys/kernel/hostname; echo hostname_write=$?; echo hostname=$(hostname); "
      "printf 'not a module' > /tmp/x.ko; insmod /tmp/x.ko; echo insmod=$?; "
      "sec_helper module; sec_helper kexec; sec_helper keys; "
      "echo kcore=$(test -e /proc/kcore && head -c 16 /proc/kcore | wc -c || echo absent); "
      "echo keys=$(wc -c < /proc/keys); "
      "echo timer_list=$(wc -c < /proc/timer_list); "
      "touch /sys/x; echo sys=$?; "
      "echo 1 > /sys/kernel/uevent_helper; echo uevent=$?";
  std::string name = unique("kern");
  CmdResult r = mult({"run", "--name", name, "--bind", helper_bind(), "--", "/bin/sh", "-c", script});
  ASSERT_EQ(r.status, 0) << r.describe();

  // mknod may work (CAP_MKNOD), opening the node must not: / and /dev are
  // nodev. The device allow list refuses the mknod itself (EPERM): then
  // there is no node to open (ENOENT).
  std::string section;
  int opens = 0;
  bool made = true;
  for (const auto& line : split_lines(r.out)) {
    if (line.rfind("== ", 0) == 0) section = line;
    if (line.rfind("mknod=", 0) == 0) made = line != "mknod=EPERM";
    if (line.rfind("open_block=", 0) == 0) {
      ++opens;
      std::string v = line.substr(11);
      EXPECT_TRUE(v == "EACCES" || v == "EPERM" || (!made && v == "ENOENT"))
          << section << ": " << line << "\n" << r.describe();
    }
    EXPECT_FALSE(line.rfind("read_", 0) == 0) << section << ": read the host's disk\n" << r.describe();
  }
  EXPECT_EQ(opens, 3) << r.describe();
  // The first layer: / and /dev are nodev (EACCES). The devices cgroup
  // (EPERM) stands behind it where the host has one.
  for (const char* k : {"rootopts", "devopts"})
    EXPECT_TRUE(contains("," + field(r.out, k).value_or("") + ",", ",nodev,")) << k << "\n" << r.describe();

  EXPECT_NE(field(r.out, "sysrq").value_or("0"), "0") << r.describe();
  // Read-only: the write fails and the name stays the instance's.
  EXPECT_NE(field(r.out, "hostname_write").value_or("0"), "0") << r.describe();
  EXPECT_EQ(field(r.out, "hostname"), name) << r.describe();
  EXPECT_EQ(host_name(), name_before) << "the host's name changed";

  EXPECT_NE(field(r.out, "insmod").value_or("0"), "0") << r.describe();
  for (const char* call : {"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
                           "add_key", "keyctl_get_keyring_id", "keyctl_join_session", "request_key"})
    EXPECT_EQ(field(r.out, call), "EPERM") << call << "\n" << r.describe();

  // Masked: /dev/null over them (empty), or absent when the host has none.
  EXPECT_EQ(field(r.out, "kcore"), host_kcore ? "0" : "absent") << r.describe();
  EXPECT_EQ(field(r.out, "keys"), "0") << r.describe();
  EXPECT_EQ(field(r.out, "timer_list"), "0") << r.describe();
  EXPECT_NE(field(r.out, "sys").value_or("0"), "0") << r.describe();
  EXPECT_NE(field(r.out, "uevent").value_or("0"), "0") << r.describe();
  EXPECT_FALSE(path_exists("/sys/x"));
}

TEST_F(SecurityEscape, Pid1AndHostBinariesCannotBeReached) {
  std::string name = unique("pt");
  CmdResult r = mult({"run", "-d", "--name", name, "--bind", helper_bind(), "--", "sleep", "1000"});
  ASSERT_EQ(r.status, 0) << r.describe();

  // PID 1 (mult-init) is not dumpable.
  r = mult({"exec", name, "--", "/bin/sh", "-c",
            "cat /proc/1/environ >/dev/null; echo environ=$?; "
            "head -c 1 /proc/1/mem >/dev/null; echo mem=$?; "
            "readlink /proc/1/exe; echo exe=$?; "
            "ls -l /proc/1/exe; "
            "sec_helper ptrace 1"});
  ASSERT_EQ(r.status, 0) << r.describe();
  for (const char* k : {"environ", "mem", "exe"})
    EXPECT_NE(field(r.out, k).value_or("0"), "0") << k << "\n" << r.describe();
  EXPECT_TRUE(contains(r.err, "/proc/1/exe: cannot read link: Permission denied")) << r.describe();
  EXPECT_EQ(field(r.out, "ptrace_attach"), "EPERM") << r.describe();
  EXPECT_EQ(field(r.out, "ptrace_seize"), "EPERM") << r.describe();
  EXPECT_NE(field(r.out, "open_mem").value_or("ok"), "ok") << r.describe();

  // Another exec'd process: after its exec it is the instance's busybox,
  // never the host's mult.
  HostProcess& other = spawn({MULT_BIN, "--root", root(), "exec", name, "--", "/bin/sh", "-c",
                              "echo $$ > /tmp/other.pid; exec sleep 999"});
  std::string other_pid;
  ASSERT_TRUE(wait_until([&] {
    CmdResult c = mult({"exec", name, "--", "cat", "/tmp/other.pid"});
    other_pid = trim(c.out);
    return c.status == 0 && !other_pid.empty();
  }, 10)) << "the second exec did not start";
  ASSERT_TRUE(other.running());
  r = mult({"exec", name, "--", "/bin/sh", "-c", "echo other=$(readlink /proc/" + other_pid + "/exe)"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "other"), "/bin/busybox") << r.describe();

  // Race every exec: a watcher inside looks at each /proc/PID/exe while
  // mult enters again and again. Before its exec the entering process is
  // mult itself, non-dumpable: denied, never the host's binary (nor mult-init).
  std::string mult_id = dev_ino(MULT_BIN);
  std::string init_id = dev_ino(std::string(MULT_BIN) + "-init");
  CmdResult watch;
  std::thread watcher([&] {
    watch = run_command({MULT_BIN, "--root", root(), "exec", name, "--", "sec_helper", "watch-exe", "2.5",
                         mult_id, init_id}, 20);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int execs = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1800) && execs < 25) {
    CmdResult e = mult({"exec", name, "--", "true"});
    EXPECT_EQ(e.status, 0) << e.describe();
    ++execs;
  }
  watcher.join();
  ASSERT_EQ(watch.status, 0) << watch.describe();
  EXPECT_EQ(field(watch.out, "hits"), "0") << watch.describe();
  EXPECT_FALSE(contains(watch.out, "open_exe_write=ok")) << watch.describe();
  for (const auto& line : split_lines(watch.out)) {
    if (line.rfind("exe ", 0) == 0) {
      EXPECT_TRUE(line == "exe /bin/busybox" || line == "exe /bin/sec_helper") << line << "\n" << watch.describe();
    }
  }
  std::cout << "[ exe race ] " << execs << " execs watched; " << field(watch.out, "scans").value_or("?")
            << " scans of /proc, " << field(watch.out, "denied_other").value_or("?")
            << " looks at a not-yet-exec'd process denied, "
            << field(watch.out, "readable").value_or("?") << " readable (all the instance's own)\n";

  // An exec'd process gets stdio and nothing else of the host.
  std::string marker = root() + "/marker-" + random_hex(4);
  write_text(marker, "x\n");
  r = mult({"exec", name, "--", "sec_helper", "fds", marker});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "escapes"), "0") << r.describe();
  EXPECT_EQ(field(r.out, "fds_seen"), "3") << r.describe();
}

TEST_F(SecurityEscape, HostProcessesAreInvisibleAndCannotBeSignalled) {
  HostProcess& sleeper = spawn({"/bin/sleep", "31415"});
  ASSERT_GT(sleeper.pid(), 0);
  std::string pid = std::to_string(sleeper.pid());
  ASSERT_TRUE(wait_until([&] { return contains(read_text("/proc/" + pid + "/cmdline"), "31415"); }, 5));
  CmdResult r = mult({"run", "--name", unique("sig"), "--", "/bin/sh", "-c",
                      "ps -o pid,args; echo pids=$(ls -d /proc/[0-9]* | tr -dc '0-9 \\n' | tr '\\n' ' '); "
                      "kill -9 " + pid + "; echo kill=$?; kill -0 " + pid + "; echo probe=$?"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_FALSE(contains(r.out, "31415")) << "the host's sleep is visible\n" << r.describe();
  auto pids = split_words(field(r.out, "pids").value_or(""));
  EXPECT_FALSE(pids.empty()) << r.describe();
  EXPECT_LE(pids.size(), 6u) << r.describe();
  for (const auto& p : pids) EXPECT_LE(std::stol(p), 20) << r.describe();
  EXPECT_NE(field(r.out, "kill").value_or("0"), "0") << r.describe();
  EXPECT_NE(field(r.out, "probe").value_or("0"), "0") << r.describe();
  EXPECT_TRUE(sleeper.running()) << "the host's sleep was killed";
  EXPECT_TRUE(process_alive(sleeper.pid()));
}

TEST_F(SecurityEscape, SymlinkInTheRootfsCannotRedirectAMountToTheHost) {
  CmdResult r = mult({"run", "--name", unique("img"), "--", "true"});  // makes the image
  ASSERT_EQ(r.status, 0) << r.describe();
  std::string copy = root() + "/rootfs-copy";
  r = run_command({"/bin/cp", "-a", root() + "/images/busybox/rootfs", copy});
  ASSERT_EQ(r.status, 0) << r.describe();

  // Host dirs the symlinks point at: a parent of a bind target (mnt -> A,
  // target /mnt/x), a bind target itself (lnk -> B) and a tmpfs target (tmp2 -> C).
  std::map<std::string, std::string> host_dirs = {
      {"mnt", root() + "/hostdir-a"}, {"lnk", root() + "/hostdir-b"}, {"tmp2", root() + "/hostdir-c"}};
  for (const auto& [link, dir] : host_dirs) {
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
    write_text(dir + "/keep", "keep\n");
    std::string at = copy + "/" + link;
    run_command({"/bin/rm", "-rf", at});
    ASSERT_EQ(::symlink(dir.c_str(), at.c_str()), 0) << at;
  }
  auto mounts_before = host_mounts_below(root());
  auto host_untouched = [&](const char* when) {
    for (const auto& [link, dir] : host_dirs) {
      EXPECT_EQ(dir_entries(dir), std::vector<std::string>{"keep"}) << when << ": " << dir;
      EXPECT_EQ(read_text(dir + "/keep"), "keep\n") << when << ": " << dir;
    }
    EXPECT_EQ(host_mounts_below(root()), mounts_before) << when << ": a mount reached the host";
    for (const auto& line : mountinfo_lines()) EXPECT_FALSE(contains(line, "hostdir-")) << when << ": " << line;
  };
  const Argv opts = {"--rootfs", copy, "--bind", "/etc:/mnt/x", "--bind", "/etc:/lnk", "--tmpfs", "/tmp2"};

  // 1. The links dangle inside the rootfs (their targets are host paths):
  //    resolved in the root they lead nowhere. mult may refuse the instance
  //    (it does: "mount target: No such file or directory") or make the
  //    targets inside; never mount on the host.
  std::string name = unique("sym");
  Argv args = {"run", "-d", "--name", name};
  args.insert(args.end(), opts.begin(), opts.end());
  args.insert(args.end(), {"--", "sleep", "1000"});
  r = mult(args);
  std::cout << "[ symlink ] dangling in the rootfs: status " << r.status << ", " << trim(r.err) << "\n";
  host_untouched("dangling");
  if (r.status == 0) {
    EXPECT_EQ(mult({"rm", "-f", name}).status, 0);
  } else {
    EXPECT_TRUE(contains(r.err, "mount target")) << r.describe();
    EXPECT_FALSE(listed(name));
  }

  // 2. The same paths exist inside the rootfs: the mounts land there.
  for (const auto& [link, dir] : host_dirs) {
    r = run_command({"/bin/mkdir", "-p", copy + dir});
    ASSERT_EQ(r.status, 0) << r.describe();
  }
  name = unique("sym");
  args = {"run", "-d", "--name", name};
  args.insert(args.end(), opts.begin(), opts.end());
  args.insert(args.end(), {"--", "sleep", "1000"});
  r = mult(args);
  ASSERT_EQ(r.status, 0) << r.describe();
  host_untouched("running");
  r = mult({"exec", name, "--", "/bin/sh", "-c",
            "test -f /mnt/x/passwd; echo x=$?; test -f /lnk/passwd; echo lnk=$?; "
            "echo tmp2=$(stat -f -c %T /tmp2/); "
            "echo keep=$(ls /mnt /lnk /tmp2 2>/dev/null | grep -c keep)"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "x"), "0") << r.describe();
  EXPECT_EQ(field(r.out, "lnk"), "0") << r.describe();
  EXPECT_EQ(field(r.out, "tmp2"), "tmpfs") << r.describe();
  EXPECT_EQ(field(r.out, "keep"), "0") << "a host dir shows through\n" << r.describe();
  EXPECT_TRUE(path_exists(copy + root() + "/hostdir-a/x")) << "the target is made inside the rootfs copy";

  r = mult({"rm", "-f", name});
  EXPECT_EQ(r.status, 0) << r.describe();
  host_untouched("removed");
}

// ---- reboot(2) ------------------------------------------------------------------------

TEST_F(SecurityReboot, EndsThatInstanceAlone) {
  const std::string host_ns = host_pidns_inode();
  ASSERT_FALSE(host_ns.empty());
  HostProcess& sleeper = spawn({"/bin/sleep", "27182"});
  ASSERT_GT(sleeper.pid(), 0);

  // An invalid command tells permitted (EINVAL) from denied (EPERM) and
  // does nothing either way.
  CmdResult r = mult({"run", "--name", unique("probe"), "--bind", helper_bind(), "--", "sec_helper", "reboot-probe"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "reboot_probe"), "EINVAL") << "CAP_SYS_BOOT by default\n" << r.describe();
  r = mult({"run", "--name", unique("probe"), "--seccomp", "unconfined", "--bind", helper_bind(), "--",
            "sec_helper", "reboot-probe"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(field(r.out, "reboot_probe"), "EPERM") << "no CAP_SYS_BOOT without the profile\n" << r.describe();

  // A and B run; A reboots (from a process exec'd into it).
  std::string a = unique("ra"), b = unique("rb");
  for (const auto& n : {a, b}) {
    r = mult({"run", "-d", "--name", n, "--bind", helper_bind(), "--", "sleep", "1000"});
    ASSERT_EQ(r.status, 0) << r.describe();
  }
  pid_t a_init = init_pid(a), b_init = init_pid(b);
  ASSERT_GT(a_init, 0);
  ASSERT_GT(b_init, 0);
  struct stat ns;
  ASSERT_EQ(::stat(("/proc/" + std::to_string(a_init) + "/ns/pid").c_str(), &ns), 0);
  ASSERT_NE(std::to_string(ns.st_ino), host_ns) << "A shares the host's PID namespace: not rebooting";
  r = mult({"exec", a, "--", "sec_helper", "reboot", host_ns}, 20);
  EXPECT_FALSE(r.timed_out) << r.describe();
  std::cout << "[ reboot ] mult exec into the rebooting instance -> status " << r.status << "\n";
  EXPECT_TRUE(wait_until([&] { return !process_alive(a_init); }, 10)) << "A's init outlived its reboot";
  EXPECT_TRUE(wait_until([&] {
    auto l = listed(a);
    return !l || l->value("state", "") != "running";
  }, 10)) << "A still listed as running";
  // B and the host go on.
  EXPECT_TRUE(process_alive(b_init));
  r = mult({"exec", b, "--", "true"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_TRUE(sleeper.running());

  // A foreground run: mult restarts it (the engine's choice) and reports
  // so; a flag on the host makes the second boot the last.
  std::string flag_dir = root() + "/flag";
  ASSERT_EQ(::mkdir(flag_dir.c_str(), 0755), 0);
  r = mult({"run", "--name", unique("fg"), "--bind", helper_bind(), "--bind", flag_dir + ":/flag", "--",
            "/bin/sh", "-c",
            "if [ -e /flag/once ]; then echo boot=2; exit 3; fi; touch /flag/once; echo boot=1; "
            "sec_helper reboot " + host_ns + "; echo survived=$?"},
           20);
  EXPECT_FALSE(r.timed_out) << r.describe();
  EXPECT_TRUE(contains(r.out, "boot=1")) << r.describe();
  // The helper never comes back from reboot(2) (its "reboot=" line);
  // the shell may or may not run another line before the teardown kills it.
  EXPECT_FALSE(contains(r.out, "reboot=")) << "reboot(2) returned\n" << r.describe();
  std::cout << "[ reboot ] foreground run: status " << r.status << ", stderr: " << trim(r.err) << "\n";
  EXPECT_TRUE(contains(r.err, "rebooted from inside")) << r.describe();
  EXPECT_TRUE(contains(r.out, "boot=2")) << r.describe();
  EXPECT_EQ(r.status, 3) << "the second boot's exit status\n" << r.describe();

  // Power off ends it for good.
  r = mult({"run", "--name", unique("off"), "--bind", helper_bind(), "--", "sec_helper", "reboot", host_ns,
            "poweroff"},
           20);
  EXPECT_FALSE(r.timed_out) << r.describe();
  std::cout << "[ reboot ] power-off: status " << r.status << ", stderr: " << trim(r.err) << "\n";
  EXPECT_TRUE(contains(r.err, "powered off from inside")) << r.describe();
  EXPECT_EQ(r.status, 0) << r.describe();

  EXPECT_TRUE(process_alive(b_init));
  EXPECT_TRUE(sleeper.running());
}

}  // namespace
}  // namespace mult_it
