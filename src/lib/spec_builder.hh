// The people's options (`mult run --memory ... --bind ...`) as a spec: the
// command line generates an OCI config.json, so nothing is modelled twice.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "spec.hh"
#include "store.hh"

namespace mult {

// --memory, --cpus ...: the people's limits, turned into linux.resources.
struct LimitOptions {
  std::string memory, memory_swap, memory_reservation;  // sizes: 256M
  std::string cpus, cpu_shares, cpuset_cpus, cpuset_mems;
  std::string pids_limit, io_weight;
  std::vector<std::string> device_read_bps, device_write_bps;    // DEV:RATE
  std::vector<std::string> device_read_iops, device_write_iops;  // DEV:N
  std::vector<std::string> hugetlb;                              // 2MB:LIMIT
  bool empty() const;
};

// The OCI linux.resources object for `limits`; throws Error naming the
// option at fault (`--memory "12Q": unknown unit "Q" ...`).
Json resources_json(const LimitOptions& limits);

struct InstanceOptions {
  LimitOptions limits;
  std::string rootfs;                  // --rootfs DIR
  std::string image;                   // --image NAME (default: busybox)
  std::string hostname;                // --hostname (default: the name)
  std::vector<std::string> binds;      // --bind SRC:DST[:ro]
  std::vector<std::string> tmpfs;      // --tmpfs DST
  std::vector<std::string> env;        // -e K=V
  std::string user;                    // -u UID[:GID] or NAME
  std::string workdir;                 // -w DIR
  bool read_only = false;              // --read-only
  bool tty = false;                    // -t: a terminal for the command
  std::string init;                    // --init CMD: CMD is PID 1
  std::optional<int> stop_timeout;     // --stop-timeout SECONDS
  std::string stop_command;            // --stop-command CMD
  std::vector<std::string> cap_add;    // --cap-add CAP|ALL
  std::vector<std::string> cap_drop;   // --cap-drop CAP|ALL
  bool privileged = false;             // --privileged: every capability, no filters
  bool allow_new_privs = false;        // --allow-new-privs: no no_new_privs
  std::optional<std::string> userns;   // --userns[=auto|HOSTID[:SIZE]]
  std::string seccomp;                 // --seccomp FILE|unconfined
  std::string net;                     // --net none|bridge[:NAME]|host|ns:PATH|instance:NAME
  std::string ip, mac;                 // --ip, --mac
  std::string mtu;                     // --mtu
  std::vector<std::string> dns;        // --dns SERVER
  std::vector<std::string> add_hosts;  // --add-host NAME:ADDR
  std::vector<std::string> links;      // --link NAME
  std::vector<std::string> publish;    // --publish HOSTPORT:PORT[/tcp|/udp]
  bool nat = false;                    // --nat
  std::vector<std::string> command;    // CMD ARG...; empty: boot /etc/rc
};

// The spec for instance `name`. Resolves the image (assembling busybox on
// first use) and a user name in the image's /etc/passwd. Throws Error
// naming the option at fault.
Json build_spec(const Store& store, const std::string& name, const InstanceOptions& opts);

}  // namespace mult
