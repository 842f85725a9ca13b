// Network links, addresses and routes through rtnetlink (libmnl): what
// `ip link`, `ip addr` and `ip route` would do, without running them.
//
// Every operation goes through a Netlink socket, which belongs to the
// network namespace it was opened in: the caller's, or another process's
// (Netlink::in_netns_of). Errors are mult::Error naming the object:
//   bridge "mult0": netlink: File exists
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct mnl_socket;
struct nlmsghdr;

namespace mult {

class Netlink {
 public:
  // A socket in the calling process's network namespace.
  Netlink();
  // A socket in the network namespace of process `pid` (/proc/PID/ns/net):
  // setns there, make the socket, setns back. mult is single-threaded, so
  // nothing else runs in the other namespace meanwhile.
  static Netlink in_netns_of(pid_t pid);
  // The same for a namespace given by an open /proc/.../ns/net (or a bind
  // mount of one).
  static Netlink in_netns_fd(int netns_fd);

  Netlink(Netlink&&) noexcept;
  Netlink& operator=(Netlink&&) noexcept;
  ~Netlink();

  // Sends one request and waits for its acknowledgement. Returns 0, or the
  // errno the kernel answered with. `reply` (optional) sees each message
  // answered (a get or a dump); it returns false to stop early.
  using ReplyFn = bool (*)(const nlmsghdr*, void*);
  int request(nlmsghdr* nlh, ReplyFn reply = nullptr, void* data = nullptr);
  // Sequence numbers for request headers.
  unsigned next_seq() { return ++seq_; }

 private:
  struct Close {
    void operator()(mnl_socket* s) const;
  };
  explicit Netlink(int netns_fd_or_minus_one);
  std::unique_ptr<mnl_socket, Close> sock_;
  unsigned portid_ = 0;
  unsigned seq_ = 0;
  std::vector<char> buf_;
};

struct LinkInfo {
  int index = 0;
  std::string name;
  unsigned mtu = 0;
  int master = 0;      // index of the bridge it is attached to, or 0
  unsigned flags = 0;  // IFF_UP, ...
  std::string kind;    // "veth", "bridge", ... ("" for plain devices)
  std::string mac;     // "02:42:ac:11:00:02" ("" when none)
};

// The link called `name`, or nullopt.
std::optional<LinkInfo> find_link(Netlink& nl, const std::string& name);
// Its index; throws `link "x": no such network interface`.
int link_index(Netlink& nl, const std::string& name);
// Every link of the namespace.
std::vector<LinkInfo> list_links(Netlink& nl);

// A new bridge, down, without addresses. mtu 0: the kernel's default.
void create_bridge(Netlink& nl, const std::string& name, unsigned mtu = 0);
// A veth pair: `host_name` in the socket's namespace and `peer_name`
// created directly in the namespace of process `peer_netns_pid`, both down.
// mtu 0: the kernel's default.
void create_veth_pair(Netlink& nl, const std::string& host_name, const std::string& peer_name,
                      pid_t peer_netns_pid, unsigned mtu = 0);
// The same with the peer's namespace given as an fd.
void create_veth_pair_fd(Netlink& nl, const std::string& host_name, const std::string& peer_name,
                         int peer_netns_fd, unsigned mtu = 0);

void set_up(Netlink& nl, const std::string& name);
void set_down(Netlink& nl, const std::string& name);
// Attaches link `name` to bridge `master`.
void set_master(Netlink& nl, const std::string& name, const std::string& master);
// Hairpin mode of a bridge port: frames may leave by the port they came
// in (an instance reaching its own published port through the host).
void set_hairpin(Netlink& nl, const std::string& name, bool on);
// The link must be down.
void rename_link(Netlink& nl, const std::string& name, const std::string& new_name);
void set_mtu(Netlink& nl, const std::string& name, unsigned mtu);
// "02:42:ac:11:00:02"
void set_mac(Netlink& nl, const std::string& name, const std::string& mac);
// Moves a link into the network namespace of process `pid` / of an fd.
void move_link(Netlink& nl, const std::string& name, pid_t netns_pid);
void move_link_fd(Netlink& nl, const std::string& name, int netns_fd);
// Deletes a link (a veth takes its peer along). False if it did not exist.
bool delete_link(Netlink& nl, const std::string& name);

// "10.77.0.2/16" or "fd77::2/64" on link `name`. IPv6 addresses skip
// duplicate address detection (usable at once). `exist_ok`: an address
// already there is fine.
void add_address(Netlink& nl, const std::string& name, const std::string& cidr,
                 bool exist_ok = false);
// A default route (IPv4 or IPv6, after the gateway's family) via `gateway`,
// optionally out of link `dev`.
void add_default_route(Netlink& nl, const std::string& gateway, const std::string& dev = "");
// Forgets the neighbour (ARP/NDP) entry for `address` on link `dev`, so a
// reused address is not sent to a gone MAC. Absent entries are fine.
void delete_neighbor(Netlink& nl, const std::string& dev, const std::string& address);

// Parses "aa:bb:cc:dd:ee:ff" into 6 bytes; false when malformed.
bool parse_mac(const std::string& text, uint8_t out[6]);
// Link names: 1..15 characters, no '/', ':' or whitespace, not "." or "..".
bool valid_link_name(const std::string& name);

}  // namespace mult
