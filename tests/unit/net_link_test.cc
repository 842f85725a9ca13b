// Netlink helpers and the nftables wrapper, inside a network namespace made
// for the test; "instances" are children in network namespaces of their own.
#include "net_link.hh"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "error.hh"
#include "net_test_host.hh"
#include "net.hh"
#include "nft.hh"

namespace mult {
namespace {

using test::slurp;

using test::error_of;

// A child in a network namespace of its own, doing nothing until killed.
class Sleeper {
 public:
  Sleeper() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw sys_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw sys_error("fork");
    if (pid_ == 0) {
      ::close(fds[0]);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::unshare(CLONE_NEWNET) != 0) ::_exit(10);
      if (::write(fds[1], "r", 1) != 1) ::_exit(11);
      for (;;) ::pause();
    }
    ::close(fds[1]);
    char c = 0;
    bool ok = ::read(fds[0], &c, 1) == 1;
    ::close(fds[0]);
    if (!ok) throw Error("child did not start");
  }
  ~Sleeper() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

class NetLinkTest : public test::NetTestHost {
 protected:
  void SetUp() override {
    NetTestHost::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
  }

  std::set<std::string> names(Netlink& nl) {
    std::set<std::string> out;
    for (const auto& l : list_links(nl)) out.insert(l.name);
    return out;
  }

};

TEST(NetLinkNames, Validation) {
  EXPECT_TRUE(valid_link_name("eth0"));
  EXPECT_TRUE(valid_link_name("mv0123456789abc"));  // 15
  EXPECT_FALSE(valid_link_name("mv0123456789abcd"));  // 16
  EXPECT_FALSE(valid_link_name(""));
  EXPECT_FALSE(valid_link_name("a/b"));
  EXPECT_FALSE(valid_link_name("a:b"));
  EXPECT_FALSE(valid_link_name("a b"));
  EXPECT_FALSE(valid_link_name(".."));
  uint8_t mac[6];
  EXPECT_TRUE(parse_mac("02:42:AC:11:00:0f", mac));
  EXPECT_EQ(mac[0], 0x02);
  EXPECT_EQ(mac[2], 0xac);
  EXPECT_EQ(mac[5], 0x0f);
  EXPECT_FALSE(parse_mac("02:42:ac:11:00", mac));
  EXPECT_FALSE(parse_mac("02-42-ac-11-00-0f", mac));
  EXPECT_FALSE(parse_mac("02:42:ac:11:00:0g", mac));
}

TEST_F(NetLinkTest, Bridge) {
  Netlink nl;
  EXPECT_EQ(names(nl), (std::set<std::string>{"lo"}));
  create_bridge(nl, "tbr0", 1400);
  EXPECT_EQ(error_of([&] { create_bridge(nl, "tbr0"); }), "bridge \"tbr0\": netlink: File exists");
  EXPECT_EQ(error_of([&] { create_bridge(nl, "way-too-long-name"); }),
            "bridge \"way-too-long-name\": invalid interface name (1 to 15 characters, no '/', ':' or spaces)");
  auto br = find_link(nl, "tbr0");
  ASSERT_TRUE(br);
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_EQ(br->mtu, 1400u);
  EXPECT_FALSE(br->flags & IFF_UP);
  EXPECT_EQ(link_index(nl, "tbr0"), br->index);
  EXPECT_EQ(int(if_nametoindex("tbr0")), br->index);  // this process's namespace
  add_address(nl, "tbr0", "10.66.0.1/24");
  add_address(nl, "tbr0", "fd66::1/64");
  EXPECT_EQ(error_of([&] { add_address(nl, "tbr0", "10.66.0.1/24"); }),
            "address 10.66.0.1/24 on \"tbr0\": netlink: File exists (ipv4: Address already assigned)");
  EXPECT_NO_THROW(add_address(nl, "tbr0", "10.66.0.1/24", true));
  EXPECT_EQ(error_of([&] { add_address(nl, "tbr0", "10.66.0.1"); }),
            "address 10.66.0.1 on \"tbr0\": not an address/prefix");
  set_up(nl, "tbr0");
  EXPECT_TRUE(find_link(nl, "tbr0")->flags & IFF_UP);
  set_mtu(nl, "tbr0", 1300);
  EXPECT_EQ(find_link(nl, "tbr0")->mtu, 1300u);
  set_mac(nl, "tbr0", "02:00:00:00:00:42");
  EXPECT_EQ(find_link(nl, "tbr0")->mac, "02:00:00:00:00:42");
  set_down(nl, "tbr0");
  EXPECT_FALSE(find_link(nl, "tbr0")->flags & IFF_UP);
  rename_link(nl, "tbr0", "tbr1");  // a link is renamed while down
  EXPECT_TRUE(find_link(nl, "tbr1"));
  EXPECT_FALSE(find_link(nl, "tbr0"));
  EXPECT_TRUE(delete_link(nl, "tbr1"));
  EXPECT_FALSE(delete_link(nl, "tbr1"));
  EXPECT_EQ(error_of([&] { link_index(nl, "tbr1"); }), "link \"tbr1\": no such network interface");
  EXPECT_EQ(error_of([&] { set_up(nl, "nope0"); }), "link \"nope0\": no such network interface");
  EXPECT_EQ(names(nl), (std::set<std::string>{"lo"}));
}

TEST_F(NetLinkTest, VethIntoAnotherNamespace) {
  Sleeper inst;
  Netlink nl;
  create_bridge(nl, "tbr0");
  set_up(nl, "tbr0");
  add_address(nl, "tbr0", "10.66.0.1/24");
  create_veth_pair(nl, "tv0", "tmp0", inst.pid(), 1450);
  EXPECT_EQ(error_of([&] { create_veth_pair(nl, "tv0", "tmp1", inst.pid()); }),
            "veth \"tv0\": netlink: File exists");
  auto host = find_link(nl, "tv0");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->kind, "veth");
  EXPECT_EQ(host->mtu, 1450u);
  EXPECT_FALSE(find_link(nl, "tmp0"));  // the peer is not here...
  Netlink in = Netlink::in_netns_of(inst.pid());
  auto peer = find_link(in, "tmp0");  // ...but there
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->mtu, 1450u);
  set_master(nl, "tv0", "tbr0");
  EXPECT_EQ(find_link(nl, "tv0")->master, link_index(nl, "tbr0"));
  set_hairpin(nl, "tv0", true);
  set_up(nl, "tv0");
  rename_link(in, "tmp0", "eth0");
  set_mac(in, "eth0", "02:00:00:00:00:07");
  add_address(in, "eth0", "10.66.0.7/24");
  add_address(in, "eth0", "fd66::7/64");
  set_up(in, "eth0");
  add_default_route(in, "10.66.0.1", "eth0");
  add_default_route(in, "fd66::1");
  EXPECT_EQ(error_of([&] { add_default_route(in, "10.66.0.1", "eth0"); }),
            "default route via 10.66.0.1: netlink: File exists");
  auto eth0 = find_link(in, "eth0");
  ASSERT_TRUE(eth0);
  EXPECT_EQ(eth0->mac, "02:00:00:00:00:07");
  EXPECT_TRUE(eth0->flags & IFF_UP);
  delete_neighbor(nl, "tbr0", "10.66.0.7");  // none yet: fine
  EXPECT_EQ(names(in), (std::set<std::string>{"lo", "eth0"}));
  // Deleting the host end takes the peer along.
  EXPECT_TRUE(delete_link(nl, "tv0"));
  EXPECT_EQ(names(in), (std::set<std::string>{"lo"}));
  EXPECT_EQ(names(nl), (std::set<std::string>{"lo", "tbr0"}));
}

TEST_F(NetLinkTest, MoveLink) {
  Sleeper a, b;
  Netlink nl;
  create_veth_pair(nl, "ta", "tb", ::getpid());  // both ends here
  EXPECT_TRUE(find_link(nl, "ta"));
  EXPECT_TRUE(find_link(nl, "tb"));
  move_link(nl, "tb", b.pid());
  EXPECT_FALSE(find_link(nl, "tb"));
  Netlink in_b = Netlink::in_netns_of(b.pid());
  EXPECT_TRUE(find_link(in_b, "tb"));
  std::string path = "/proc/" + std::to_string(a.pid()) + "/ns/net";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  move_link_fd(nl, "ta", fd);
  Netlink in_a = Netlink::in_netns_fd(fd);
  ::close(fd);
  EXPECT_FALSE(find_link(nl, "ta"));
  EXPECT_TRUE(find_link(in_a, "ta"));
  EXPECT_EQ(names(nl), (std::set<std::string>{"lo"}));
  EXPECT_NE(error_of([] { Netlink::in_netns_of(999999999); }).find("network namespace of process 999999999"),
            std::string::npos);
}

TEST_F(NetLinkTest, NftRulesByComment) {
  Nft nft;
  EXPECT_TRUE(nft_list_rules(nft, "ip", kNftTable).empty());  // no table yet
  nft_ensure_mult_table(nft, "ip");
  nft_ensure_mult_table(nft, "ip");  // twice is fine
  nft_ensure_mult_table(nft, "ip6");
  nft.run(
      "add rule ip mult prerouting tcp dport 8080 dnat to 10.77.0.2:80 comment \"mult:a publish 8080/tcp\"\n"
      "add rule ip mult postrouting ip saddr 10.77.0.2 masquerade comment \"mult:a nat\"\n"
      "add rule ip mult postrouting ip saddr 10.77.0.3 masquerade comment \"mult:ab nat\"\n"
      "add rule ip6 mult postrouting ip6 saddr fd77::2 masquerade comment \"mult:a nat\"\n");
  auto all = nft_list_rules(nft, "ip", kNftTable);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].chain, "prerouting");
  EXPECT_EQ(all[0].comment, "mult:a publish 8080/tcp");
  EXPECT_GT(all[0].handle, 0u);
  EXPECT_EQ(all[1].chain, "postrouting");
  EXPECT_TRUE(nft_comment_names("mult:a nat", "a"));
  EXPECT_FALSE(nft_comment_names("mult:ab nat", "a"));
  auto mine = nft_instance_rules(nft, "a");
  ASSERT_EQ(mine.size(), 3u);
  nft_delete_rules(nft, mine);
  nft_delete_rules(nft, mine);  // gone already: fine
  EXPECT_TRUE(nft_instance_rules(nft, "a").empty());
  ASSERT_EQ(nft_instance_rules(nft, "ab").size(), 1u);
  EXPECT_EQ(error_of([&] { nft.run("add rule ip mult nosuchchain accept"); }).rfind("nft: ", 0), 0u);
  std::string out, err;
  EXPECT_FALSE(nft.try_run("list table ip nosuch", out, err));
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;
}

}  // namespace
}  // namespace mult
