// IPAM: networks and leases on a temporary state root, inside a network
// namespace made for the test (remove_network deletes bridge links).
#include "ipam.hh"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "error.hh"
#include "net_test_host.hh"
#include "net.hh"
#include "net_addr.hh"
#include "net_link.hh"

namespace fs = std::filesystem;

namespace mult {
namespace {

using test::slurp;

// Runs `fn`, expecting an Error whose message is exactly `msg`.
template <typename F>
void expect_error(F&& fn, const std::string& msg) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected: " << msg;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), msg);
  }
}

// On the test host (net_test_host.hh), with a state root of its own.
class IpamTest : public test::NetTestHost {
 protected:
  void SetUp() override {
    NetTestHost::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    make_state_root();
  }
};

TEST(IpamAddr, ParsesAndComputes) {
  auto c = Cidr::parse("10.77.0.0/16");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->str(), "10.77.0.0/16");
  EXPECT_EQ(c->host(1).str(), "10.77.0.1");
  EXPECT_EQ(c->host(258).str(), "10.77.1.2");
  EXPECT_EQ(c->host_number(*IpAddress::parse("10.77.1.2")), 258u);
  EXPECT_EQ(c->host_count(), 65536u);
  EXPECT_TRUE(c->contains(*IpAddress::parse("10.77.255.255")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("10.78.0.0")));
  EXPECT_TRUE(c->overlaps(*Cidr::parse("10.77.3.0/24")));
  EXPECT_TRUE(Cidr::parse("10.0.0.0/8")->overlaps(*c));
  EXPECT_FALSE(c->overlaps(*Cidr::parse("10.78.0.0/16")));
  EXPECT_TRUE(Cidr::parse("10.77.0.5/16")->has_host_bits());
  auto c6 = Cidr::parse("fd77::/64");
  ASSERT_TRUE(c6);
  EXPECT_EQ(c6->host(258).str(), "fd77::102");
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33"));
  EXPECT_FALSE(Cidr::parse("10.0.0/8"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/8x"));
  EXPECT_EQ(short_hash("a", 11).size(), 11u);
  EXPECT_NE(short_hash("a", 11), short_hash("b", 11));
}

TEST_F(IpamTest, DefaultNetworkMadeOnFirstUse) {
  EXPECT_TRUE(list_networks(store_).empty());
  Network n = load_network(store_, "mult0");
  EXPECT_EQ(n.name, "mult0");
  EXPECT_EQ(n.bridge, "mult0");
  EXPECT_EQ(n.subnet, "10.77.0.0/16");
  EXPECT_EQ(n.gateway, "10.77.0.1");
  EXPECT_EQ(n.subnet6, "fd77::/64");
  EXPECT_EQ(n.gateway6, "fd77::1");
  EXPECT_TRUE(fs::exists(root_ + "/networks/mult0.json"));
  ASSERT_EQ(list_networks(store_).size(), 1u);
  expect_error([&] { load_network(store_, "nope"); }, "network \"nope\": no such network");
}

TEST_F(IpamTest, LeaseAndRelease) {
  Ipam ipam(store_, "mult0");
  Lease a = ipam.lease("a");
  EXPECT_EQ(a.address, "10.77.0.2");
  EXPECT_EQ(a.prefix, 16);
  EXPECT_EQ(a.gateway, "10.77.0.1");
  EXPECT_EQ(a.address6, "fd77::2");
  EXPECT_EQ(a.prefix6, 64);
  EXPECT_EQ(a.gateway6, "fd77::1");
  EXPECT_FALSE(a.reused);
  Lease b = ipam.lease("b");
  EXPECT_EQ(b.address, "10.77.0.3");
  Lease again = ipam.lease("a");
  EXPECT_EQ(again.address, "10.77.0.2");
  EXPECT_TRUE(again.reused);
  EXPECT_EQ(ipam.find("b").address, "10.77.0.3");
  EXPECT_EQ(ipam.find("zz").address, "");

  EXPECT_TRUE(ipam.release("a"));
  EXPECT_FALSE(ipam.release("a"));
  Lease c = ipam.lease("c");
  EXPECT_EQ(c.address, "10.77.0.2");  // the lowest free address

  auto j = nlohmann::json::parse(slurp(root_ + "/networks/mult0.leases.json"));
  EXPECT_EQ(j, nlohmann::json({{"10.77.0.2", "c"}, {"10.77.0.3", "b"}}));
  std::map<std::string, std::string> want = {{"10.77.0.2", "c"}, {"10.77.0.3", "b"}};
  EXPECT_EQ(ipam.leases(), want);
}

TEST_F(IpamTest, StaticAddresses) {
  Ipam ipam(store_, "mult0");
  Lease a = ipam.lease("a", "10.77.0.9");
  EXPECT_EQ(a.address, "10.77.0.9");
  EXPECT_EQ(a.address6, "fd77::9");
  EXPECT_EQ(ipam.lease("b").address, "10.77.0.2");
  expect_error([&] { ipam.lease("c", "10.77.0.9"); },
               "--ip 10.77.0.9: already in use by instance \"a\"");
  expect_error([&] { ipam.lease("c", "10.9.0.5"); },
               "--ip 10.9.0.5: outside network \"mult0\" (10.77.0.0/16)");
  expect_error([&] { ipam.lease("c", "10.77.0.1"); },
               "--ip 10.77.0.1: the gateway of network \"mult0\"");
  expect_error([&] { ipam.lease("c", "10.77.0.0"); },
               "--ip 10.77.0.0: the network address of network \"mult0\"");
  expect_error([&] { ipam.lease("c", "10.77.255.255"); },
               "--ip 10.77.255.255: the broadcast address of network \"mult0\"");
  expect_error([&] { ipam.lease("c", "banana"); }, "--ip \"banana\": not an IPv4 address");
  expect_error([&] { ipam.lease("c", "fd77::5"); }, "--ip \"fd77::5\": not an IPv4 address");
  // A new address for a holder replaces its old one.
  EXPECT_EQ(ipam.lease("a", "10.77.3.4").address, "10.77.3.4");
  std::map<std::string, std::string> want = {{"10.77.0.2", "b"}, {"10.77.3.4", "a"}};
  EXPECT_EQ(ipam.leases(), want);
}

TEST_F(IpamTest, SmallSubnetFills) {
  Network n = create_network(store_, "tiny", "10.99.0.0/30");
  EXPECT_EQ(n.gateway, "10.99.0.1");
  EXPECT_EQ(n.subnet6, "");
  Ipam ipam(store_, "tiny");
  Lease x = ipam.lease("x");
  EXPECT_EQ(x.address, "10.99.0.2");
  EXPECT_EQ(x.address6, "");
  expect_error([&] { ipam.lease("y"); }, "network \"tiny\": no free address (10.99.0.0/30 is full)");
  ipam.release("x");
  EXPECT_EQ(ipam.lease("y").address, "10.99.0.2");
}

TEST_F(IpamTest, CreateNetworkErrors) {
  create_network(store_, "one", "10.10.0.0/16", "fd10::/64");
  expect_error([&] { create_network(store_, "one", "10.11.0.0/16"); },
               "network \"one\": already exists");
  expect_error([&] { create_network(store_, "two", "10.10.5.0/24"); },
               "network \"two\": subnet 10.10.5.0/24 overlaps network \"one\" (10.10.0.0/16)");
  expect_error([&] { create_network(store_, "two", "10.0.0.0/8"); },
               "network \"two\": subnet 10.0.0.0/8 overlaps network \"one\" (10.10.0.0/16)");
  expect_error([&] { create_network(store_, "two", "10.12.0.0/16", "fd10::/48"); },
               "network \"two\": IPv6 subnet fd10::/48 overlaps network \"one\" (fd10::/64)");
  expect_error([&] { create_network(store_, "two", "10.12.0.0/33"); },
               "network \"two\": subnet \"10.12.0.0/33\": expected an IPv4 CIDR like 10.77.0.0/16");
  expect_error([&] { create_network(store_, "two", "nonsense"); },
               "network \"two\": subnet \"nonsense\": expected an IPv4 CIDR like 10.77.0.0/16");
  expect_error([&] { create_network(store_, "two", "10.12.0.5/16"); },
               "network \"two\": subnet \"10.12.0.5/16\": host bits set (did you mean 10.12.0.0/16?)");
  expect_error([&] { create_network(store_, "two", "10.12.0.0/31"); },
               "network \"two\": subnet \"10.12.0.0/31\": too small (at most /30)");
  expect_error([&] { create_network(store_, "two", "10.12.0.0/16", "10.13.0.0/16"); },
               "network \"two\": IPv6 subnet \"10.13.0.0/16\": expected an IPv6 CIDR like fd77::/64");
  expect_error([&] { create_network(store_, "two", "10.12.0.0/16", "fd12::/120"); },
               "network \"two\": IPv6 subnet \"fd12::/120\": too small for 10.12.0.0/16");
  EXPECT_THROW(create_network(store_, "bad/name", "10.12.0.0/16"), Error);
  EXPECT_EQ(list_networks(store_).size(), 1u);
  // The default network is checked against the others too.
  create_network(store_, "clash", "10.77.128.0/17");
  expect_error([&] { load_network(store_, "mult0"); },
               "network \"mult0\": subnet 10.77.0.0/16 overlaps network \"clash\" (10.77.128.0/17)");
}

TEST_F(IpamTest, ListAndRemove) {
  create_network(store_, "b-net", "10.20.0.0/24");
  Network a = create_network(store_, "a-net", "10.21.0.0/24", "fd21::/64");
  EXPECT_EQ(a.bridge, "mult-a-net");
  Network longname = create_network(store_, "a-rather-long-network-name", "10.22.0.0/24");
  EXPECT_LE(longname.bridge.size(), 15u);
  auto all = list_networks(store_);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "a-net");
  EXPECT_EQ(all[1].name, "a-rather-long-network-name");
  EXPECT_EQ(all[2].name, "b-net");

  // The bridge goes with the network (here: the test host's).
  Netlink nl;
  create_bridge(nl, "mult-a-net");
  Ipam ipam(store_, "a-net");
  ipam.lease("x");
  ipam.lease("y");
  expect_error([&] { remove_network(store_, "a-net"); }, "network \"a-net\": in use by 2 instances");
  ipam.release("x");
  expect_error([&] { remove_network(store_, "a-net"); }, "network \"a-net\": in use by 1 instance");
  ipam.release("y");
  remove_network(store_, "a-net");
  EXPECT_FALSE(find_link(nl, "mult-a-net"));
  EXPECT_FALSE(fs::exists(root_ + "/networks/a-net.json"));
  EXPECT_FALSE(fs::exists(root_ + "/networks/a-net.leases.json"));
  EXPECT_EQ(list_networks(store_).size(), 2u);
  expect_error([&] { remove_network(store_, "a-net"); }, "network \"a-net\": no such network");
  expect_error([&] { Ipam gone(store_, "a-net"); }, "network \"a-net\": no such network");
  // Without a bridge is fine too.
  remove_network(store_, "b-net");
}

TEST_F(IpamTest, ConcurrentLeasesAreDistinct) {
  load_network(store_, "mult0");
  constexpr int kN = 50;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::vector<pid_t> pids;
  for (int i = 0; i < kN; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      int rc = 0;
      try {
        Ipam ipam(store_, "mult0");
        std::string line = "c" + std::to_string(i) + " " + ipam.lease("c" + std::to_string(i)).address + "\n";
        if (::write(fds[1], line.data(), line.size()) != ssize_t(line.size())) rc = 2;
      } catch (...) {
        rc = 1;
      }
      ::_exit(rc);
    }
    pids.push_back(pid);
  }
  ::close(fds[1]);
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  ::close(fds[0]);

  std::map<std::string, std::string> reported;  // address -> instance
  std::istringstream in(out);
  std::string inst, addr;
  std::set<std::string> instances;
  while (in >> inst >> addr) {
    EXPECT_TRUE(reported.emplace(addr, inst).second) << addr << " given twice";
    instances.insert(inst);
  }
  EXPECT_EQ(reported.size(), size_t(kN));
  EXPECT_EQ(instances.size(), size_t(kN));
  // The file agrees with what each process was told.
  Ipam ipam(store_, "mult0");
  EXPECT_EQ(ipam.leases(), reported);
  for (const auto& [a, i] : reported) {
    auto ip = IpAddress::parse(a);
    ASSERT_TRUE(ip);
    EXPECT_TRUE(Cidr::parse("10.77.0.0/16")->contains(*ip));
    EXPECT_NE(a, "10.77.0.1");
  }
}

}  // namespace
}  // namespace mult
