// Attaching an instance to a network: a veth pair between the network's
// bridge (in the host's namespace) and the instance's namespace, where the
// peer becomes eth0 with a leased address and a default route via the
// bridge; published ports and NAT as nftables rules in mult's own tables.
//
// What was done is recorded in <run>/INSTANCE/net.json so that detach()
// (rm, stop, gc) can undo it from another process later:
//   {"network": "mult0", "bridge": "mult0", "veth": "mv0123456789a",
//    "address": "10.77.0.2", "prefix": 16, "gateway": "10.77.0.1",
//    "address6": "fd77::2", "prefix6": 64, "gateway6": "fd77::1",
//    "mac": "", "mtu": 1500, "nat": false,
//    "publish": [{"host_port": 8080, "port": 80, "proto": "tcp"}],
//    "rules": [{"family": "ip", "chain": "prerouting", "handle": 4}, ...]}
//
// Everything runs in the calling process's network namespace, which stands
// for the host (mult's own, normally); the instance is reached through its
// pid.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store.hh"

namespace mult {

struct NetRequest {
  std::string network = "mult0";
  std::string ip;   // "" = the next free address
  std::string mac;  // "" = the kernel's random one
  int mtu = 0;      // 0 = the bridge's
  std::vector<std::string> publish;  // "HOSTPORT:PORT[/tcp|/udp]"
  bool nat = false;                  // masquerade traffic leaving the subnet
};

struct PublishedPort {
  uint16_t host_port = 0;
  uint16_t port = 0;
  std::string proto = "tcp";
  std::string key() const { return std::to_string(host_port) + "/" + proto; }  // "8080/tcp"
};

// Parses --publish values. Errors:
//   --publish "x": expected HOSTPORT:PORT[/tcp|/udp]
//   --publish 8080/tcp: given twice
std::vector<PublishedPort> parse_publish(const std::vector<std::string>& specs);

// What an attachment did, as recorded in net.json.
struct NetRecord {
  struct Rule {
    std::string family, chain;
    uint64_t handle = 0;
  };
  std::string network, bridge, veth;
  std::string address, gateway, address6, gateway6;
  int prefix = 0, prefix6 = 0;
  std::string mac;
  unsigned mtu = 0;
  bool nat = false;
  bool nft = false;           // rules may exist (set before adding them)
  bool lease_reused = false;  // not ours to release on a failed attach
  std::vector<PublishedPort> publish;
  std::vector<Rule> rules;

  // The record of `instance`, or nullopt when there is none.
  static std::optional<NetRecord> load(const Store& store, const std::string& instance);
};

// The host-side veth name of `instance`: "mv" + 11 hex digits of a hash.
std::string host_veth_name(const std::string& instance);

class NetAttachment {
 public:
  NetAttachment() = default;
  NetAttachment(NetAttachment&& o) noexcept;
  NetAttachment& operator=(NetAttachment&& o) noexcept;
  NetAttachment(const NetAttachment&) = delete;
  NetAttachment& operator=(const NetAttachment&) = delete;
  // Undoes the attachment unless keep() was called.
  ~NetAttachment();

  // Attaches `instance`, whose process `instance_pid` already has its own
  // network namespace, to `req.network`: bridge (made on demand, with the
  // gateway addresses, up, forwarding on), lease, nft rules, veth pair, eth0
  // configured inside. On failure everything done so far is undone.
  static NetAttachment attach(const Store& store, const std::string& instance,
                              const NetRequest& req, pid_t instance_pid);
  // Undoes what net.json records: nft rules, veth, lease, then net.json.
  // Each part already gone is fine; with no net.json, any lease the instance
  // still holds is released.
  static void detach(const Store& store, const std::string& instance);

  // The attachment stays after this object is gone (detach() undoes it).
  void keep() { kept_ = true; }

  bool attached() const { return active_; }
  const std::string& instance() const { return instance_; }
  const NetRecord& record() const { return rec_; }
  std::string address() const { return rec_.address; }    // "10.77.0.2"
  std::string gateway() const { return rec_.gateway; }    // "10.77.0.1"
  std::string address6() const { return rec_.address6; }  // "fd77::2" or ""
  std::string gateway6() const { return rec_.gateway6; }
  std::string host_veth() const { return rec_.veth; }

 private:
  void undo() noexcept;

  Store store_;
  std::string instance_;
  NetRecord rec_;
  bool active_ = false;
  bool kept_ = false;
  bool made_run_dir_ = false;
};

// /etc/hosts for an instance: the localhost lines, `hostname` (and the
// instance name, when different) at `address`, then each peer as
// {name, address}.
std::string hosts_file(const std::string& instance, const std::string& hostname,
                       const std::string& address,
                       const std::vector<std::pair<std::string, std::string>>& peers);

}  // namespace mult
