// Networks and their addresses (IPAM). A network is a bridge with an IPv4
// subnet (the gateway is its first address, on the bridge) and optionally
// an IPv6 one; instances lease addresses in it.
//
//   <lib>/networks/NAME.json          the network
//   <lib>/networks/NAME.leases.json   {"10.77.0.2": "instance", ...}
//   <lib>/networks/NAME.lock          flock held around every lease/release
//
// The default network "mult0" (10.77.0.0/16, gateway 10.77.0.1, IPv6
// fd77::/64) is made on first use. An instance's IPv6 address is derived
// from its IPv4 host number: 10.77.0.5 -> fd77::5.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "store.hh"

namespace mult {

inline constexpr const char* kDefaultNetwork = "mult0";
inline constexpr const char* kDefaultSubnet = "10.77.0.0/16";
inline constexpr const char* kDefaultSubnet6 = "fd77::/64";

struct Network {
  std::string name;
  std::string bridge;    // the bridge link in the host's namespace
  std::string subnet;    // "10.77.0.0/16"
  std::string gateway;   // "10.77.0.1"
  std::string subnet6;   // "fd77::/64", or "" for none
  std::string gateway6;  // "fd77::1", or ""
  int prefix() const;    // 16
  int prefix6() const;   // 64, or 0
};

std::string networks_dir(const Store& store);

// Makes a network. Errors: invalid name, name exists, bad CIDR (or host
// bits set, or smaller than /30), overlaps another mult network. `subnet6`
// is optional ("" for IPv4 only).
Network create_network(const Store& store, const std::string& name, const std::string& subnet,
                       const std::string& subnet6 = "");
// The network called `name`; the default one is made on first use.
// Throws `network "x": no such network`.
Network load_network(const Store& store, const std::string& name);
// Every network, by name.
std::vector<Network> list_networks(const Store& store);
// Removes a network and its bridge (in the calling process's network
// namespace). Refuses while leases exist: `network "x": in use by 2 instances`.
void remove_network(const Store& store, const std::string& name);

struct Lease {
  std::string network;
  std::string instance;
  std::string address;   // "10.77.0.2"
  int prefix = 0;        // 16
  std::string gateway;   // "10.77.0.1"
  std::string address6;  // "fd77::2" or ""
  int prefix6 = 0;
  std::string gateway6;
  bool reused = false;   // the instance held this lease already
};

// The addresses of one network.
class Ipam {
 public:
  // Loads the network (see load_network).
  Ipam(const Store& store, const std::string& network);
  const Network& network() const { return net_; }

  // Leases an address for `instance`: `requested_ip` if given (errors:
  // `--ip 10.9.0.5: outside network "mult0" (10.77.0.0/16)`,
  // `--ip 10.77.0.9: already in use by instance "a"`), else the lowest free
  // one (error when the subnet is full). An instance holding a lease
  // already gets it back (reused) unless it asks for another address.
  Lease lease(const std::string& instance, const std::string& requested_ip = "");
  // Releases the leases of `instance`; false if it had none.
  bool release(const std::string& instance);
  // The current leases: address -> instance.
  std::map<std::string, std::string> leases() const;
  // The lease of `instance`, if any (address "" when none).
  Lease find(const std::string& instance) const;

 private:
  Lease make_lease(const std::string& instance, const std::string& address, bool reused) const;
  std::string leases_path() const;
  std::string lock_path() const;
  std::map<std::string, std::string> read_leases() const;
  void write_leases(const std::map<std::string, std::string>& leases) const;

  Store store_;
  Network net_;
};

}  // namespace mult
