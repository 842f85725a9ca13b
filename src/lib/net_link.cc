// rtnetlink requests through libmnl.
#include "net_link.hh"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "error.hh"
#include "fd.hh"
#include "mnl.hh"
#include "net_addr.hh"

namespace mult {

// ---- the socket -------------------------------------------------------------

void Netlink::Close::operator()(mnl_socket* s) const { mnl().socket_close(s); }

Netlink::Netlink() : Netlink(-1) {}

Netlink::Netlink(int netns_fd) : buf_(64 * 1024) {
  Fd home;
  if (netns_fd >= 0) {
    home.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home) throw sys_error("netlink: open own network namespace");
    if (::setns(netns_fd, CLONE_NEWNET) != 0) throw sys_error("netlink: enter network namespace");
  }
  mnl_socket* s = mnl().socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  int err = errno;
  if (home && ::setns(home.get(), CLONE_NEWNET) != 0) {
    // Going on in the wrong namespace would configure the wrong network.
    std::perror("mult: netlink: return to own network namespace");
    std::abort();
  }
  if (!s) throw sys_error("netlink: socket", err);
  sock_.reset(s);
  if (mnl().socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) throw sys_error("netlink: bind");
  portid_ = mnl().socket_get_portid(s);
  // Extended acks: the kernel's own words on what was wrong, without the
  // request echoed back.
  int one = 1;
  mnl().socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof one);
  mnl().socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof one);
  seq_ = unsigned(::getpid()) << 12;
}

Netlink Netlink::in_netns_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw sys_error("network namespace of process " + std::to_string(pid));
  return Netlink(fd.get());
}

Netlink Netlink::in_netns_fd(int netns_fd) {
  if (netns_fd < 0) throw Error("netlink: no network namespace given");
  return Netlink(netns_fd);
}

Netlink::Netlink(Netlink&&) noexcept = default;
Netlink& Netlink::operator=(Netlink&&) noexcept = default;
Netlink::~Netlink() = default;

namespace {

// The kernel's message in an extended ack, if any.
std::string ext_ack_message(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(mnl().nlmsg_get_payload(nlh));
  size_t off = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) off += err->msg.nlmsg_len - sizeof(nlmsghdr);
  const char* p = static_cast<const char*>(mnl().nlmsg_get_payload(nlh)) + off;
  const char* end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
  while (p + sizeof(nlattr) <= end) {
    const auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < sizeof(nlattr) || p + a->nla_len > end) break;
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* s = p + sizeof(nlattr);
      return std::string(s, strnlen(s, a->nla_len - sizeof(nlattr)));
    }
    p += MNL_ALIGN(a->nla_len);
  }
  return "";
}

thread_local std::string g_last_ext_ack;

}  // namespace

int Netlink::request(nlmsghdr* nlh, ReplyFn reply, void* data) {
  g_last_ext_ack.clear();
  const unsigned seq = next_seq();
  nlh->nlmsg_seq = seq;
  nlh->nlmsg_flags |= NLM_F_ACK;
  for (;;) {
    if (mnl().socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) >= 0) break;
    if (errno != EINTR) return errno;
  }
  bool wanted = true;
  for (;;) {
    ssize_t n = mnl().socket_recvfrom(sock_.get(), buf_.data(), buf_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    int len = int(n);
    for (auto* m = reinterpret_cast<const nlmsghdr*>(buf_.data()); mnl().nlmsg_ok(m, len);
         m = mnl().nlmsg_next(m, &len)) {
      if (m->nlmsg_seq != seq || (m->nlmsg_pid != 0 && m->nlmsg_pid != portid_)) continue;
      if (m->nlmsg_type == NLMSG_ERROR) {
        if (m->nlmsg_len < mnl().nlmsg_size(sizeof(nlmsgerr))) return EBADMSG;
        const auto* err = static_cast<const nlmsgerr*>(mnl().nlmsg_get_payload(m));
        if (err->error != 0) g_last_ext_ack = ext_ack_message(m);
        return -err->error;
      }
      if (m->nlmsg_type == NLMSG_DONE) {
        // A dump's end; it may carry the dump's error.
        if (m->nlmsg_len >= mnl().nlmsg_size(sizeof(int))) {
          int e = *static_cast<const int*>(mnl().nlmsg_get_payload(m));
          if (e < 0) return -e;
        }
        return 0;
      }
      if (m->nlmsg_type == NLMSG_NOOP || m->nlmsg_type == NLMSG_OVERRUN) continue;
      if (reply && wanted) wanted = reply(m, data);
    }
  }
}

// ---- helpers ----------------------------------------------------------------

namespace {

[[noreturn]] void fail(const std::string& what, int err) {
  std::string msg = what + ": netlink: " + std::strerror(err);
  if (!g_last_ext_ack.empty()) msg += " (" + g_last_ext_ack + ")";
  throw Error(msg);
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// One request message, built in place.
class Msg {
 public:
  Msg(uint16_t type, uint16_t flags) {
    nlh_ = mnl().nlmsg_put_header(buf_.data());
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = uint16_t(NLM_F_REQUEST | flags);
  }
  nlmsghdr* nlh() { return nlh_; }
  template <typename T>
  T* extra() {
    return static_cast<T*>(mnl().nlmsg_put_extra_header(nlh_, sizeof(T)));
  }
  void str(uint16_t type, const std::string& s) { mnl().attr_put_strz(nlh_, type, s.c_str()); }
  void u32(uint16_t type, uint32_t v) { mnl().attr_put_u32(nlh_, type, v); }
  void bytes(uint16_t type, const void* p, size_t n) { mnl().attr_put(nlh_, type, n, p); }
  nlattr* nest(uint16_t type) { return mnl().attr_nest_start(nlh_, type); }
  void end(nlattr* n) { mnl().attr_nest_end(nlh_, n); }

 private:
  alignas(8) std::array<char, 4096> buf_{};
  nlmsghdr* nlh_;
};

void check_name(const std::string& kind, const std::string& name) {
  if (!valid_link_name(name))
    throw Error(kind + " " + quoted(name) + ": invalid interface name (1 to 15 characters, "
                "no '/', ':' or spaces)");
}

bool parse_link(const nlmsghdr* nlh, LinkInfo& out) {
  if (nlh->nlmsg_type != RTM_NEWLINK) return false;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl().nlmsg_get_payload(nlh));
  out = LinkInfo{};
  out.index = ifi->ifi_index;
  out.flags = ifi->ifi_flags;
  const char* tail = static_cast<const char*>(mnl().nlmsg_get_payload_tail(nlh));
  for (auto* a = static_cast<const nlattr*>(mnl().nlmsg_get_payload_offset(nlh, sizeof(ifinfomsg)));
       mnl().attr_ok(a, int(tail - reinterpret_cast<const char*>(a))); a = mnl().attr_next(a)) {
    switch (mnl().attr_get_type(a)) {
      case IFLA_IFNAME:
        if (mnl().attr_validate(a, MNL_TYPE_NUL_STRING) >= 0) out.name = mnl().attr_get_str(a);
        break;
      case IFLA_MTU:
        if (mnl().attr_validate(a, MNL_TYPE_U32) >= 0) out.mtu = mnl().attr_get_u32(a);
        break;
      case IFLA_ADDRESS:
        if (mnl().attr_get_payload_len(a) == 6) {
          const auto* b = static_cast<const uint8_t*>(mnl().attr_get_payload(a));
          char text[18];
          std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3],
                        b[4], b[5]);
          out.mac = text;
        }
        break;
      case IFLA_MASTER:
        if (mnl().attr_validate(a, MNL_TYPE_U32) >= 0) out.master = int(mnl().attr_get_u32(a));
        break;
      case IFLA_LINKINFO: {
        const char* end = static_cast<const char*>(mnl().attr_get_payload(a)) + mnl().attr_get_payload_len(a);
        for (auto* n = static_cast<const nlattr*>(mnl().attr_get_payload(a));
             mnl().attr_ok(n, int(end - reinterpret_cast<const char*>(n))); n = mnl().attr_next(n)) {
          if (mnl().attr_get_type(n) == IFLA_INFO_KIND &&
              mnl().attr_validate(n, MNL_TYPE_STRING) >= 0)
            out.kind.assign(static_cast<const char*>(mnl().attr_get_payload(n)),
                            strnlen(static_cast<const char*>(mnl().attr_get_payload(n)),
                                    mnl().attr_get_payload_len(n)));
        }
        break;
      }
      default:
        break;
    }
  }
  return true;
}

// A change to an existing link, by index.
void change_link(Netlink& nl, const std::string& what, const std::string& name,
                 void (*fill)(Msg&, const void*), const void* arg, unsigned flags = 0,
                 unsigned change = 0) {
  int index = link_index(nl, name);
  Msg m(RTM_NEWLINK, 0);
  auto* ifi = m.extra<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = flags;
  ifi->ifi_change = change;
  if (fill) fill(m, arg);
  if (int err = nl.request(m.nlh())) fail(what, err);
}

void create_veth(Netlink& nl, const std::string& host_name, const std::string& peer_name,
                 uint16_t ns_attr, uint32_t ns_value, unsigned mtu) {
  check_name("veth", host_name);
  check_name("veth", peer_name);
  Msg m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.extra<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.str(IFLA_IFNAME, host_name);
  if (mtu) m.u32(IFLA_MTU, mtu);
  nlattr* info = m.nest(IFLA_LINKINFO);
  m.str(IFLA_INFO_KIND, "veth");
  nlattr* data = m.nest(IFLA_INFO_DATA);
  nlattr* peer = m.nest(VETH_INFO_PEER);
  // The peer's attributes follow its own ifinfomsg.
  m.extra<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.str(IFLA_IFNAME, peer_name);
  if (mtu) m.u32(IFLA_MTU, mtu);
  m.u32(ns_attr, ns_value);
  m.end(peer);
  m.end(data);
  m.end(info);
  if (int err = nl.request(m.nlh())) fail("veth " + quoted(host_name), err);
}

}  // namespace

// ---- links ------------------------------------------------------------------

bool valid_link_name(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  for (char c : name)
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0') return false;
  return true;
}

std::optional<LinkInfo> find_link(Netlink& nl, const std::string& name) {
  if (!valid_link_name(name)) return std::nullopt;
  Msg m(RTM_GETLINK, 0);
  m.extra<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.str(IFLA_IFNAME, name);
  m.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  LinkInfo info;
  bool found = false;
  struct Ctx {
    LinkInfo* info;
    bool* found;
  } ctx{&info, &found};
  int err = nl.request(
      m.nlh(),
      [](const nlmsghdr* nlh, void* d) {
        auto* c = static_cast<Ctx*>(d);
        if (parse_link(nlh, *c->info)) *c->found = true;
        return true;
      },
      &ctx);
  if (err == ENODEV) return std::nullopt;
  if (err) fail("link " + quoted(name), err);
  if (!found) return std::nullopt;
  return info;
}

int link_index(Netlink& nl, const std::string& name) {
  auto l = find_link(nl, name);
  if (!l) throw Error("link " + quoted(name) + ": no such network interface");
  return l->index;
}

std::vector<LinkInfo> list_links(Netlink& nl) {
  Msg m(RTM_GETLINK, NLM_F_DUMP);
  m.extra<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::vector<LinkInfo> links;
  int err = nl.request(
      m.nlh(),
      [](const nlmsghdr* nlh, void* d) {
        LinkInfo l;
        if (parse_link(nlh, l)) static_cast<std::vector<LinkInfo>*>(d)->push_back(l);
        return true;
      },
      &links);
  if (err) fail("links", err);
  return links;
}

void create_bridge(Netlink& nl, const std::string& name, unsigned mtu) {
  check_name("bridge", name);
  Msg m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.extra<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.str(IFLA_IFNAME, name);
  if (mtu) m.u32(IFLA_MTU, mtu);
  nlattr* info = m.nest(IFLA_LINKINFO);
  m.str(IFLA_INFO_KIND, "bridge");
  m.end(info);
  if (int err = nl.request(m.nlh())) fail("bridge " + quoted(name), err);
}

void create_veth_pair(Netlink& nl, const std::string& host_name, const std::string& peer_name,
                      pid_t peer_netns_pid, unsigned mtu) {
  create_veth(nl, host_name, peer_name, IFLA_NET_NS_PID, uint32_t(peer_netns_pid), mtu);
}

void create_veth_pair_fd(Netlink& nl, const std::string& host_name, const std::string& peer_name,
                         int peer_netns_fd, unsigned mtu) {
  create_veth(nl, host_name, peer_name, IFLA_NET_NS_FD, uint32_t(peer_netns_fd), mtu);
}

void set_up(Netlink& nl, const std::string& name) {
  change_link(nl, "link " + quoted(name), name, nullptr, nullptr, IFF_UP, IFF_UP);
}

void set_down(Netlink& nl, const std::string& name) {
  change_link(nl, "link " + quoted(name), name, nullptr, nullptr, 0, IFF_UP);
}

void set_master(Netlink& nl, const std::string& name, const std::string& master) {
  uint32_t index = uint32_t(link_index(nl, master));
  change_link(
      nl, "link " + quoted(name) + " (bridge " + quoted(master) + ")", name,
      [](Msg& m, const void* a) { m.u32(IFLA_MASTER, *static_cast<const uint32_t*>(a)); },
      &index);
}

void set_hairpin(Netlink& nl, const std::string& name, bool on) {
  uint8_t v = on ? 1 : 0;
  change_link(
      nl, "link " + quoted(name) + " (hairpin)", name,
      [](Msg& m, const void* a) {
        nlattr* info = m.nest(IFLA_LINKINFO);
        m.str(IFLA_INFO_SLAVE_KIND, "bridge");
        nlattr* data = m.nest(IFLA_INFO_SLAVE_DATA);
        mnl().attr_put_u8(m.nlh(), IFLA_BRPORT_MODE, *static_cast<const uint8_t*>(a));
        m.end(data);
        m.end(info);
      },
      &v);
}

void rename_link(Netlink& nl, const std::string& name, const std::string& new_name) {
  check_name("link", new_name);
  change_link(
      nl, "link " + quoted(name) + " (rename to " + quoted(new_name) + ")", name,
      [](Msg& m, const void* a) { m.str(IFLA_IFNAME, *static_cast<const std::string*>(a)); },
      &new_name);
}

void set_mtu(Netlink& nl, const std::string& name, unsigned mtu) {
  uint32_t v = mtu;
  change_link(
      nl, "link " + quoted(name) + " (mtu " + std::to_string(mtu) + ")", name,
      [](Msg& m, const void* a) { m.u32(IFLA_MTU, *static_cast<const uint32_t*>(a)); }, &v);
}

void set_mac(Netlink& nl, const std::string& name, const std::string& mac) {
  uint8_t bytes[6];
  if (!parse_mac(mac, bytes)) throw Error("link " + quoted(name) + ": invalid MAC address " + quoted(mac));
  change_link(
      nl, "link " + quoted(name) + " (mac " + mac + ")", name,
      [](Msg& m, const void* a) { m.bytes(IFLA_ADDRESS, a, 6); }, bytes);
}

void move_link(Netlink& nl, const std::string& name, pid_t netns_pid) {
  uint32_t v = uint32_t(netns_pid);
  change_link(
      nl, "link " + quoted(name) + " (to the namespace of process " + std::to_string(netns_pid) + ")",
      name, [](Msg& m, const void* a) { m.u32(IFLA_NET_NS_PID, *static_cast<const uint32_t*>(a)); },
      &v);
}

void move_link_fd(Netlink& nl, const std::string& name, int netns_fd) {
  uint32_t v = uint32_t(netns_fd);
  change_link(
      nl, "link " + quoted(name) + " (to another namespace)", name,
      [](Msg& m, const void* a) { m.u32(IFLA_NET_NS_FD, *static_cast<const uint32_t*>(a)); }, &v);
}

bool delete_link(Netlink& nl, const std::string& name) {
  auto l = find_link(nl, name);
  if (!l) return false;
  Msg m(RTM_DELLINK, 0);
  auto* ifi = m.extra<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = l->index;
  int err = nl.request(m.nlh());
  if (err == ENODEV) return false;
  if (err) fail("link " + quoted(name), err);
  return true;
}

// ---- addresses, routes, neighbours -------------------------------------------

void add_address(Netlink& nl, const std::string& name, const std::string& cidr, bool exist_ok) {
  std::string what = "address " + cidr + " on " + quoted(name);
  auto c = Cidr::parse(cidr);
  if (!c) throw Error(what + ": not an address/prefix");
  int index = link_index(nl, name);
  Msg m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = m.extra<ifaddrmsg>();
  ifa->ifa_family = uint8_t(c->address.family);
  ifa->ifa_prefixlen = uint8_t(c->prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = unsigned(index);
  if (!c->address.v4()) ifa->ifa_flags = IFA_F_NODAD;
  m.bytes(IFA_LOCAL, c->address.bytes.data(), c->address.size());
  m.bytes(IFA_ADDRESS, c->address.bytes.data(), c->address.size());
  int err = nl.request(m.nlh());
  if (err == EEXIST && exist_ok) return;
  if (err) fail(what, err);
}

void add_default_route(Netlink& nl, const std::string& gateway, const std::string& dev) {
  std::string what = "default route via " + gateway;
  auto gw = IpAddress::parse(gateway);
  if (!gw) throw Error(what + ": not an address");
  int index = dev.empty() ? 0 : link_index(nl, dev);
  Msg m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rt = m.extra<rtmsg>();
  rt->rtm_family = uint8_t(gw->family);
  rt->rtm_dst_len = 0;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  m.bytes(RTA_GATEWAY, gw->bytes.data(), gw->size());
  if (index) m.u32(RTA_OIF, uint32_t(index));
  if (int err = nl.request(m.nlh())) fail(what, err);
}

void delete_neighbor(Netlink& nl, const std::string& dev, const std::string& address) {
  std::string what = "neighbour " + address + " on " + quoted(dev);
  auto a = IpAddress::parse(address);
  if (!a) throw Error(what + ": not an address");
  auto l = find_link(nl, dev);
  if (!l) return;
  Msg m(RTM_DELNEIGH, 0);
  auto* nd = m.extra<ndmsg>();
  nd->ndm_family = uint8_t(a->family);
  nd->ndm_ifindex = l->index;
  m.bytes(NDA_DST, a->bytes.data(), a->size());
  int err = nl.request(m.nlh());
  if (err == ENOENT || err == ENODEV || err == ESRCH) return;
  if (err) fail(what, err);
}

bool parse_mac(const std::string& text, uint8_t out[6]) {
  if (text.size() != 17) return false;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (int i = 0; i < 6; ++i) {
    int hi = hex(text[size_t(i) * 3]), lo = hex(text[size_t(i) * 3 + 1]);
    if (hi < 0 || lo < 0) return false;
    if (i < 5 && text[size_t(i) * 3 + 2] != ':') return false;
    out[i] = uint8_t(hi * 16 + lo);
  }
  return true;
}

}  // namespace mult
