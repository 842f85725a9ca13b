// Attaching instances to a bridge, all inside a network namespace made for
// the test (the "test host"); the instances are child processes in network
// namespaces of their own. Traffic only ever goes to addresses inside these
// namespaces.
#include "net_attach.hh"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "error.hh"
#include "net_test_host.hh"
#include "ipam.hh"
#include "net.hh"
#include "net_link.hh"
#include "nft.hh"

namespace fs = std::filesystem;

namespace mult {
namespace {

using test::slurp;

// ---- plain sockets, usable in any process ----------------------------------------

bool to_sockaddr(const std::string& addr, uint16_t port, sockaddr_storage& ss, socklen_t& len) {
  std::memset(&ss, 0, sizeof ss);
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    len = sizeof *s4;
    return true;
  }
  if (::inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    len = sizeof *s6;
    return true;
  }
  return false;
}

// Connects to addr:port and reads until EOF: the server's line, or "ERR ...".
std::string tcp_fetch(const std::string& addr, uint16_t port, int timeout_ms) {
  sockaddr_storage ss;
  socklen_t len;
  if (!to_sockaddr(addr, port, ss, len)) return "ERR bad address";
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("ERR socket: ") + std::strerror(errno);
  auto fail = [&](const std::string& what) {
    ::close(fd);
    return "ERR " + what;
  };
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    return fail(std::strerror(errno));
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return fail("connect timed out");
  int err = 0;
  socklen_t elen = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err) return fail(std::strerror(err));
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(
                       deadline - std::chrono::steady_clock::now())
                       .count());
    if (left <= 0) return fail("read timed out");
    p = {fd, POLLIN, 0};
    if (::poll(&p, 1, left) != 1) return fail("read timed out");
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EAGAIN) continue;
    if (n < 0) return fail(std::strerror(errno));
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  ::close(fd);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Serves forever on [::]:port (IPv4 too): each connection gets
// "NAME PEER-ADDRESS\n". Writes one byte to `ready` once listening.
[[noreturn]] void tcp_serve(uint16_t port, const std::string& name, int ready) {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int zero = 0, one = 1;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_any;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0)
    ::_exit(1);
  if (::write(ready, "k", 1) != 1) ::_exit(1);
  for (;;) {
    sockaddr_in6 peer{};
    socklen_t plen = sizeof peer;
    int c = ::accept(fd, reinterpret_cast<sockaddr*>(&peer), &plen);
    if (c < 0) continue;
    char text[INET6_ADDRSTRLEN] = "?";
    ::inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof text);
    std::string p = text;
    if (p.rfind("::ffff:", 0) == 0) p.erase(0, 7);
    std::string line = name + " " + p + "\n";
    ssize_t ignored = ::write(c, line.data(), line.size());
    (void)ignored;
    ::close(c);
  }
}

// ---- an instance: a child process in its own network namespace -----------------

// Obeys one-line commands from the test:
//   serve PORT NAME      a server (a grandchild) on PORT; answers "ok"
//   fetch ADDR PORT MS   answers what tcp_fetch got
//   ping                 answers "pong"
class Agent {
 public:
  Agent() {
    int down[2], up[2];
    if (::pipe2(down, O_CLOEXEC) != 0 || ::pipe2(up, O_CLOEXEC) != 0) throw sys_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw sys_error("fork");
    if (pid_ == 0) {
      ::close(down[1]);
      ::close(up[0]);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::unshare(CLONE_NEWNET) != 0) ::_exit(10);
      try {
        bring_up_loopback();
      } catch (...) {
        ::_exit(11);
      }
      serve_commands(down[0], up[1]);
    }
    ::close(down[0]);
    ::close(up[1]);
    to_ = down[1];
    from_ = up[0];
    if (call("ping") != "pong") throw Error("agent did not start");
  }
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  ~Agent() { kill(); }

  pid_t pid() const { return pid_; }

  // Sends a command and returns the answer line ("" on timeout).
  std::string call(const std::string& cmd, int timeout_ms = 15000) {
    std::string line = cmd + "\n";
    if (::write(to_, line.data(), line.size()) != ssize_t(line.size())) return "";
    std::string out;
    for (;;) {
      pollfd p{from_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) != 1) return "";
      char c;
      if (::read(from_, &c, 1) != 1) return "";
      if (c == '\n') return out;
      out += c;
    }
  }

  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (to_ >= 0) ::close(to_);
    if (from_ >= 0) ::close(from_);
    to_ = from_ = -1;
  }

 private:
  [[noreturn]] static void serve_commands(int in, int out) {
    std::string line;
    char c;
    while (::read(in, &c, 1) == 1) {
      if (c != '\n') {
        line += c;
        continue;
      }
      std::istringstream words(line);
      line.clear();
      std::string cmd, answer;
      words >> cmd;
      if (cmd == "ping") {
        answer = "pong";
      } else if (cmd == "fetch") {
        std::string addr;
        int port = 0, ms = 3000;
        words >> addr >> port >> ms;
        answer = tcp_fetch(addr, uint16_t(port), ms);
      } else if (cmd == "serve") {
        int port = 0;
        std::string name;
        words >> port >> name;
        int ready[2];
        if (::pipe(ready) != 0) ::_exit(12);
        pid_t server = ::fork();
        if (server == 0) {
          ::close(ready[0]);
          ::prctl(PR_SET_PDEATHSIG, SIGKILL);
          tcp_serve(uint16_t(port), name, ready[1]);
        }
        ::close(ready[1]);
        char k = 0;
        answer = server > 0 && ::read(ready[0], &k, 1) == 1 ? "ok" : "err";
        ::close(ready[0]);
      } else {
        answer = "unknown";
      }
      answer += "\n";
      if (::write(out, answer.data(), answer.size()) != ssize_t(answer.size())) ::_exit(13);
    }
    ::_exit(0);
  }

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

using test::error_of;

// ---- the test host ------------------------------------------------------------------

class NetAttachTest : public test::NetTestHost {
 protected:
  void SetUp() override {
    NetTestHost::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    make_state_root();
  }

  void TearDown() override {
    agents_.clear();  // the instances and their namespaces go first
    NetTestHost::TearDown();
  }

  Agent& agent() {
    agents_.push_back(std::make_unique<Agent>());
    return *agents_.back();
  }

  NetAttachment attach(const std::string& name, Agent& a, NetRequest req = {}) {
    return NetAttachment::attach(store_, name, req, a.pid());
  }

  std::set<std::string> host_links() {
    Netlink nl;
    std::set<std::string> names;
    for (const auto& l : list_links(nl)) names.insert(l.name);
    return names;
  }

  std::set<std::string> links_of(pid_t pid) {
    Netlink nl = Netlink::in_netns_of(pid);
    std::set<std::string> names;
    for (const auto& l : list_links(nl)) names.insert(l.name);
    return names;
  }

  std::string nft_table_text() {
    Nft nft;
    std::string out, err, all;
    for (const char* f : {"ip", "ip6"})
      if (nft.try_run(std::string("list table ") + f + " mult", out, err)) all += out;
    return all;
  }

  std::map<std::string, std::string> leases(const std::string& net = "mult0") {
    return Ipam(store_, net).leases();
  }

  // Waits until link `name` is gone from the test host (a dead instance's
  // namespace is torn down asynchronously).
  bool wait_link_gone(const std::string& name) {
    Netlink nl;
    for (int i = 0; i < 200; ++i) {
      if (!find_link(nl, name)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::vector<std::unique_ptr<Agent>> agents_;
};

TEST(NetPublish, Parses) {
  auto p = parse_publish({"8080:80", "53:5353/udp", "1:65535/tcp"});
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].host_port, 8080);
  EXPECT_EQ(p[0].port, 80);
  EXPECT_EQ(p[0].proto, "tcp");
  EXPECT_EQ(p[0].key(), "8080/tcp");
  EXPECT_EQ(p[1].key(), "53/udp");
  EXPECT_EQ(p[1].port, 5353);
  EXPECT_EQ(p[2].port, 65535);
  for (std::string bad : {"x", "8080", "8080:", ":80", "0:80", "80:0", "70000:80", "8080:80/sctp",
                          "8080:80/", "a:b", "8080:80:90", "-1:80", "8080: 80"}) {
    EXPECT_EQ(error_of([&] { parse_publish({bad}); }),
              "--publish \"" + bad + "\": expected HOSTPORT:PORT[/tcp|/udp]");
  }
  EXPECT_EQ(error_of([&] { parse_publish({"8080:80", "8080:81/tcp"}); }),
            "--publish 8080/tcp: given twice");
  EXPECT_NO_THROW(parse_publish({"8080:80", "8080:80/udp"}));
}

TEST(NetHosts, File) {
  EXPECT_EQ(hosts_file("web", "web", "10.77.0.2", {{"db", "10.77.0.3"}, {"cache", "10.77.0.4"}}),
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\n"
            "ff02::1\tip6-allnodes\n"
            "ff02::2\tip6-allrouters\n"
            "10.77.0.2\tweb\n"
            "10.77.0.3\tdb\n"
            "10.77.0.4\tcache\n");
  std::string h = hosts_file("web", "www", "", {});
  EXPECT_NE(h.find("127.0.1.1\twww web\n"), std::string::npos) << h;
  EXPECT_EQ(host_veth_name("web").size(), 13u);
  EXPECT_EQ(host_veth_name("web").rfind("mv", 0), 0u);
  EXPECT_NE(host_veth_name("web"), host_veth_name("web2"));
}

TEST_F(NetAttachTest, TwoInstancesTalk) {
  Agent& a = agent();
  Agent& b = agent();
  NetAttachment na = attach("a", a);
  NetAttachment nb = attach("b", b);
  EXPECT_EQ(na.address(), "10.77.0.2");
  EXPECT_EQ(nb.address(), "10.77.0.3");
  EXPECT_EQ(na.gateway(), "10.77.0.1");
  EXPECT_EQ(na.address6(), "fd77::2");
  EXPECT_EQ(na.host_veth(), host_veth_name("a"));

  // The bridge and the veths in the test host; forwarding on there.
  Netlink nl;
  auto bridge = find_link(nl, "mult0");
  ASSERT_TRUE(bridge);
  EXPECT_EQ(bridge->kind, "bridge");
  EXPECT_TRUE(bridge->flags & 1 /*IFF_UP*/);
  auto va = find_link(nl, na.host_veth());
  ASSERT_TRUE(va);
  EXPECT_EQ(va->master, bridge->index);
  EXPECT_EQ(va->kind, "veth");
  EXPECT_EQ(slurp("/proc/sys/net/ipv4/ip_forward"), "1\n");

  // eth0 inside, with the bridge's MTU; nothing else new.
  Netlink in_a = Netlink::in_netns_of(a.pid());
  auto eth0 = find_link(in_a, "eth0");
  ASSERT_TRUE(eth0);
  EXPECT_EQ(eth0->mtu, bridge->mtu);
  EXPECT_EQ(links_of(a.pid()), (std::set<std::string>{"lo", "eth0"}));

  // The record.
  auto rec = NetRecord::load(store_, "a");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->veth, na.host_veth());
  EXPECT_EQ(rec->address, "10.77.0.2");
  EXPECT_TRUE(rec->rules.empty());
  std::map<std::string, std::string> want = {{"10.77.0.2", "a"}, {"10.77.0.3", "b"}};
  EXPECT_EQ(leases(), want);

  // Traffic: instance to instance, v4 and v6, and host to instance.
  ASSERT_EQ(a.call("serve 80 A"), "ok");
  EXPECT_EQ(b.call("fetch 10.77.0.2 80 5000"), "A 10.77.0.3");
  EXPECT_EQ(b.call("fetch fd77::2 80 5000"), "A fd77::3");
  EXPECT_EQ(tcp_fetch("10.77.0.2", 80, 5000), "A 10.77.0.1");
  EXPECT_EQ(tcp_fetch("fd77::2", 80, 5000), "A fd77::1");
  ASSERT_EQ(b.call("serve 81 B"), "ok");
  EXPECT_EQ(a.call("fetch 10.77.0.3 81 5000"), "B 10.77.0.2");

  // Detach: everything goes, twice is fine.
  na.keep();
  nb.keep();
  NetAttachment::detach(store_, "a");
  NetAttachment::detach(store_, "a");
  EXPECT_FALSE(find_link(nl, host_veth_name("a")));
  EXPECT_EQ(links_of(a.pid()), (std::set<std::string>{"lo"}));
  EXPECT_FALSE(fs::exists(store_.runtime_dir("a") + "/net.json"));
  want = {{"10.77.0.3", "b"}};
  EXPECT_EQ(leases(), want);
  EXPECT_NE(b.call("fetch 10.77.0.2 80 500").rfind("ERR", 0), std::string::npos);

  // A dead instance: its veth went with its namespace; detach still cleans up.
  b.kill();
  EXPECT_TRUE(wait_link_gone(host_veth_name("b")));
  NetAttachment::detach(store_, "b");
  EXPECT_TRUE(leases().empty());
  EXPECT_FALSE(fs::exists(store_.runtime_dir("b") + "/net.json"));
  // The bridge stays for the next instance.
  EXPECT_TRUE(find_link(nl, "mult0"));
}

TEST_F(NetAttachTest, StaticAddressMacMtu) {
  Agent& a = agent();
  NetRequest req;
  req.ip = "10.77.1.20";
  req.mac = "02:42:ac:11:00:09";
  req.mtu = 1400;
  NetAttachment na = attach("a", a, req);
  EXPECT_EQ(na.address(), "10.77.1.20");
  EXPECT_EQ(na.address6(), "fd77::114");
  Netlink in_a = Netlink::in_netns_of(a.pid());
  auto eth0 = find_link(in_a, "eth0");
  ASSERT_TRUE(eth0);
  EXPECT_EQ(eth0->mtu, 1400u);
  EXPECT_EQ(eth0->mac, "02:42:ac:11:00:09");
  Netlink nl;
  EXPECT_EQ(find_link(nl, na.host_veth())->mtu, 1400u);
  ASSERT_EQ(a.call("serve 80 A"), "ok");
  EXPECT_EQ(tcp_fetch("10.77.1.20", 80, 5000), "A 10.77.0.1");
  // The destructor undoes it all without keep().
  na = NetAttachment();
  EXPECT_FALSE(find_link(nl, host_veth_name("a")));
  EXPECT_TRUE(leases().empty());
  EXPECT_EQ(links_of(a.pid()), (std::set<std::string>{"lo"}));
  EXPECT_FALSE(fs::exists(store_.runtime_dir("a")));
}

TEST_F(NetAttachTest, PublishedPorts) {
  Agent& a = agent();
  Agent& b = agent();
  NetRequest req;
  req.publish = {"8080:80", "5353:53/udp"};
  NetAttachment na = attach("a", a, req);
  NetAttachment nb = attach("b", b);
  ASSERT_EQ(a.call("serve 80 A"), "ok");
  // Another address of the test host's own, on lo.
  Netlink nl;
  add_address(nl, "lo", "192.0.2.1/32");

  // The test host, to its own addresses.
  EXPECT_EQ(tcp_fetch("10.77.0.1", 8080, 5000), "A 10.77.0.1");
  EXPECT_EQ(tcp_fetch("192.0.2.1", 8080, 5000), "A 192.0.2.1");
  EXPECT_EQ(tcp_fetch("fd77::1", 8080, 5000), "A fd77::1");
  // Loopback is not published (no route_localnet): refused, not hung.
  EXPECT_EQ(tcp_fetch("127.0.0.1", 8080, 2000).rfind("ERR", 0), 0u);
  // Another instance, through a host address (hairpin: the reply must come
  // back through the host, so the source is masqueraded).
  EXPECT_EQ(b.call("fetch 10.77.0.1 8080 5000"), "A 10.77.0.1");
  EXPECT_EQ(b.call("fetch 192.0.2.1 8080 5000"), "A 10.77.0.1");
  EXPECT_EQ(b.call("fetch fd77::1 8080 5000"), "A fd77::1");
  // The instance itself, through a host address.
  EXPECT_EQ(a.call("fetch 10.77.0.1 8080 5000"), "A 10.77.0.1");

  // The rules carry the instance's name and are recorded.
  auto rec = NetRecord::load(store_, "a");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->rules.size(), 12u);  // 2 ports x 3 chains x 2 families
  std::string table = nft_table_text();
  EXPECT_NE(table.find("comment \"mult:a publish 8080/tcp\""), std::string::npos) << table;
  EXPECT_NE(table.find("comment \"mult:a publish 5353/udp\""), std::string::npos) << table;

  // A port taken by another instance.
  Agent& c = agent();
  auto links_before = host_links();
  NetRequest clash;
  clash.publish = {"9090:90", "8080:80"};
  EXPECT_EQ(error_of([&] { attach("c", c, clash); }),
            "--publish 8080/tcp: already published by instance \"a\"");
  EXPECT_EQ(host_links(), links_before);
  EXPECT_EQ(leases().size(), 2u);
  EXPECT_EQ(nft_table_text().find("mult:c"), std::string::npos);
  // The same port over udp is another port.
  NetRequest udp;
  udp.publish = {"8080:80/udp"};
  EXPECT_NO_THROW(attach("c", c, udp));  // undone at once (not kept)
  EXPECT_EQ(nft_table_text().find("mult:c"), std::string::npos);

  // Detach: the rules go.
  na.keep();
  NetAttachment::detach(store_, "a");
  table = nft_table_text();
  EXPECT_EQ(table.find("mult:a"), std::string::npos) << table;
  EXPECT_EQ(tcp_fetch("10.77.0.1", 8080, 2000).rfind("ERR", 0), 0u);
  // Now the port is free for another.
  NetRequest again;
  again.publish = {"8080:81"};
  NetAttachment nc = attach("c", c, again);
  ASSERT_EQ(c.call("serve 81 C"), "ok");
  EXPECT_EQ(tcp_fetch("192.0.2.1", 8080, 5000), "C 192.0.2.1");
}

TEST_F(NetAttachTest, Masquerade) {
  // An "outside" namespace behind the test host: 198.51.100.2, reached via
  // veth "tout" (198.51.100.1), with no route back to the instances' subnet.
  Agent& outside = agent();
  Netlink nl;
  create_veth_pair(nl, "tout", "eth0", outside.pid());
  add_address(nl, "tout", "198.51.100.1/24");
  set_up(nl, "tout");
  {
    Netlink in = Netlink::in_netns_of(outside.pid());
    add_address(in, "eth0", "198.51.100.2/24");
    set_up(in, "eth0");
  }
  ASSERT_EQ(outside.call("serve 7000 OUT"), "ok");
  ASSERT_EQ(tcp_fetch("198.51.100.2", 7000, 5000), "OUT 198.51.100.1");

  Agent& a = agent();
  Agent& b = agent();
  NetRequest nat;
  nat.nat = true;
  NetAttachment na = attach("a", a, nat);
  NetRequest pub;
  pub.publish = {"8080:80"};
  NetAttachment nb = attach("b", b, pub);
  // With NAT, the outside sees the test host's address.
  EXPECT_EQ(a.call("fetch 198.51.100.2 7000 5000"), "OUT 198.51.100.1");
  // Without, packets arrive from 10.77.0.3, which the outside cannot answer.
  EXPECT_EQ(b.call("fetch 198.51.100.2 7000 1000").rfind("ERR", 0), 0u);
  // Inside the subnet there is no NAT.
  ASSERT_EQ(b.call("serve 80 B"), "ok");
  EXPECT_EQ(a.call("fetch 10.77.0.3 80 5000"), "B 10.77.0.2");
  // From outside to a published port: forwarded, and the instance sees the
  // real client.
  EXPECT_EQ(outside.call("fetch 198.51.100.1 8080 5000"), "B 198.51.100.2");
  std::string table = nft_table_text();
  EXPECT_NE(table.find("comment \"mult:a nat\""), std::string::npos) << table;
  na.keep();
  NetAttachment::detach(store_, "a");
  EXPECT_EQ(nft_table_text().find("mult:a"), std::string::npos);
}

// Each step of attach made to fail in turn: nothing may remain.
TEST_F(NetAttachTest, FailuresLeaveNothing) {
  Agent& a = agent();
  Agent& x = agent();
  NetRequest pub;
  pub.publish = {"8080:80"};
  NetAttachment na = attach("a", a, pub);  // the bridge, a lease, rules

  struct Case {
    std::string what;
    std::function<void(NetRequest&)> setup;
    std::string error;
  };
  Netlink nl;
  std::vector<Case> cases = {
      {"bad publish", [](NetRequest& r) { r.publish = {"80"}; },
       "--publish \"80\": expected HOSTPORT:PORT[/tcp|/udp]"},
      {"bad mac", [](NetRequest& r) { r.mac = "zz"; },
       "--mac \"zz\": expected six hex bytes like 02:42:ac:11:00:02"},
      {"bad mtu", [](NetRequest& r) { r.mtu = 100000; }, "--mtu 100000: expected 68 to 65535"},
      {"no network", [](NetRequest& r) { r.network = "nope"; }, "network \"nope\": no such network"},
      {"ip outside", [](NetRequest& r) { r.ip = "10.9.0.5"; },
       "--ip 10.9.0.5: outside network \"mult0\" (10.77.0.0/16)"},
      {"ip taken", [](NetRequest& r) { r.ip = "10.77.0.2"; },
       "--ip 10.77.0.2: already in use by instance \"a\""},
      {"port taken", [](NetRequest& r) { r.publish = {"9000:90", "8080:80"}; },
       "--publish 8080/tcp: already published by instance \"a\""},
      // The kernel refuses a multicast MAC: after the veth was made.
      {"multicast mac", [](NetRequest& r) {
         r.mac = "01:00:5e:00:00:01";
         r.publish = {"9000:90"};
       },
       "link \"eth0\" (mac 01:00:5e:00:00:01): netlink: Cannot assign requested address"},
      // The veth's name is taken in the test host: after lease and rules.
      {"veth name taken", [&](NetRequest& r) {
         create_bridge(nl, host_veth_name("x"));
         r.publish = {"9000:90"};
         r.nat = true;
       },
       "veth \"" + host_veth_name("x") + "\": netlink: File exists"},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    NetRequest req;
    c.setup(req);
    auto links = host_links();
    auto before_leases = leases();
    std::string table = nft_table_text();
    EXPECT_EQ(error_of([&] { attach("x", x, req); }), c.error);
    EXPECT_EQ(host_links(), links);
    EXPECT_EQ(leases(), before_leases);
    EXPECT_EQ(nft_table_text(), table);
    EXPECT_EQ(nft_table_text().find("mult:x"), std::string::npos);
    EXPECT_EQ(links_of(x.pid()), (std::set<std::string>{"lo"}));
    EXPECT_FALSE(fs::exists(store_.runtime_dir("x")));
    delete_link(nl, host_veth_name("x"));  // the collision's own link, not ours
  }
  // No such process / the host's own namespace.
  EXPECT_NE(error_of([&] { NetAttachment::attach(store_, "x", {}, 999999999); })
                .find("network namespace of process 999999999"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { NetAttachment::attach(store_, "x", {}, ::getpid()); }),
            "instance \"x\": process " + std::to_string(::getpid()) +
                " shares the host's network namespace");
  EXPECT_EQ(leases().size(), 1u);
  // And after all that, x attaches fine.
  NetAttachment nx = attach("x", x);
  EXPECT_EQ(nx.address(), "10.77.0.3");
}

TEST_F(NetAttachTest, AttachingTwiceAndStaleRecords) {
  Agent& a = agent();
  NetAttachment na = attach("a", a);
  na.keep();
  EXPECT_EQ(error_of([&] { attach("a", a); }), "instance \"a\": already attached to network \"mult0\"");
  EXPECT_TRUE(NetRecord::load(store_, "a"));
  EXPECT_EQ(leases().size(), 1u);
  // The instance dies without detach; the next one of that name cleans up.
  a.kill();
  ASSERT_TRUE(wait_link_gone(host_veth_name("a")));
  Agent& a2 = agent();
  NetRequest req;
  req.publish = {"8080:80"};
  NetAttachment na2 = attach("a", a2, req);
  EXPECT_EQ(na2.address(), "10.77.0.2");
  ASSERT_EQ(a2.call("serve 80 A2"), "ok");
  EXPECT_EQ(tcp_fetch("10.77.0.1", 8080, 5000), "A2 10.77.0.1");
}

TEST_F(NetAttachTest, OtherNetwork) {
  create_network(store_, "back", "10.88.0.0/24");
  Agent& a = agent();
  NetRequest req;
  req.network = "back";
  NetAttachment na = attach("a", a, req);
  EXPECT_EQ(na.address(), "10.88.0.2");
  EXPECT_EQ(na.address6(), "");
  Netlink nl;
  EXPECT_TRUE(find_link(nl, "mult-back"));
  EXPECT_FALSE(find_link(nl, "mult0"));
  ASSERT_EQ(a.call("serve 80 A"), "ok");
  EXPECT_EQ(tcp_fetch("10.88.0.2", 80, 5000), "A 10.88.0.1");
  EXPECT_EQ(error_of([&] { remove_network(store_, "back"); }), "network \"back\": in use by 1 instance");
  na = NetAttachment();
  remove_network(store_, "back");
  EXPECT_FALSE(find_link(nl, "mult-back"));
}

}  // namespace
}  // namespace mult
