// Networking, end to end: bridged instances talking to each other, --net
// none, host, instance:NAME, published ports, 50 instances at once, bad
// input, and `mult net`.
//
// The machine's own network is never touched. Each test moves the test
// process's thread into a network namespace of its own (unshare(2)), the
// "test host", before its state root is made; every mult command and every
// helper (ip, nft, busybox nc) is forked from that thread and so runs in it,
// including the rm -f of MultTest::TearDown. The thread goes back to the
// original namespace only at the very end of TearDown, after everything of
// mult is gone; the test host then disappears with its last reference.
// Traffic only goes to addresses inside the test host.
#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>
#include <tuple>

#include "harness.hh"

namespace mult_it {
namespace {

// Host tools, whatever the PATH of whoever runs the tests.
const std::string kPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin; ";

struct NsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NsId&) const = default;
};

NsId ns_of_fd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {};
  return {st.st_dev, st.st_ino};
}

NsId ns_of_this_thread() {
  struct stat st {};
  if (::stat("/proc/thread-self/ns/net", &st) != 0) return {};
  return {st.st_dev, st.st_ino};
}

// "2: eth0    inet 10.77.0.2/16 scope global eth0" -> "10.77.0.2".
std::string inet_address(const std::string& ip_addr_output) {
  auto at = ip_addr_output.find("inet ");
  if (at == std::string::npos) return "";
  at += 5;
  auto end = ip_addr_output.find('/', at);
  if (end == std::string::npos) return "";
  return ip_addr_output.substr(at, end - at);
}

// Whether /proc/net/tcp or tcp6 text lists a socket listening on `port`.
bool tcp_listening(const std::string& proc_net_tcp, int port) {
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  for (const auto& line : split_lines(proc_net_tcp)) {
    auto w = split_words(line);
    if (w.size() < 4 || w[3] != "0A") continue;
    const std::string& local = w[1];
    if (local.size() >= 5 && local.compare(local.size() - 5, 5, want) == 0) return true;
  }
  return false;
}

bool one_line(const std::string& text) {
  std::string t = trim(text);
  return !t.empty() && t.find('\n') == std::string::npos;
}

// The names of the links of `ip -o link` output ("mv0123@if2" -> "mv0123").
std::vector<std::string> link_names(const std::string& ip_o_link) {
  std::vector<std::string> out;
  for (const auto& line : split_lines(ip_o_link)) {
    auto w = split_words(line);
    if (w.size() < 2) continue;
    std::string n = w[1];
    if (!n.empty() && n.back() == ':') n.pop_back();
    if (auto at = n.find('@'); at != std::string::npos) n.resize(at);
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// MultTest::TearDown takes every directory of <root>/run but locks for an
// instance, the seccomp filter cache (run/seccomp) too, and fails on
// `rm -f seccomp` (a reserved name). The cache is only a cache: it goes
// first.
void drop_seccomp_cache(const std::string& root) {
  if (root.empty()) return;
  run_command({"/bin/rm", "-rf", "--one-file-system", root + "/run/seccomp"});
}

class NetTest : public MultTest {
 protected:
  void SetUp() override {
    host_ns_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(host_ns_, 0) << "open /proc/thread-self/ns/net: " << std::strerror(errno);
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
    ASSERT_TRUE(in_test_host()) << "still in the machine's network namespace";
    CmdResult lo = sh("ip link set lo up");
    ASSERT_EQ(lo.status, 0) << lo.describe();
    MultTest::SetUp();
  }

  void TearDown() override {
    if (host_ns_ < 0) return;
    if (in_test_host()) {
      drop_seccomp_cache(root());
      // rm -f of every instance, mounts, cgroups, the state root: all
      // still in the test host.
      MultTest::TearDown();
      // Nothing of an instance stays in the test host.
      CmdResult veths = sh("ip -o link show type veth");
      EXPECT_EQ(trim(veths.out), "") << "veths left in the test host\n" << veths.describe();
      CmdResult rules = sh("nft list ruleset");
      EXPECT_FALSE(contains(rules.out, "mult:")) << "nft rules left in the test host\n" << rules.out;
      EXPECT_EQ(::setns(host_ns_, CLONE_NEWNET), 0) << "setns back: " << std::strerror(errno);
    } else {
      ADD_FAILURE() << "not in a test host: nothing was run";
    }
    EXPECT_FALSE(in_test_host()) << "the test thread did not return to its own network namespace";
    ::close(host_ns_);
    host_ns_ = -1;
  }

  bool in_test_host() const { return host_ns_ >= 0 && !(ns_of_this_thread() == ns_of_fd(host_ns_)); }

  // MultTest::mult, refused outside the test host (so a broken set-up can
  // never reach the machine's own network).
  CmdResult mult(const Argv& args, double timeout = 30) {
    if (!in_test_host()) {
      ADD_FAILURE() << "mult called outside the test host";
      return CmdResult{};
    }
    return MultTest::mult(args, timeout);
  }

  // A shell command on the test host.
  CmdResult sh(const std::string& script, double timeout = 30) {
    if (!in_test_host()) {
      ADD_FAILURE() << "sh called outside the test host: " << script;
      return CmdResult{};
    }
    return run_command({"/bin/sh", "-c", kPath + script}, timeout);
  }

  // Makes the busybox image once, so that later commands do not race to.
  void make_image() {
    CmdResult r = mult({"run", "--name", unique("img"), "--", "true"});
    ASSERT_EQ(r.status, 0) << r.describe();
  }

  // `mult run -d --name NAME OPTIONS... -- CMD...`; NAME or "" on failure.
  std::string start(const std::string& base, const Argv& options, const Argv& cmd) {
    std::string name = unique(base);
    Argv args = {"run", "-d", "--name", name};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back("--");
    args.insert(args.end(), cmd.begin(), cmd.end());
    CmdResult r = mult(args);
    EXPECT_EQ(r.status, 0) << r.describe();
    return r.status == 0 ? name : "";
  }

  CmdResult exec(const std::string& name, const std::string& script, double timeout = 30) {
    return mult({"exec", name, "--", "sh", "-c", script}, timeout);
  }

  // eth0's IPv4 address in instance `name`.
  std::string address_of(const std::string& name) {
    CmdResult r = mult({"exec", name, "--", "ip", "-4", "-o", "addr", "show", "eth0"});
    EXPECT_EQ(r.status, 0) << r.describe();
    return inet_address(r.out);
  }

  // Waits until something in instance `name` listens on TCP `port`.
  bool wait_listening(const std::string& name, int port) {
    return wait_until(
        [&] { return tcp_listening(mult({"exec", name, "--", "cat", "/proc/net/tcp", "/proc/net/tcp6"}).out, port); },
        10);
  }
  // The same on the test host.
  bool wait_host_listening(int port) {
    return wait_until(
        [&] {
          return tcp_listening(read_text("/proc/thread-self/net/tcp") + read_text("/proc/thread-self/net/tcp6"),
                               port);
        },
        10);
  }

  std::vector<std::string> test_host_links() { return link_names(sh("ip -o link").out); }
  std::string ruleset() { return sh("nft list ruleset").out; }
  // The leases of network `net` in this test's state root, as JSON.
  Json leases(const std::string& net = "mult0") {
    std::string text = read_text(root() + "/networks/" + net + ".leases.json");
    if (text.empty()) return Json::object();
    try {
      return Json::parse(text);
    } catch (const std::exception& e) {
      ADD_FAILURE() << net << ".leases.json: " << e.what() << "\n" << text;
      return Json::object();
    }
  }

  int host_ns_ = -1;
};

using IntegrationNet = NetTest;

// Two bridged instances: ping and a TCP stream both ways of naming.
TEST_F(IntegrationNet, BridgedInstancesPingAndStreamByAddressAndName) {
  make_image();
  // Receivers whose stdin stays open: busybox nc stops when its stdin ends.
  std::string a = start("a", {"--net", "bridge"},
                        {"sh", "-c",
                         "sleep 1000 | nc -l -p 5000 > /tmp/by-address & "
                         "sleep 1000 | nc -l -p 5001 > /tmp/by-name & exec sleep 1000"});
  ASSERT_FALSE(a.empty());
  std::string b = start("b", {"--net", "bridge", "--link", a}, {"sleep", "1000"});
  ASSERT_FALSE(b.empty());
  std::string addr_a = address_of(a), addr_b = address_of(b);
  EXPECT_EQ(addr_a.rfind("10.77.", 0), 0u) << addr_a;
  EXPECT_EQ(addr_b.rfind("10.77.", 0), 0u) << addr_b;
  EXPECT_NE(addr_a, addr_b);

  CmdResult r = exec(b, "ping -c 2 -W 2 " + addr_a);
  EXPECT_EQ(r.status, 0) << r.describe();
  r = exec(a, "ping -c 2 -W 2 " + addr_b);
  EXPECT_EQ(r.status, 0) << r.describe();
  // --link: a's name in b's /etc/hosts, resolved by ping.
  r = exec(b, "cat /etc/hosts");
  EXPECT_TRUE(contains(r.out, addr_a + "\t" + a)) << r.out;
  r = exec(b, "ping -c 1 -W 2 " + a);
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "(" + addr_a + ")")) << r.out;

  // 1 MiB-ish streams (seq 1 40000: 228894 bytes), compared on arrival.
  ASSERT_TRUE(wait_listening(a, 5000));
  ASSERT_TRUE(wait_listening(a, 5001));
  r = exec(b, "seq 1 40000 | nc " + addr_a + " 5000", 30);
  EXPECT_EQ(r.status, 0) << r.describe();
  r = exec(b, "seq 1 40000 | nc " + a + " 5001", 30);
  EXPECT_EQ(r.status, 0) << r.describe();
  for (const char* file : {"/tmp/by-address", "/tmp/by-name"}) {
    std::string check = std::string("seq 1 40000 | cmp - ") + file + " && echo same";
    bool same = wait_until([&] { return contains(exec(a, check).out, "same"); }, 10);
    EXPECT_TRUE(same) << file << ": " << exec(a, std::string("wc -c ") + file).describe();
  }

  r = mult({"rm", "-f", a, b});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(leases(), Json::object());
  EXPECT_EQ(test_host_links(), (std::vector<std::string>{"lo", "mult0"}));
}

// --net none: loopback only, and the test host's loopback server is out of
// reach, as it is from a bridged instance (whose 127.0.0.1 is its own).
TEST_F(IntegrationNet, NoneHasOnlyLoopbackAndReachesNothingOfTheHost) {
  make_image();
  HostProcess& server = spawn({"/bin/busybox", "nc", "-l", "-p", "7777"});
  ASSERT_TRUE(wait_host_listening(7777)) << "busybox nc -l -p 7777 on the test host";

  CmdResult r = mult({"run", "--net", "none", "--", "ip", "-o", "link"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(link_names(r.out), std::vector<std::string>{"lo"}) << r.out;

  r = mult({"run", "--net", "none", "--", "nc", "-w", "2", "127.0.0.1", "7777"});
  EXPECT_NE(r.status, 0) << r.describe();
  r = mult({"run", "--net", "none", "--", "nc", "-w", "2", "10.77.0.1", "7777"});
  EXPECT_NE(r.status, 0) << r.describe();

  r = mult({"run", "--net", "bridge", "--", "sh", "-c",
            "ping -c 1 -W 2 10.77.0.1 >/dev/null || exit 99; nc -w 2 127.0.0.1 7777"});
  EXPECT_NE(r.status, 99) << "the bridge's gateway unreachable\n" << r.describe();
  EXPECT_NE(r.status, 0) << r.describe();

  // The server was there all along and nobody got to it.
  EXPECT_TRUE(server.running());
  r = sh("busybox nc -w 2 127.0.0.1 7777 </dev/null");
  EXPECT_EQ(r.status, 0) << "the test host's own client\n" << r.describe();
}

// --publish: the test host reaches a server inside through the bridge's
// gateway address; after rm it no longer does, and the rules are gone.
TEST_F(IntegrationNet, PublishedPortReachesServerUntilRemoved) {
  make_image();
  std::string srv = start("srv", {"--net", "bridge", "--publish", "8080:80"},
                          {"sh", "-c", "while :; do echo hello-from-inside | nc -l -p 80; done"});
  ASSERT_FALSE(srv.empty());
  ASSERT_TRUE(wait_listening(srv, 80));
  EXPECT_TRUE(contains(ruleset(), "mult:" + srv + " publish 8080/tcp")) << ruleset();

  CmdResult r = sh("busybox nc -w 3 10.77.0.1 8080 </dev/null");
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "hello-from-inside")) << r.describe();

  r = mult({"rm", "-f", srv});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = sh("busybox nc -w 3 10.77.0.1 8080 </dev/null");
  EXPECT_NE(r.status, 0) << r.describe();
  EXPECT_FALSE(contains(r.out, "hello-from-inside")) << r.describe();
  EXPECT_FALSE(contains(ruleset(), "mult:")) << ruleset();
  EXPECT_EQ(leases(), Json::object());
}

// --net instance:A: one stack for two instances, loopback included.
TEST_F(IntegrationNet, InstanceModeSharesTheStack) {
  make_image();
  std::string a = start("a", {"--net", "bridge"},
                        {"sh", "-c", "while :; do echo from-a | nc -l -p 9000; done"});
  ASSERT_FALSE(a.empty());
  std::string b = start("b", {"--net", "instance:" + a},
                        {"sh", "-c", "while :; do echo from-b | nc -l -p 9001; done"});
  ASSERT_FALSE(b.empty());
  ASSERT_TRUE(wait_listening(a, 9000));
  ASSERT_TRUE(wait_listening(a, 9001)) << "b's server, seen from a";

  CmdResult r = exec(b, "nc -w 3 127.0.0.1 9000 </dev/null");
  EXPECT_TRUE(contains(r.out, "from-a")) << r.describe();
  r = exec(a, "nc -w 3 127.0.0.1 9001 </dev/null");
  EXPECT_TRUE(contains(r.out, "from-b")) << r.describe();
  // A one-off instance joins it too.
  r = mult({"run", "--net", "instance:" + a, "--", "nc", "-w", "3", "127.0.0.1", "9000"});
  EXPECT_TRUE(contains(r.out, "from-a")) << r.describe();

  std::string addr_a = address_of(a);
  EXPECT_FALSE(addr_a.empty());
  EXPECT_EQ(address_of(b), addr_a);

  r = mult({"rm", "-f", b, a});
  EXPECT_EQ(r.status, 0) << r.describe();
}

// --net host: the test host's own interfaces, and NET host in ls.
TEST_F(IntegrationNet, HostModeSeesTheTestHostsInterfaces) {
  make_image();
  CmdResult r = sh("ip link add mttest0 type bridge");
  ASSERT_EQ(r.status, 0) << r.describe();

  r = mult({"run", "--net", "host", "--", "ip", "-o", "link"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(link_names(r.out), test_host_links()) << r.out;
  EXPECT_TRUE(contains(r.out, "mttest0")) << r.out;

  std::string h = start("h", {"--net", "host"}, {"sleep", "1000"});
  ASSERT_FALSE(h.empty());
  auto entry = listed(h);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->value("network", ""), "host") << entry->dump();
  r = mult({"ls"});
  bool seen = false;
  for (const auto& line : split_lines(r.out)) {
    auto w = split_words(line);
    if (!w.empty() && w[0] == h) {
      seen = true;
      ASSERT_GE(w.size(), 8u) << line;
      EXPECT_EQ(w[7], "host") << r.out;
    }
  }
  EXPECT_TRUE(seen) << r.out;

  r = mult({"rm", "-f", h});
  EXPECT_EQ(r.status, 0) << r.describe();
  r = sh("ip link del mttest0");
  EXPECT_EQ(r.status, 0) << r.describe();
}

// 50 bridged instances started at once: 50 addresses; after rm, nothing.
TEST_F(IntegrationNet, FiftyConcurrentInstancesGetDistinctAddresses) {
  make_image();
  constexpr int kCount = 50;
  std::vector<std::string> names;
  for (int i = 0; i < kCount; ++i) names.push_back(unique("p"));
  std::vector<CmdResult> results(kCount);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCount; ++i) {
    Argv args = {"run", "-d", "--name", names[i], "--net", "bridge"};
    // Some with rules, so that their removal is seen too.
    if (i < 5) args.insert(args.end(), {"--publish", std::to_string(9100 + i) + ":80"});
    else if (i < 10) args.push_back("--nat");
    args.insert(args.end(), {"--", "sleep", "1000"});
    // Threads share this thread's network namespace (the test host).
    threads.emplace_back([this, &results, i, args] { results[i] = MultTest::mult(args, 60); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) ASSERT_EQ(r.status, 0) << r.describe();

  std::set<std::string> addresses;
  for (const auto& n : names) {
    std::string addr = address_of(n);
    EXPECT_EQ(addr.rfind("10.77.", 0), 0u) << n << ": " << addr;
    addresses.insert(addr);
  }
  EXPECT_EQ(addresses.size(), size_t(kCount));
  EXPECT_EQ(leases().size(), size_t(kCount)) << leases().dump();
  EXPECT_EQ(split_lines(trim(sh("ip -o link show type veth").out)).size(), size_t(kCount));
  std::string rules = ruleset();
  EXPECT_TRUE(contains(rules, "mult:" + names[0] + " publish 9100/tcp")) << rules;
  EXPECT_TRUE(contains(rules, "mult:" + names[5] + " nat")) << rules;

  Argv rm = {"rm", "-f"};
  rm.insert(rm.end(), names.begin(), names.end());
  CmdResult r = mult(rm, 60);
  ASSERT_EQ(r.status, 0) << r.describe();

  EXPECT_EQ(test_host_links(), (std::vector<std::string>{"lo", "mult0"})) << sh("ip -o link").out;
  EXPECT_EQ(read_text(root() + "/networks/mult0.leases.json").empty(), false);
  EXPECT_EQ(leases(), Json::object());
  rules = ruleset();
  EXPECT_FALSE(contains(rules, "mult:")) << rules;
  EXPECT_FALSE(contains(rules, "dnat")) << rules;
  EXPECT_FALSE(contains(rules, "masquerade")) << rules;
  EXPECT_TRUE(contains(rules, "table ip mult")) << rules;  // the empty tables and chains stay
  EXPECT_EQ(ls_json().size(), 0u);
}

// Each bad request: a one-line error, a non-zero exit, and nothing left.
TEST_F(IntegrationNet, BadInputLeavesNothing) {
  make_image();
  std::string holder = start("holder", {"--net", "bridge", "--ip", "10.77.0.50", "--publish", "8081:80"},
                             {"sleep", "1000"});
  ASSERT_FALSE(holder.empty());
  ASSERT_EQ(address_of(holder), "10.77.0.50");

  struct Case {
    Argv options;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {{"--net", "bridge", "--ip", "10.9.0.5"}, "outside"},
      {{"--net", "bridge", "--ip", "10.77.0.50"}, holder},
      {{"--net", "bridge", "--ip", "not-an-address"}, "--ip"},
      {{"--net", "bridge:nope"}, "nope"},
      {{"--net", "bridge", "--publish", "8081:80"}, holder},
      {{"--net", "bridge", "--publish", "80"}, "--publish"},
      {{"--net", "bridge", "--publish", "abc:80"}, "--publish"},
      {{"--net", "bridge", "--publish", "8082:80/sctp"}, "--publish"},
      {{"--net", "bridge", "--publish", "70000:80"}, "--publish"},
  };
  auto state_now = [&] {
    return std::make_tuple(test_host_links(), leases().dump(), ruleset(), state_entries(root()),
                           mult_cgroup_dirs());
  };
  auto before = state_now();
  for (const auto& c : cases) {
    for (bool detach : {false, true}) {
      std::string name = unique("bad");
      Argv args = {"run", "--name", name};
      if (detach) args.push_back("-d");
      args.insert(args.end(), c.options.begin(), c.options.end());
      args.insert(args.end(), {"--", "true"});
      CmdResult r = mult(args);
      EXPECT_NE(r.status, 0) << r.describe();
      EXPECT_FALSE(r.timed_out) << r.describe();
      EXPECT_TRUE(one_line(r.err)) << r.describe();
      EXPECT_TRUE(contains(r.err, c.mentions)) << "should mention " << c.mentions << "\n" << r.describe();
      EXPECT_EQ(trim(r.out), "") << r.describe();
      auto after = state_now();
      EXPECT_TRUE(after == before) << "left behind by: " << r.describe() << "\nlinks now:\n"
                                   << sh("ip -o link").out << "\nleases now: " << leases().dump()
                                   << "\nrules now:\n" << ruleset();
      EXPECT_TRUE(cgroup_dirs_of(name).empty());
    }
  }
  // The holder was not disturbed.
  EXPECT_EQ(address_of(holder), "10.77.0.50");
  EXPECT_EQ(leases(), (Json{{"10.77.0.50", holder}}));
}

// Without libnftables (hidden by a bind mount in a mount namespace of the
// command's own) networking without rules still works, and --publish and
// --nat fail with one line naming the library, leaving nothing behind.
TEST_F(IntegrationNet, WithoutLibnftablesRulesFailCleanly) {
  make_image();
  void* lib = ::dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << ::dlerror();
  char dir[PATH_MAX] = {};
  ASSERT_EQ(::dlinfo(lib, RTLD_DI_ORIGIN, dir), 0) << ::dlerror();
  ::dlclose(lib);
  const std::string hide = "mount --bind /dev/null " + std::string(dir) + "/libnftables.so.1 && exec " +
                           MULT_BIN + " --root " + root() + " ";
  auto without_nft = [&](const std::string& args) {
    return sh("unshare -m --propagation private sh -c '" + hide + args + "'");
  };

  CmdResult r = without_nft("run --name " + unique("plain") + " --net bridge -- true");
  EXPECT_EQ(r.status, 0) << r.describe();
  auto before = std::make_tuple(test_host_links(), leases().dump(), ruleset(), state_entries(root()),
                                mult_cgroup_dirs());
  for (const char* opts : {"-p 8090:80", "--nat", "-d -p 8091:80"}) {
    std::string name = unique("nonft");
    r = without_nft("run --name " + name + " --net bridge " + opts + " -- true");
    EXPECT_NE(r.status, 0) << r.describe();
    EXPECT_TRUE(one_line(r.err)) << r.describe();
    EXPECT_TRUE(contains(r.err, "nftables is not available: cannot load libnftables.so.1")) << r.describe();
    auto after = std::make_tuple(test_host_links(), leases().dump(), ruleset(), state_entries(root()),
                                 mult_cgroup_dirs());
    EXPECT_TRUE(after == before) << "left behind by: " << r.describe() << "\nlinks now:\n"
                                 << sh("ip -o link").out << "\nleases now: " << leases().dump();
    EXPECT_TRUE(cgroup_dirs_of(name).empty());
  }
}

// mult net create / ls / rm, refused while in use.
TEST_F(IntegrationNet, NetworkCreateListRemove) {
  make_image();
  CmdResult r = mult({"net", "create", "n1", "--subnet", "10.99.0.0/24"});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"net", "ls", "--format", "json"});
  ASSERT_EQ(r.status, 0) << r.describe();
  std::string bridge;
  for (const auto& n : Json::parse(r.out))
    if (n.value("name", "") == "n1") {
      EXPECT_EQ(n.value("subnet", ""), "10.99.0.0/24") << n.dump();
      bridge = n.value("bridge", "");
    }
  ASSERT_FALSE(bridge.empty()) << r.out;
  r = mult({"net", "ls"});
  EXPECT_TRUE(contains(r.out, "n1")) << r.describe();
  EXPECT_TRUE(contains(r.out, "10.99.0.0/24")) << r.describe();

  std::string x = start("x", {"--net", "bridge:n1"}, {"sleep", "1000"});
  ASSERT_FALSE(x.empty());
  std::string addr = address_of(x);
  EXPECT_EQ(addr.rfind("10.99.0.", 0), 0u) << addr;
  auto links = test_host_links();
  EXPECT_TRUE(std::count(links.begin(), links.end(), bridge)) << sh("ip -o link").out;

  r = mult({"net", "rm", "n1"});
  EXPECT_NE(r.status, 0) << r.describe();
  EXPECT_TRUE(one_line(r.err)) << r.describe();
  EXPECT_TRUE(contains(r.err, "in use")) << r.describe();
  EXPECT_TRUE(contains(mult({"net", "ls"}).out, "n1"));
  EXPECT_EQ(address_of(x), addr) << "the instance lost its address";

  r = mult({"rm", "-f", x});
  ASSERT_EQ(r.status, 0) << r.describe();
  r = mult({"net", "rm", "n1"});
  EXPECT_EQ(r.status, 0) << r.describe();
  r = mult({"net", "ls", "--format", "json"});
  for (const auto& n : Json::parse(r.out)) EXPECT_NE(n.value("name", ""), "n1") << r.out;
  links = test_host_links();
  EXPECT_FALSE(std::count(links.begin(), links.end(), bridge)) << sh("ip -o link").out;
}

}  // namespace
}  // namespace mult_it
