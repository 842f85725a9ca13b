// mult-oci on its own: the runtime-spec lifecycle (create, start, state,
// kill, delete), hooks, errors, exec, terminals and cgroups, with bundles
// made from the busybox image.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "oci_harness.hh"
#include "process.hh"
#include "tty.hh"

namespace mult_it {
namespace {

using OciLifecycle = OciTest;
using OciHooks = OciTest;
using OciErrors = OciTest;
using OciExec = OciTest;
using OciCgroup = OciTest;
using OciCli = OciTest;

// The cgroup directories of container `id` (its default cgroupsPath
// mult-oci/<id>, in every hierarchy).
std::vector<std::string> cgroups_of(const std::string& id) {
  std::vector<std::string> out;
  for (const auto& d : mult_cgroup_dirs())
    if (d.size() > id.size() && d.compare(d.size() - id.size() - 1, std::string::npos, "/" + id) == 0)
      out.push_back(d);
  return out;
}

TEST_F(OciLifecycle, CreateStartStateKillDelete) {
  std::string id = unique("life");
  std::string b = make_bundle("b", {"sh", "-c", "touch /out/ran; trap 'exit 0' TERM; while :; do sleep 0.1; done"});
  std::string pid_file = root_ + "/pid";

  CmdResult c = oci({"create", "--bundle", b, "--pid-file", pid_file, id});
  ASSERT_EQ(c.status, 0) << c.describe();
  Json st = state(id);
  ASSERT_TRUE(st.is_object()) << oci({"state", id}).describe();
  EXPECT_EQ(st["status"], "created");
  EXPECT_EQ(st["id"], id);
  EXPECT_EQ(st["bundle"], b);
  EXPECT_EQ(st["ociVersion"], "1.2.0");
  EXPECT_TRUE(st.contains("created") && st.contains("owner") && st.contains("rootfs")) << st.dump();
  pid_t pid = st["pid"].get<int>();
  EXPECT_GT(pid, 0);
  EXPECT_EQ(trim(read_text(pid_file)), std::to_string(pid)) << "the pid file holds the host pid";
  EXPECT_TRUE(process_alive(pid));
  EXPECT_FALSE(cgroups_of(id).empty()) << "no cgroup mult-oci/" << id;
  usleep(200 * 1000);
  EXPECT_FALSE(path_exists(b + "/out/ran")) << "the command ran before start";

  CmdResult s = oci({"start", id});
  ASSERT_EQ(s.status, 0) << s.describe();
  EXPECT_TRUE(wait_until([&] { return path_exists(b + "/out/ran"); }, 10)) << "the command did not run";
  EXPECT_EQ(status(id), "running");

  CmdResult again = oci({"start", id});
  EXPECT_NE(again.status, 0) << "start twice: " << again.describe();

  CmdResult del = oci({"delete", id});
  EXPECT_NE(del.status, 0) << "delete of a running container: " << del.describe();
  EXPECT_TRUE(contains(del.err, "running")) << del.describe();
  EXPECT_EQ(status(id), "running") << "a refused delete changed the container";
  EXPECT_TRUE(process_alive(pid));

  CmdResult k = oci({"kill", id, "TERM"});
  ASSERT_EQ(k.status, 0) << k.describe();
  ASSERT_TRUE(wait_status(id, "stopped")) << "state after kill: " << status(id);
  EXPECT_EQ(state(id)["pid"], 0);

  CmdResult k2 = oci({"kill", id, "KILL"});
  EXPECT_NE(k2.status, 0) << "kill of a stopped container: " << k2.describe();
  EXPECT_TRUE(contains(k2.err, "not running")) << k2.describe();

  CmdResult d = oci({"delete", id});
  ASSERT_EQ(d.status, 0) << d.describe();
  CmdResult gone = oci({"state", id});
  EXPECT_EQ(gone.status, 1) << gone.describe();
  EXPECT_TRUE(contains(gone.err, "does not exist")) << gone.describe();
  EXPECT_FALSE(path_exists(oci_root() + "/" + id)) << "state dir left";
  EXPECT_EQ(cgroups_of(id), std::vector<std::string>{}) << "cgroup left";
}

TEST_F(OciLifecycle, StoppedOnItsOwnAndSignalNames) {
  std::string id = unique("exit");
  std::string b = make_bundle("b", {"sh", "-c", "echo $$ > /out/pid; exit 3"});
  ASSERT_EQ(oci({"create", "-b", b, id}).status, 0);
  ASSERT_EQ(oci({"start", id}).status, 0);
  EXPECT_TRUE(wait_status(id, "stopped")) << status(id);
  EXPECT_EQ(trim(read_text(b + "/out/pid")), "1") << "the container's process is its PID 1";
  for (const char* bad : {"NOPE", "SIGNOPE", "0", "99999"}) {
    CmdResult k = oci({"kill", id, bad});
    EXPECT_NE(k.status, 0) << k.describe();
  }
  EXPECT_EQ(oci({"delete", id}).status, 0);
}

TEST_F(OciLifecycle, RunWaitsAndReturnsTheExitStatus) {
  std::string id = unique("run");
  std::string b = make_bundle("b", {"sh", "-c", "echo out; exit 7"});
  CmdResult r = oci({"run", "--bundle", b, id});
  EXPECT_EQ(r.status, 7) << r.describe();
  EXPECT_EQ(trim(r.out), "out");
  EXPECT_NE(oci({"state", id}).status, 0) << "run without --keep deletes the container";
  EXPECT_EQ(cgroups_of(id), std::vector<std::string>{});

  std::string id2 = unique("rund");
  std::string b2 = make_bundle("b2", {"sleep", "100"});
  CmdResult d = oci({"run", "-d", "-b", b2, id2});
  ASSERT_EQ(d.status, 0) << d.describe();
  EXPECT_EQ(status(id2), "running");
  CmdResult f = oci({"delete", "--force", id2});
  EXPECT_EQ(f.status, 0) << f.describe();
  EXPECT_EQ(cgroups_of(id2), std::vector<std::string>{});
}

TEST_F(OciLifecycle, ListAndPs) {
  std::string id = unique("ls");
  std::string b = make_bundle("b", {"sleep", "100"});
  ASSERT_EQ(oci({"run", "-d", "-b", b, id}).status, 0);
  CmdResult l = oci({"list", "--format", "json"});
  ASSERT_EQ(l.status, 0) << l.describe();
  Json all = Json::parse(l.out);
  ASSERT_EQ(all.size(), 1u) << l.out;
  EXPECT_EQ(all[0]["id"], id);
  EXPECT_EQ(all[0]["status"], "running");
  EXPECT_EQ(trim(oci({"ls", "-q"}).out), id);
  CmdResult table = oci({"list"});
  EXPECT_TRUE(contains(table.out, "STATUS") && contains(table.out, id)) << table.out;
  CmdResult ps = oci({"ps", "--format", "json", id});
  ASSERT_EQ(ps.status, 0) << ps.describe();
  Json pids = Json::parse(ps.out);
  ASSERT_EQ(pids.size(), 1u) << ps.out;
  EXPECT_EQ(pids[0], state(id)["pid"]);
  EXPECT_TRUE(contains(oci({"ps", id}).out, "sleep 100"));
}

TEST_F(OciLifecycle, JoinsNamespacesByPathAndHonoursCgroupsPath) {
  std::string a = unique("nsa");
  ASSERT_EQ(oci({"run", "-d", "-b", make_bundle("a", {"sleep", "100"}), a}).status, 0);
  pid_t pa = state(a)["pid"].get<int>();
  auto ns = [](const std::string& p) {
    char buf[128] = {};
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
  };
  // b joins a's network and uts namespaces by path; its cgroup is absolute.
  std::string b = unique("nsb");
  std::string cg = "/mult-oci-abs-" + std::to_string(::getpid()) + "/" + b;
  std::string bb = make_bundle("b", {"sh", "-c", "for n in net uts ipc; do readlink /proc/self/ns/$n; done > /out/ns"},
                               [&](Json& c) {
                                 for (auto& n : c["linux"]["namespaces"])
                                   if (n["type"] == "network" || n["type"] == "uts")
                                     n["path"] = "/proc/" + std::to_string(pa) + "/ns/" + (n["type"] == "network" ? "net" : "uts");
                                 c.erase("hostname");
                                 c["linux"]["cgroupsPath"] = cg;
                               });
  ASSERT_EQ(oci({"create", "-b", bb, b}).status, 0);
  pid_t pb = state(b)["pid"].get<int>();
  std::string procs = read_text("/sys/fs/cgroup/unified" + cg + "/cgroup.procs");
  if (path_exists("/sys/fs/cgroup/unified")) {
    EXPECT_TRUE(contains(procs, std::to_string(pb))) << "not in its cgroupsPath " << cg << ": " << procs;
  }
  ASSERT_EQ(oci({"start", b}).status, 0);
  ASSERT_TRUE(wait_status(b, "stopped"));
  auto lines = split_lines(read_text(bb + "/out/ns"));
  ASSERT_EQ(lines.size(), 3u) << read_text(bb + "/out/ns");
  EXPECT_EQ(lines[0], ns("/proc/" + std::to_string(pa) + "/ns/net"));
  EXPECT_EQ(lines[1], ns("/proc/" + std::to_string(pa) + "/ns/uts"));
  EXPECT_NE(lines[2], ns("/proc/" + std::to_string(pa) + "/ns/ipc")) << "ipc was not asked to be shared";
  ASSERT_EQ(oci({"delete", b}).status, 0);
  EXPECT_FALSE(path_exists("/sys/fs/cgroup/unified" + cg)) << "cgroup left";
  EXPECT_FALSE(path_exists("/sys/fs/cgroup/unified/mult-oci-abs-" + std::to_string(::getpid())))
      << "its empty parent left";
}

// b joins a's user namespace by path and makes its other namespaces new:
// they belong to that user namespace (b sets its host name, mounts its
// root and /proc, and brings up the loopback of its own network).
TEST_F(OciLifecycle, JoinsAUserNamespaceByPathAndMakesTheOthersInIt) {
  // No /out: the mapped root may not reach the test's private directory.
  auto no_out = [](Json& c) {
    Json kept = Json::array();
    for (const auto& m : c["mounts"])
      if (m.value("destination", "") != "/out") kept.push_back(m);
    c["mounts"] = kept;
  };
  std::string a = unique("usa");
  std::string ab = make_bundle("a", {"sleep", "100"}, [&](Json& c) {
    no_out(c);
    c["linux"]["namespaces"].push_back({{"type", "user"}});
    Json map = Json::array({{{"containerID", 0}, {"hostID", 300000}, {"size", 65536}}});
    c["linux"]["uidMappings"] = c["linux"]["gidMappings"] = map;
  });
  // The mapped root passes through the test's directories to the start
  // fifo and the root file system.
  ::mkdir(oci_root().c_str(), 0711);
  std::vector<std::string> dirs = {root_, oci_root()};
  for (std::string d = busybox_rootfs(); dirs.size() < 5;) dirs.push_back(d = d.substr(0, d.rfind('/')));
  for (const std::string& d : dirs) ASSERT_EQ(::chmod(d.c_str(), 0711), 0) << d;
  CmdResult r = oci({"run", "-d", "-b", ab, a});
  ASSERT_EQ(r.status, 0) << r.describe();
  pid_t pa = state(a)["pid"].get<int>();
  const std::string a_ns = "/proc/" + std::to_string(pa) + "/ns/";
  std::string b = unique("usb");
  std::string bb = make_bundle(
      "b", {"sh", "-c", "for n in user net mnt; do readlink /proc/self/ns/$n; done; hostname; id -u; cat /sys/class/net/lo/flags"},
      [&](Json& c) {
        no_out(c);
        c["hostname"] = "inside-b";
        c["linux"]["namespaces"].push_back({{"type", "user"}, {"path", a_ns + "user"}});
      });
  r = oci({"run", "-b", bb, b});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.describe();
  auto link = [](const std::string& p) {
    char buf[128] = {};
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
  };
  EXPECT_EQ(lines[0], link(a_ns + "user"));
  EXPECT_NE(lines[1], link(a_ns + "net")) << "the network namespace was to be b's own";
  EXPECT_NE(lines[2], link(a_ns + "mnt"));
  EXPECT_EQ(lines[3], "inside-b");
  EXPECT_EQ(lines[4], "0") << "root of the user namespace it joined";
  EXPECT_EQ(std::stoul(lines[5], nullptr, 16) & 1, 1u) << "loopback down";
  EXPECT_EQ(oci({"delete", "-f", a}).status, 0);
}

// ---- hooks ----------------------------------------------------------------

Json hook(const std::string& script) {
  return Json{{"path", "/bin/sh"}, {"args", Json::array({"sh", "-c", script})}};
}

TEST_F(OciHooks, RunInOrderWithTheStateOnStdin) {
  std::string id = unique("hooks");
  std::string log = root_ + "/hooks";
  ::mkdir(log.c_str(), 0755);
  // Runtime-namespace hooks write on the host. createContainer runs in the
  // container's namespaces before pivot_root (host paths still resolve),
  // startContainer inside: both write to the bundle's out, bound at /out.
  auto host = [&](const std::string& name) {
    return hook("cat > " + log + "/" + name + ".json; echo " + name + " >> " + log + "/order");
  };
  std::string out = root_ + "/b/out";
  auto inside = [&](const std::string& name) {
    std::string dir = name == "createContainer" ? out : "/out";
    return hook("cat > " + dir + "/" + name + ".json; echo " + name + " >> " + dir + "/order");
  };
  std::string b = make_bundle("b", {"sh", "-c", "echo process >> /out/order; sleep 100"}, [&](Json& c) {
    c["hooks"] = {{"prestart", Json::array({host("prestart")})},
                  {"createRuntime", Json::array({host("createRuntime")})},
                  {"createContainer", Json::array({inside("createContainer")})},
                  {"startContainer", Json::array({inside("startContainer")})},
                  {"poststart", Json::array({host("poststart")})},
                  {"poststop", Json::array({host("poststop")})}};
  });
  CmdResult c = oci({"create", "-b", b, id});
  ASSERT_EQ(c.status, 0) << c.describe();
  EXPECT_EQ(split_lines(read_text(log + "/order")), (std::vector<std::string>{"prestart", "createRuntime"}));
  EXPECT_EQ(split_lines(read_text(b + "/out/order")), (std::vector<std::string>{"createContainer"}));
  pid_t pid = state(id)["pid"].get<int>();
  for (const char* name : {"prestart", "createRuntime"}) {
    Json s = Json::parse(read_text(log + "/" + name + ".json"));
    EXPECT_EQ(s["id"], id) << name;
    EXPECT_EQ(s["pid"], pid) << name;
    EXPECT_EQ(s["bundle"], b) << name;
    EXPECT_EQ(s["ociVersion"], "1.2.0") << name;
    EXPECT_EQ(s["status"], "created") << name;  // as crun, and runtime-tools expect
  }
  EXPECT_EQ(Json::parse(read_text(b + "/out/createContainer.json"))["id"], id);

  ASSERT_EQ(oci({"start", id}).status, 0);
  EXPECT_TRUE(wait_until([&] { return split_lines(read_text(b + "/out/order")).size() == 3; }, 10));
  EXPECT_EQ(split_lines(read_text(b + "/out/order")),
            (std::vector<std::string>{"createContainer", "startContainer", "process"}));
  EXPECT_EQ(split_lines(read_text(log + "/order")),
            (std::vector<std::string>{"prestart", "createRuntime", "poststart"}));
  EXPECT_EQ(Json::parse(read_text(log + "/poststart.json"))["status"], "running");

  ASSERT_EQ(oci({"delete", "-f", id}).status, 0);
  EXPECT_EQ(split_lines(read_text(log + "/order")),
            (std::vector<std::string>{"prestart", "createRuntime", "poststart", "poststop"}));
  Json post = Json::parse(read_text(log + "/poststop.json"));
  EXPECT_EQ(post["id"], id);
  EXPECT_EQ(post["status"], "stopped");
}

TEST_F(OciHooks, FailingCreateRuntimeHookLeavesNothing) {
  std::string id = unique("badhook");
  std::string b = make_bundle("b", {"sh", "-c", "touch /out/ran"}, [&](Json& c) {
    c["hooks"]["createRuntime"] = Json::array({hook("exit 3")});
  });
  auto mounts_before = mountinfo_lines();
  CmdResult c = oci({"create", "-b", b, id});
  EXPECT_NE(c.status, 0) << c.describe();
  EXPECT_TRUE(contains(c.err, "createRuntime[0]") && contains(c.err, "status 3")) << c.describe();
  EXPECT_FALSE(path_exists(oci_root() + "/" + id)) << "state dir left";
  EXPECT_EQ(cgroups_of(id), std::vector<std::string>{}) << "cgroup left";
  EXPECT_EQ(mountinfo_lines(), mounts_before) << "mounts left";
  EXPECT_TRUE(contains(oci({"state", id}).err, "does not exist"));
  EXPECT_FALSE(path_exists(b + "/out/ran"));
}

// A failing poststart or poststop hook is a warning, and the hooks after it
// still run (runtime-spec: "the remaining hooks and lifecycle continue").
TEST_F(OciHooks, FailingPoststartHookIsAWarning) {
  std::string id = unique("posthook");
  std::string marks = root_ + "/marks";
  ::mkdir(marks.c_str(), 0755);
  std::string b = make_bundle("b", {"sleep", "100"}, [&](Json& c) {
    c["hooks"]["poststart"] = Json::array({hook("exit 4"), hook("touch " + marks + "/poststart1")});
    c["hooks"]["poststop"] = Json::array({hook("exit 5"), hook("touch " + marks + "/poststop1")});
  });
  ASSERT_EQ(oci({"create", "-b", b, id}).status, 0);
  CmdResult s = oci({"start", id});
  EXPECT_EQ(s.status, 0) << s.describe();
  EXPECT_TRUE(contains(s.err, "warning") && contains(s.err, "poststart[0]")) << s.describe();
  EXPECT_TRUE(path_exists(marks + "/poststart1")) << "the hook after the failing one did not run";
  EXPECT_EQ(status(id), "running");
  CmdResult d = oci({"delete", "-f", id});
  EXPECT_EQ(d.status, 0) << d.describe();
  EXPECT_TRUE(contains(d.err, "warning") && contains(d.err, "poststop[0]")) << d.describe();
  EXPECT_TRUE(path_exists(marks + "/poststop1")) << "the hook after the failing one did not run";
}

// ---- errors ---------------------------------------------------------------

TEST_F(OciErrors, BadConfigNamesTheJsonPathAndCreatesNothing) {
  std::string id = unique("badcfg");
  std::string b = make_bundle("b", {"true"}, [](Json& c) { c["linux"]["namespaces"][1]["type"] = "bogus"; });
  CmdResult c = oci({"create", "-b", b, id});
  EXPECT_NE(c.status, 0);
  EXPECT_TRUE(contains(c.err, "linux.namespaces[1].type")) << c.describe();
  EXPECT_FALSE(path_exists(oci_root() + "/" + id));

  std::string b2 = make_bundle("b2", {"true"}, [](Json& c) { c["process"]["user"]["uid"] = "root"; });
  CmdResult c2 = oci({"create", "-b", b2, id});
  EXPECT_TRUE(contains(c2.err, "process.user.uid")) << c2.describe();

  write_text(root_ + "/b2/config.json", "{ not json");
  CmdResult c3 = oci({"create", "-b", b2, id});
  EXPECT_NE(c3.status, 0);
  EXPECT_TRUE(contains(c3.err, "invalid JSON")) << c3.describe();
  EXPECT_FALSE(path_exists(oci_root() + "/" + id));
  EXPECT_EQ(cgroups_of(id), std::vector<std::string>{});
}

TEST_F(OciErrors, DuplicateIdIsRefused) {
  std::string id = unique("dup");
  std::string b = make_bundle("b", {"sleep", "100"});
  ASSERT_EQ(oci({"create", "-b", b, id}).status, 0);
  pid_t pid = state(id)["pid"].get<int>();
  CmdResult again = oci({"create", "-b", b, id});
  EXPECT_NE(again.status, 0);
  EXPECT_TRUE(contains(again.err, "already exists")) << again.describe();
  EXPECT_EQ(status(id), "created") << "the first container was touched";
  EXPECT_EQ(state(id)["pid"], pid);
  // runtime-spec: delete of a container that is not stopped is an error and
  // changes nothing; --force kills and removes it.
  CmdResult d = oci({"delete", id});
  EXPECT_NE(d.status, 0);
  EXPECT_TRUE(contains(d.err, "it is created")) << d.describe();
  EXPECT_EQ(status(id), "created");
  EXPECT_EQ(oci({"delete", "--force", id}).status, 0);
}

// Without a mount namespace of its own the container's root, mounts and
// pivot_root would land in the caller's: refused before anything is made.
TEST_F(OciErrors, NoMountNamespaceIsRefused) {
  std::string id = unique("nomnt");
  std::string b = make_bundle("b", {"true"}, [](Json& c) {
    Json kept = Json::array();
    for (const auto& ns : c["linux"]["namespaces"])
      if (ns["type"] != "mount") kept.push_back(ns);
    c["linux"]["namespaces"] = kept;
  });
  auto mounts_before = mountinfo_lines();
  CmdResult c = oci({"create", "-b", b, id});
  EXPECT_NE(c.status, 0);
  EXPECT_TRUE(contains(c.err, "no mount namespace")) << c.describe();
  EXPECT_FALSE(path_exists(oci_root() + "/" + id));
  EXPECT_EQ(cgroups_of(id), std::vector<std::string>{});
  EXPECT_EQ(mountinfo_lines(), mounts_before);
}

// The start fifo can be opened by the container's root whatever host user
// it maps to (0622, not what the umask would leave).
TEST_F(OciLifecycle, StartFifoIsWritableByAMappedRoot) {
  std::string id = unique("fifo");
  std::string b = make_bundle("b", {"true"});
  ASSERT_EQ(oci({"create", "-b", b, id}).status, 0);
  struct stat st {};
  ASSERT_EQ(::stat((oci_root() + "/" + id + "/exec.fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0622u);
  EXPECT_EQ(oci({"delete", "--force", id}).status, 0);
}

TEST_F(OciErrors, MissingRootfsIsRefused) {
  std::string id = unique("norootfs");
  std::string b = make_bundle("b", {"true"}, [](Json& c) { c["root"]["path"] = "rootfs"; });
  CmdResult c = oci({"create", "-b", b, id});
  EXPECT_NE(c.status, 0);
  EXPECT_TRUE(contains(c.err, "root.path") && contains(c.err, b + "/rootfs")) << c.describe();
  EXPECT_FALSE(path_exists(oci_root() + "/" + id));
  EXPECT_EQ(cgroups_of(id), std::vector<std::string>{});
}

TEST_F(OciErrors, RefusesWhatThisHostCannotDo) {
  std::string id = unique("refuse");
  std::string b = make_bundle("b", {"true"}, [](Json& c) { c["linux"]["intelRdt"] = {{"closID", "x"}}; });
  CmdResult rdt = oci({"create", "-b", b, id});
  EXPECT_NE(rdt.status, 0);
  EXPECT_TRUE(contains(rdt.err, "linux.intelRdt")) << rdt.describe();
  if (!path_exists("/sys/fs/selinux/enforce")) {
    std::string b2 = make_bundle("b2", {"true"}, [](Json& c) { c["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0"; });
    CmdResult se = oci({"create", "-b", b2, id});
    EXPECT_TRUE(contains(se.err, "process.selinuxLabel") && contains(se.err, "SELinux")) << se.describe();
  }
  if (trim(read_text("/sys/module/apparmor/parameters/enabled")) != "Y") {
    std::string b3 = make_bundle("b3", {"true"}, [](Json& c) { c["process"]["apparmorProfile"] = "docker-default"; });
    CmdResult aa = oci({"create", "-b", b3, id});
    EXPECT_TRUE(contains(aa.err, "process.apparmorProfile") && contains(aa.err, "AppArmor")) << aa.describe();
  }
  CmdResult sd = oci({"--systemd-cgroup", "create", "-b", b, id});
  EXPECT_NE(sd.status, 0);
  EXPECT_TRUE(contains(sd.err, "mult-oci: --systemd-cgroup: systemd is not running on this host")) << sd.describe();
  EXPECT_FALSE(path_exists(oci_root() + "/" + id));
}

TEST_F(OciErrors, UnknownCommandMissingIdUnknownContainer) {
  CmdResult u = oci({"frobnicate"});
  EXPECT_NE(u.status, 0);
  EXPECT_TRUE(contains(u.err, "unknown command")) << u.describe();
  for (const char* cmd : {"start", "state", "kill", "delete", "pause", "resume", "ps", "exec", "create"}) {
    CmdResult r = oci({cmd});
    EXPECT_NE(r.status, 0) << cmd;
    EXPECT_TRUE(contains(r.err, "missing container id")) << r.describe();
  }
  CmdResult d = oci({"delete", "nosuch"});
  EXPECT_EQ(d.status, 1);
  EXPECT_TRUE(contains(d.err, "does not exist")) << d.describe();
  CmdResult df = oci({"delete", "--force", "nosuch"});
  EXPECT_EQ(df.status, 1);
  EXPECT_TRUE(contains(df.err, "does not exist")) << df.describe();
  EXPECT_NE(oci({"create", "-b", root_, "../escape"}).status, 0);
}

TEST_F(OciErrors, ErrorsGoToTheJsonLog) {
  std::string log = root_ + "/log.json";
  CmdResult r = run_command({MULT_OCI_BIN, "--root", oci_root(), "--log", log, "--log-format", "json",
                             "--criu", "/bin/false", "--systemd-cgroup=false", "delete", "nosuch"});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "does not exist")) << r.describe();
  auto lines = split_lines(read_text(log));
  ASSERT_EQ(lines.size(), 1u) << read_text(log);
  Json j = Json::parse(lines[0]);
  EXPECT_EQ(j["level"], "error");
  EXPECT_TRUE(contains(j["msg"].get<std::string>(), "does not exist"));
  EXPECT_TRUE(j.contains("time"));
}

// ---- exec, terminals ------------------------------------------------------

TEST_F(OciExec, ArgsProcessFileDetachAndPidFile) {
  std::string id = unique("exec");
  std::string b = make_bundle("b", {"sleep", "100"});
  ASSERT_EQ(oci({"run", "-d", "-b", b, id}).status, 0);

  CmdResult e = oci({"exec", "--cwd", "/etc", "--env", "FOO=bar", id, "sh", "-c",
                     "echo $(pwd) $FOO $(cat /proc/1/cmdline | tr '\\0' ' '); exit 5"});
  EXPECT_EQ(e.status, 5) << e.describe();
  EXPECT_EQ(trim(e.out), "/etc bar sleep 100") << e.describe();

  CmdResult u = oci({"exec", "--user", "1000:1000", id, "id"});
  EXPECT_EQ(u.status, 0) << u.describe();
  EXPECT_TRUE(contains(u.out, "uid=1000") && contains(u.out, "gid=1000")) << u.describe();

  Json proc = {{"args", Json::array({"sh", "-c", "echo from-json $X"})},
               {"env", Json::array({"X=1", "PATH=/bin:/usr/bin"})},
               {"cwd", "/"},
               {"user", {{"uid", 0}, {"gid", 0}}}};
  write_text(root_ + "/process.json", proc.dump());
  CmdResult p = oci({"exec", "--process", root_ + "/process.json", id});
  EXPECT_EQ(p.status, 0) << p.describe();
  EXPECT_EQ(trim(p.out), "from-json 1");

  std::string pid_file = root_ + "/exec.pid";
  CmdResult d = oci({"exec", "--detach", "--pid-file", pid_file, id, "sh", "-c", "touch /out/detached; sleep 100"});
  EXPECT_EQ(d.status, 0) << d.describe();
  std::string pid = trim(read_text(pid_file));
  ASSERT_FALSE(pid.empty());
  EXPECT_TRUE(wait_until([&] { return path_exists(b + "/out/detached"); }, 10));
  Json ps = Json::parse(oci({"ps", "--format", "json", id}).out);
  EXPECT_TRUE(std::find(ps.begin(), ps.end(), std::stoi(pid)) != ps.end()) << ps.dump() << " " << pid;

  CmdResult missing = oci({"exec", id, "/no/such/command"});
  EXPECT_EQ(missing.status, 127) << missing.describe();

  // kill --all reaches every process of the cgroup.
  CmdResult ka = oci({"kill", "--all", id, "KILL"});
  EXPECT_EQ(ka.status, 0) << ka.describe();
  EXPECT_TRUE(wait_status(id, "stopped"));
  CmdResult stopped = oci({"exec", id, "true"});
  EXPECT_NE(stopped.status, 0) << "exec into a stopped container";
}

// A listening unix socket that receives the pty master, as conmon's is.
class ConsoleSocket {
 public:
  explicit ConsoleSocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a {};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 1) == 0;
  }
  ~ConsoleSocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  // The master sent by the runtime (accept, then SCM_RIGHTS).
  int receive() {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return -1;
    try {
      mult::Fd m = mult::receive_fd(c);
      ::close(c);
      return m.release();
    } catch (const std::exception&) {
      ::close(c);
      return -1;
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
};

std::string read_until(int fd, const std::string& want, double timeout) {
  std::string got;
  wait_until(
      [&] {
        char buf[512];
        struct pollfd p {fd, POLLIN, 0};
        if (::poll(&p, 1, 20) == 1) {
          ssize_t n = ::read(fd, buf, sizeof buf);
          if (n > 0) got.append(buf, size_t(n));
        }
        return contains(got, want);
      },
      timeout);
  return got;
}

TEST_F(OciExec, TerminalThroughTheConsoleSocket) {
  std::string id = unique("tty");
  std::string b = make_bundle("b", {"sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; sleep 100"},
                              [](Json& c) { c["process"]["terminal"] = true; });
  ConsoleSocket sock(root_ + "/console.sock");
  ASSERT_TRUE(sock.ok());
  CmdResult no_sock = oci({"create", "-b", b, id});
  EXPECT_NE(no_sock.status, 0) << "a terminal without --console-socket";
  EXPECT_TRUE(contains(no_sock.err, "console-socket")) << no_sock.describe();

  CmdResult c = oci({"create", "-b", b, "--console-socket", root_ + "/console.sock", id});
  ASSERT_EQ(c.status, 0) << c.describe();
  int master = sock.receive();
  ASSERT_GE(master, 0) << "no pty master on the console socket by the end of create";
  ASSERT_EQ(oci({"start", id}).status, 0);
  std::string out = read_until(master, "stdin-is-a-tty", 10);
  EXPECT_TRUE(contains(out, "/dev/pts/0") && contains(out, "stdin-is-a-tty")) << out;

  // exec -t with a console socket, detached, as conmon and containerd run it.
  CmdResult e = oci({"exec", "-t", "-d", "--console-socket", root_ + "/console.sock", id, "sh", "-c",
                     "test -t 1 && echo exec-tty; sleep 100"});
  EXPECT_EQ(e.status, 0) << e.describe();
  int emaster = sock.receive();
  ASSERT_GE(emaster, 0);
  EXPECT_TRUE(contains(read_until(emaster, "exec-tty", 10), "exec-tty"));
  ::close(emaster);
  ::close(master);
}

TEST_F(OciExec, PreservedFds) {
  // fd 3 (a host file) stays open in the command with --preserve-fds 1,
  // and only then. sh is PID 1: /proc/1/fd is its own table.
  auto run_with = [&](const std::string& id, const std::string& extra) {
    std::string b = make_bundle(id, {"sh", "-c", "readlink /proc/1/fd/3 > /out/fd3; true"});
    CmdResult r = run_command({"/bin/sh", "-c",
                               std::string(MULT_OCI_BIN) + " --root " + oci_root() + " run " + extra + " -b " +
                                   b + " " + id + " 3</etc/hostname"});
    EXPECT_EQ(r.status, 0) << r.describe();
    return trim(read_text(b + "/out/fd3"));
  };
  EXPECT_EQ(run_with(unique("fds"), "--preserve-fds 1"), "/etc/hostname");
  EXPECT_EQ(run_with(unique("nofds"), ""), "") << "fd 3 leaked into the container";
}

// ---- cgroups: pause, update, events ---------------------------------------

TEST_F(OciCgroup, PauseResumeUpdateEvents) {
  std::string id = unique("cg");
  std::string b = make_bundle("b", {"sh", "-c", "while :; do date +%s%N > /out/tick; sleep 0.05; done"});
  ASSERT_EQ(oci({"run", "-d", "-b", b, id}).status, 0);
  ASSERT_EQ(oci({"pause", id}).status, 0);
  EXPECT_EQ(status(id), "paused");
  std::string t1 = read_text(b + "/out/tick");
  usleep(300 * 1000);
  EXPECT_EQ(read_text(b + "/out/tick"), t1) << "a paused container ran";
  EXPECT_NE(oci({"pause", id}).status, 0) << "pause twice";
  ASSERT_EQ(oci({"resume", id}).status, 0);
  EXPECT_EQ(status(id), "running");
  EXPECT_TRUE(wait_until([&] { return read_text(b + "/out/tick") != t1; }, 5)) << "not resumed";
  EXPECT_NE(oci({"resume", id}).status, 0) << "resume of a running container";

  CmdResult u = oci({"update", "--pids-limit", "50", "--memory", "64m", id});
  ASSERT_EQ(u.status, 0) << u.describe();
  bool pids_seen = false, mem_seen = false;
  for (const auto& d : cgroups_of(id)) {
    if (path_exists(d + "/pids.max")) {
      pids_seen = true;
      EXPECT_EQ(trim(read_text(d + "/pids.max")), "50") << d;
    }
    for (const char* f : {"/memory.limit_in_bytes", "/memory.max"}) {
      if (!path_exists(d + f)) continue;
      mem_seen = true;
      EXPECT_EQ(trim(read_text(d + f)), "67108864") << d;
    }
  }
  EXPECT_TRUE(pids_seen && mem_seen) << "limits not found in the container's cgroups";
  write_text(root_ + "/res.json", R"({"pids": {"limit": 60}})");
  EXPECT_EQ(oci({"update", "--resources", root_ + "/res.json", id}).status, 0);
  for (const auto& d : cgroups_of(id))
    if (path_exists(d + "/pids.max")) {
      EXPECT_EQ(trim(read_text(d + "/pids.max")), "60");
    }

  CmdResult ev = oci({"events", "--stats", id});
  ASSERT_EQ(ev.status, 0) << ev.describe();
  Json j = Json::parse(ev.out);
  EXPECT_EQ(j["type"], "stats");
  EXPECT_EQ(j["id"], id);
  EXPECT_GE(j["data"]["pids"]["current"].get<int>(), 1) << ev.out;
  EXPECT_EQ(j["data"]["pids"]["limit"], 60) << ev.out;
}

// ---- the rest of the command line -----------------------------------------

TEST_F(OciCli, VersionSpecFeatures) {
  CmdResult v = run_command({MULT_OCI_BIN, "--version"});
  EXPECT_EQ(v.status, 0);
  EXPECT_TRUE(contains(v.out, "mult-oci version 0.1.0") && contains(v.out, "spec: 1.2.0")) << v.out;
  EXPECT_EQ(run_command({MULT_OCI_BIN, "--help"}).status, 0);

  std::string dir = root_ + "/spec";
  ::mkdir(dir.c_str(), 0755);
  ASSERT_EQ(run_command({MULT_OCI_BIN, "spec", "--bundle", dir}).status, 0);
  Json c = Json::parse(read_text(dir + "/config.json"));
  EXPECT_EQ(c["ociVersion"], "1.2.0");
  EXPECT_EQ(c["root"]["path"], "rootfs");
  EXPECT_NE(run_command({MULT_OCI_BIN, "spec", "--bundle", dir}).status, 0) << "spec overwrote config.json";
  std::string rl = root_ + "/rootless";
  ::mkdir(rl.c_str(), 0755);
  ASSERT_EQ(run_command({MULT_OCI_BIN, "spec", "--rootless", "--bundle", rl}).status, 0);
  Json r = Json::parse(read_text(rl + "/config.json"));
  bool user_ns = false;
  for (const auto& ns : r["linux"]["namespaces"]) user_ns |= ns["type"] == "user";
  EXPECT_TRUE(user_ns);
  EXPECT_EQ(r["linux"]["uidMappings"][0]["hostID"], ::getuid());

  CmdResult f = run_command({MULT_OCI_BIN, "features"});
  ASSERT_EQ(f.status, 0);
  Json feat = Json::parse(f.out);
  EXPECT_EQ(feat["ociVersionMax"], "1.2.0");
  EXPECT_EQ(feat["linux"]["cgroup"]["systemd"], false);
  EXPECT_EQ(feat["linux"]["seccomp"]["enabled"], true);
  EXPECT_EQ(feat["linux"]["apparmor"]["enabled"], false);
  EXPECT_EQ(feat["linux"]["intelRdt"]["enabled"], false);
  EXPECT_FALSE(feat["hooks"].empty());
}

// Rootless (runc --rootless alike): an unprivileged user creates, starts,
// enters, lists and deletes a container in its own user namespace with the
// config `spec --rootless` writes. With no delegated cgroup there is none:
// what needs one fails with a message that says so; nothing is left (the
// fixture checks mounts and cgroups).
TEST_F(OciCli, RootlessLifecycleAsAnUnprivilegedUser) {
  if (!path_exists("/usr/bin/setpriv")) GTEST_SKIP() << "no setpriv";
  const uid_t nobody = 65534;
  std::string base = root_ + "/rootless-oci", state = base + "/state", bundle = base + "/bundle";
  ASSERT_EQ(::chmod(root_.c_str(), 0711), 0);  // the user passes through to its own directory
  for (const auto& d : {base, state, bundle}) {
    ASSERT_EQ(::mkdir(d.c_str(), 0755), 0) << d;
    ASSERT_EQ(::chown(d.c_str(), nobody, nobody), 0) << d;
  }
  ASSERT_EQ(run_command({"/bin/cp", "-a", busybox_rootfs(), bundle + "/rootfs"}).status, 0);
  ASSERT_EQ(run_command({"/bin/chown", "-R", "65534:65534", bundle + "/rootfs"}).status, 0);
  auto as_nobody = [&](const Argv& args) {
    Argv argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 MULT_OCI_BIN, "--root", state};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  };
  // Whatever a failed assertion leaves running goes.
  struct Cleanup {
    std::function<void()> fn;
    ~Cleanup() { fn(); }
  } cleanup{[&] { as_nobody({"delete", "--force", "rl"}); }};
  CmdResult r = as_nobody({"spec", "--rootless", "--bundle", bundle});
  ASSERT_EQ(r.status, 0) << r.describe();
  Json c = Json::parse(read_text(bundle + "/config.json"));
  EXPECT_EQ(c["linux"]["uidMappings"][0]["hostID"], nobody);
  c["process"]["args"] = Json::array({"sleep", "100"});
  c["process"]["terminal"] = false;
  write_text(bundle + "/config.json", c.dump());

  r = as_nobody({"create", "--bundle", bundle, "rl"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(Json::parse(as_nobody({"state", "rl"}).out)["status"], "created");
  ASSERT_EQ(as_nobody({"start", "rl"}).status, 0);
  r = as_nobody({"exec", "rl", "sh", "-c", "id -u; cat /proc/self/uid_map"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(split_words(r.out), (std::vector<std::string>{"0", "0", "65534", "1"})) << r.describe();
  r = as_nobody({"ps", "--format", "json", "rl"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(Json::parse(r.out).size(), 1u) << r.describe();

  r = as_nobody({"pause", "rl"});
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.err, "pause needs a cgroup")) << r.describe();
  EXPECT_EQ(Json::parse(as_nobody({"state", "rl"}).out)["status"], "running") << "a failed pause changed it";

  ASSERT_EQ(as_nobody({"kill", "rl", "KILL"}).status, 0);
  EXPECT_TRUE(wait_until([&] { return Json::parse(as_nobody({"state", "rl"}).out)["status"] == "stopped"; }, 10));
  r = as_nobody({"delete", "rl"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(trim(as_nobody({"list", "-q"}).out), "");
  EXPECT_EQ(state_entries(state), std::vector<std::string>{}) << "left in the rootless state root";
}


// ---- errors of the process, caught at create ------------------------------

// A capability this process (and so mult-oci) lacks in its bounding set:
// capset cannot grant it. "" when it holds them all.
std::string capability_not_held() {
  std::string bnd;
  for (const auto& line : split_lines(read_text("/proc/self/status")))
    if (line.rfind("CapBnd:", 0) == 0) bnd = trim(line.substr(7));
  if (bnd.empty()) return "";
  unsigned long long mask = std::stoull(bnd, nullptr, 16);
  CmdResult f = run_command({MULT_OCI_BIN, "features"});
  if (f.status != 0) return "";
  Json features = Json::parse(f.out);
  for (const auto& name : features["linux"]["capabilities"]) {
    int n = mult::capability_number(name.get<std::string>());
    if (n >= 0 && n < 64 && !(mask & (1ULL << n))) return name.get<std::string>();
  }
  return "";
}

TEST_F(OciErrors, CapabilityTheHostLacksFailsCreate) {
  std::string cap = capability_not_held();
  if (cap.empty()) GTEST_SKIP() << "this process holds every capability in its bounding set";
  std::string id = unique("nocap");
  std::string b = make_bundle("b", {"sh", "-c", "touch /out/ran"}, [&](Json& c) {
    for (const char* set : {"bounding", "effective", "permitted"})
      c["process"]["capabilities"][set].push_back(cap);
  });
  auto mounts_before = mountinfo_lines();
  CmdResult c = oci({"create", "-b", b, id});
  EXPECT_NE(c.status, 0) << c.describe();
  EXPECT_TRUE(contains(c.err, "capabilities") && contains(c.err, cap)) << c.describe();
  EXPECT_EQ(split_lines(c.err).size(), 1u) << c.describe();
  EXPECT_FALSE(path_exists(oci_root() + "/" + id)) << "state dir left";
  EXPECT_EQ(cgroups_of(id), std::vector<std::string>{}) << "cgroup left";
  EXPECT_EQ(mountinfo_lines(), mounts_before) << "mounts left";
  EXPECT_TRUE(contains(oci({"state", id}).err, "does not exist"));
  EXPECT_FALSE(path_exists(b + "/out/ran"));
}

TEST_F(OciErrors, MissingOrNonExecutableCommandFailsCreate) {
  struct Case {
    std::string cmd, cause;
  };
  for (const Case& k : {Case{"no-such-command-q", "No such file or directory"},
                        Case{"/bin/no-such-command-q", "No such file or directory"},
                        Case{"/etc/passwd", "Permission denied"},
                        Case{"/etc", "Permission denied"}}) {
    std::string id = unique("nocmd");
    std::string b = make_bundle(id, {k.cmd});
    CmdResult c = oci({"create", "-b", b, id});
    EXPECT_NE(c.status, 0) << c.describe();
    EXPECT_TRUE(contains(c.err, "exec \"" + k.cmd + "\": " + k.cause)) << c.describe();
    EXPECT_FALSE(path_exists(oci_root() + "/" + id)) << "state dir left";
    EXPECT_EQ(cgroups_of(id), std::vector<std::string>{}) << "cgroup left";
  }
  // Looked up in the container's PATH, relative to its cwd.
  std::string id = unique("cmdpath");
  std::string b = make_bundle("ok", {"busybox", "sh", "-c", "echo ran > /out/ran"}, [](Json& c) {
    c["process"]["env"] = Json::array({"PATH=/nowhere:/bin"});
  });
  ASSERT_EQ(oci({"create", "-b", b, id}).status, 0);
  ASSERT_EQ(oci({"start", id}).status, 0);
  EXPECT_TRUE(wait_until([&] { return path_exists(b + "/out/ran"); }, 10));
}

// The identity change happens before create returns: the process still
// waits on the start fifo, and startContainer hooks run, as its user.
TEST_F(OciLifecycle, UserAndCapabilitiesBeforeStart) {
  std::string id = unique("user");
  std::string b = make_bundle("b", {"sh", "-c", "id -u > /out/uid; grep CapEff /proc/self/status > /out/caps"},
                              [](Json& c) {
                                c["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
                                c["hooks"]["startContainer"] = Json::array(
                                    {hook("id -u > /out/hook-uid")});
                              });
  ASSERT_EQ(::chmod((b + "/out").c_str(), 0777), 0);  // writable by the user
  CmdResult c = oci({"create", "-b", b, id});
  ASSERT_EQ(c.status, 0) << c.describe();
  EXPECT_EQ(status(id), "created");
  CmdResult s = oci({"start", id});
  ASSERT_EQ(s.status, 0) << s.describe();
  EXPECT_TRUE(wait_until([&] { return !read_text(b + "/out/caps").empty(); }, 10));
  EXPECT_EQ(trim(read_text(b + "/out/uid")), "1000");
  EXPECT_EQ(trim(read_text(b + "/out/hook-uid")), "1000");
  EXPECT_TRUE(contains(read_text(b + "/out/caps"), "0000000000000000")) << read_text(b + "/out/caps");
}


// A PID (and time) namespace given by path: the container's process is in
// it, not in mult-oci's; the runtime's hooks stay in the runtime's.
TEST_F(OciLifecycle, JoinsPidAndTimeNamespacesByPath) {
  std::string unshare = find_tool("unshare");
  if (unshare.empty()) GTEST_SKIP() << "no unshare";
  HostProcess& holder = spawn({unshare, "-pfT", "--kill-child", "--mount-proc", "sleep", "100"});
  std::string children;
  ASSERT_TRUE(wait_until([&] {
    children = trim(read_text("/proc/" + std::to_string(holder.pid()) + "/task/" +
                              std::to_string(holder.pid()) + "/children"));
    return !children.empty();
  }, 10)) << "unshare made no child";
  std::string ns_dir = "/proc/" + split_words(children)[0] + "/ns/";
  auto link = [](const std::string& p) {
    char buf[128] = {};
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
  };
  ASSERT_NE(link(ns_dir + "pid"), link("/proc/self/ns/pid"));
  std::string id = unique("pidns");
  std::string hook_out = root_ + "/prestart-ns";
  std::string b = make_bundle("b", {"sh", "-c", "readlink /proc/$$/ns/pid > /out/ns; readlink /proc/$$/ns/time >> /out/ns; echo $$ >> /out/ns"},
                              [&](Json& c) {
                                Json kept = Json::array();
                                for (auto& n : c["linux"]["namespaces"])
                                  if (n["type"] != "pid" && n["type"] != "time") kept.push_back(n);
                                kept.push_back({{"type", "pid"}, {"path", ns_dir + "pid"}});
                                kept.push_back({{"type", "time"}, {"path", ns_dir + "time"}});
                                c["linux"]["namespaces"] = kept;
                                c["hooks"]["prestart"] = Json::array(
                                    {hook("readlink /proc/self/ns/pid > " + hook_out)});
                              });
  CmdResult c = oci({"create", "-b", b, id});
  ASSERT_EQ(c.status, 0) << c.describe();
  // The process itself, not only its children (setns(CLONE_NEWPID) alone).
  std::string pid = std::to_string(state(id)["pid"].get<int>());
  EXPECT_EQ(link("/proc/" + pid + "/ns/pid"), link(ns_dir + "pid"));
  EXPECT_EQ(link("/proc/" + pid + "/ns/time"), link(ns_dir + "time"));
  ASSERT_EQ(oci({"start", id}).status, 0);
  ASSERT_TRUE(wait_status(id, "stopped"));
  auto lines = split_lines(read_text(b + "/out/ns"));
  ASSERT_EQ(lines.size(), 3u) << read_text(b + "/out/ns");
  EXPECT_EQ(lines[0], link(ns_dir + "pid"));
  EXPECT_EQ(lines[1], link(ns_dir + "time"));
  EXPECT_NE(lines[2], "1") << "PID 1 of the joined namespace is the sleep";
  EXPECT_EQ(trim(read_text(hook_out)), link("/proc/self/ns/pid")) << "a prestart hook ran in the joined namespace";
  EXPECT_EQ(oci({"delete", id}).status, 0);

  // A path that is no PID namespace: a clear error, nothing made.
  std::string bad = unique("badpidns");
  std::string bb = make_bundle("bad", {"true"}, [&](Json& c) {
    for (auto& n : c["linux"]["namespaces"])
      if (n["type"] == "pid") n["path"] = ns_dir + "net";
  });
  CmdResult e = oci({"create", "-b", bb, bad});
  EXPECT_NE(e.status, 0);
  EXPECT_TRUE(contains(e.err, "namespace pid \"" + ns_dir + "net\"")) << e.describe();
  EXPECT_FALSE(path_exists(oci_root() + "/" + bad));
  EXPECT_EQ(cgroups_of(bad), std::vector<std::string>{});
}


// poststart runs once the command is executed: /proc/PID/exe of the
// container's process names the command by then, not mult-oci, even when a
// startContainer hook keeps the process a while before its exec.
// A seccomp profile written before faccessat2 existed (Linux 5.8) denies
// it with EPERM, as runc's old default did; glibc uses it for the command's
// lookup before create returns. That is no answer: create goes on and
// execve decides.
TEST_F(OciLifecycle, ProfileDenyingFaccessat2StillRuns) {
  std::string id = unique("faccessat2");
  std::string b = make_bundle("b", {"sh", "-c", "echo ran"}, [](Json& c) {
    c["process"]["noNewPrivileges"] = false;  // the filter goes in before the lookup then
    c["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls", Json::array({{{"names", Json::array({"faccessat2"})},
                                   {"action", "SCMP_ACT_ERRNO"},
                                   {"errnoRet", 1}}})}};
  });
  CmdResult r = oci({"run", "--bundle", b, id});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(trim(r.out), "ran") << r.describe();
}

// `crun spec` writes ambient capabilities with an empty inheritable set; the
// kernel cannot raise those, and runc and crun leave them out: so does
// mult-oci, with a warning on its own stderr.
TEST_F(OciLifecycle, AmbientCapabilitiesThatCannotBeRaisedAreLeftOut) {
  std::string id = unique("ambient");
  std::string b = make_bundle("b", {"grep", "CapAmb", "/proc/self/status"}, [](Json& c) {
    c["process"]["capabilities"]["ambient"] = Json::array({"CAP_KILL", "CAP_CHOWN"});
    c["process"]["capabilities"]["inheritable"] = Json::array({"CAP_CHOWN"});
    for (const char* set : {"bounding", "effective", "permitted"})
      c["process"]["capabilities"][set] = Json::array({"CAP_KILL", "CAP_CHOWN"});
  });
  CmdResult r = oci({"run", "--bundle", b, id});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_TRUE(contains(r.err, "ambient capability CAP_KILL is not inheritable")) << r.describe();
  EXPECT_FALSE(contains(r.out, "CAP_KILL")) << r.describe();
  auto words = split_words(r.out);
  ASSERT_EQ(words.size(), 2u) << r.describe();
  EXPECT_EQ(std::stoull(words[1], nullptr, 16), 1ull << 0) << "CAP_CHOWN (0) alone is ambient: " << r.out;
}

// A startContainer hook runs in the container's process: writing it the
// state must not leave SIGPIPE ignored in the command that process execs.
TEST_F(OciHooks, StartContainerHookLeavesSignalsAsTheyWere) {
  std::string id = unique("sigpipe");
  std::string b = make_bundle("b", {"grep", "SigIgn", "/proc/self/status"}, [&](Json& c) {
    c["hooks"]["startContainer"] = Json::array({hook("exec 0<&-; true")});
  });
  CmdResult r = oci({"run", "--bundle", b, id});
  ASSERT_EQ(r.status, 0) << r.describe();
  auto words = split_words(r.out);
  ASSERT_EQ(words.size(), 2u) << r.describe();
  unsigned long long ignored = std::stoull(words[1], nullptr, 16);
  EXPECT_EQ(ignored & (1ull << (SIGPIPE - 1)), 0u) << "SIGPIPE ignored in the command: " << r.out;
}

TEST_F(OciHooks, PoststartRunsAfterTheExec) {
  std::string id = unique("poststart");
  std::string log = root_ + "/exe";
  std::string b = make_bundle("b", {"sleep", "100"}, [&](Json& c) {
    c["hooks"]["startContainer"] = Json::array({hook("sleep 0.5")});
    c["hooks"]["poststart"] = Json::array(
        {hook("pid=$(sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/'); readlink /proc/$pid/exe > " + log)});
  });
  ASSERT_EQ(oci({"create", "-b", b, id}).status, 0);
  CmdResult s = oci({"start", id});
  ASSERT_EQ(s.status, 0) << s.describe();
  std::string exe = trim(read_text(log));
  EXPECT_TRUE(!exe.empty() && !contains(exe, "mult") && contains(exe, "busybox")) << "poststart saw " << exe;
  EXPECT_EQ(status(id), "running");
}

// What fails between start and the exec fails start, named.
TEST_F(OciErrors, FailureBeforeTheExecFailsStart) {
  // The command, there at create, gone by start.
  std::string id = unique("gone");
  std::string b = make_bundle("b", {"/out/cmd"});
  write_text(b + "/out/cmd", "#!/bin/sh\ntouch /out/ran\n");
  ASSERT_EQ(::chmod((b + "/out/cmd").c_str(), 0755), 0);
  CmdResult c = oci({"create", "-b", b, id});
  ASSERT_EQ(c.status, 0) << c.describe();
  ASSERT_EQ(::unlink((b + "/out/cmd").c_str()), 0);
  CmdResult s = oci({"start", id});
  EXPECT_NE(s.status, 0) << s.describe();
  EXPECT_TRUE(contains(s.err, "container \"" + id + "\"") && contains(s.err, "exec \"/out/cmd\"") &&
              contains(s.err, "No such file or directory"))
      << s.describe();
  EXPECT_TRUE(wait_status(id, "stopped"));
  EXPECT_EQ(oci({"delete", id}).status, 0);

  // A failing startContainer hook.
  std::string id2 = unique("badstart");
  std::string b2 = make_bundle("b2", {"sh", "-c", "touch /out/ran"}, [&](Json& c) {
    c["hooks"]["startContainer"] = Json::array({hook("exit 3")});
  });
  ASSERT_EQ(oci({"create", "-b", b2, id2}).status, 0);
  CmdResult s2 = oci({"start", id2});
  EXPECT_NE(s2.status, 0) << s2.describe();
  EXPECT_TRUE(contains(s2.err, "container \"" + id2 + "\"") && contains(s2.err, "startContainer[0]") &&
              contains(s2.err, "status 3"))
      << s2.describe();
  EXPECT_FALSE(path_exists(b2 + "/out/ran"));
  EXPECT_TRUE(wait_status(id2, "stopped"));
}

// Until it execs the command, a created container's process is a copy of
// mult-oci, and PID 1 of the container: /proc/1/cmdline, which the
// container could read, shows none of mult-oci's arguments (host paths).
TEST_F(OciLifecycle, CreatedProcessShowsNoneOfTheRuntimesArguments) {
  std::string id = unique("args");
  std::string b = make_bundle("b", {"true"});
  CmdResult c = oci({"create", "-b", b, id});
  ASSERT_EQ(c.status, 0) << c.describe();
  pid_t pid = state(id)["pid"].get<int>();
  std::string cmdline = read_text("/proc/" + std::to_string(pid) + "/cmdline");
  EXPECT_FALSE(cmdline.empty()) << "the process is gone";
  EXPECT_EQ(cmdline.find_first_not_of('\0'), std::string::npos) << cmdline;
  EXPECT_FALSE(contains(cmdline, oci_root()));
  EXPECT_EQ(oci({"delete", "--force", id}).status, 0);
}

}  // namespace
}  // namespace mult_it
