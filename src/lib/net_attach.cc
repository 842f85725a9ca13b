// Attaching instances to networks: bridge, lease, nft rules, veth, eth0.
#include "net_attach.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "error.hh"
#include "ipam.hh"
#include "net_addr.hh"
#include "net_link.hh"
#include "nft.hh"

namespace mult {

using json = nlohmann::json;

namespace {

std::string q(const std::string& s) { return "\"" + s + "\""; }

std::string record_path(const Store& store, const std::string& instance) {
  return store.runtime_dir(instance) + "/net.json";
}

json to_json(const NetRecord& r) {
  json pub = json::array();
  for (const auto& p : r.publish)
    pub.push_back({{"host_port", p.host_port}, {"port", p.port}, {"proto", p.proto}});
  json rules = json::array();
  for (const auto& x : r.rules)
    rules.push_back({{"family", x.family}, {"chain", x.chain}, {"handle", x.handle}});
  return {{"network", r.network},   {"bridge", r.bridge},     {"veth", r.veth},
          {"address", r.address},   {"prefix", r.prefix},     {"gateway", r.gateway},
          {"address6", r.address6}, {"prefix6", r.prefix6},  {"gateway6", r.gateway6},
          {"mac", r.mac},           {"mtu", r.mtu},           {"nat", r.nat},
          {"nft", r.nft},
          {"publish", pub},         {"rules", rules}};
}

NetRecord from_json(const json& j) {
  NetRecord r;
  r.network = j.value("network", "");
  r.bridge = j.value("bridge", "");
  r.veth = j.value("veth", "");
  r.address = j.value("address", "");
  r.prefix = j.value("prefix", 0);
  r.gateway = j.value("gateway", "");
  r.address6 = j.value("address6", "");
  r.prefix6 = j.value("prefix6", 0);
  r.gateway6 = j.value("gateway6", "");
  r.mac = j.value("mac", "");
  r.mtu = j.value("mtu", 0u);
  r.nat = j.value("nat", false);
  r.nft = j.value("nft", false);
  for (const auto& p : j.value("publish", json::array())) {
    PublishedPort pp;
    pp.host_port = p.value("host_port", uint16_t(0));
    pp.port = p.value("port", uint16_t(0));
    pp.proto = p.value("proto", "tcp");
    r.publish.push_back(pp);
  }
  for (const auto& x : j.value("rules", json::array()))
    r.rules.push_back({x.value("family", ""), x.value("chain", ""), x.value("handle", uint64_t(0))});
  return r;
}

void save_record(const Store& store, const std::string& instance, const NetRecord& r) {
  write_file_atomic(record_path(store, instance), to_json(r).dump(2) + "\n", 0644,
                    Durability::kVolatile);
}

// Writes "1" to a sysctl of the calling process's network namespace,
// unless it is 1 already.
void enable_sysctl(const std::string& path, const std::string& what) {
  std::string cur;
  if (read_file_if_exists(path, cur) && cur.rfind("1", 0) == 0) return;
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), "1\n", 2) != 2) throw sys_error(what + ": " + path);
}

// The network's bridge, made on demand in the calling process's namespace:
// the gateway addresses on it, up, and forwarding on.
void ensure_bridge(const Store& store, const Network& net, bool forward6) {
  Lock lock(networks_dir(store) + "/" + net.name + ".lock", true);
  Netlink nl;
  auto link = find_link(nl, net.bridge);
  bool made = false;
  if (!link) {
    create_bridge(nl, net.bridge);
    made = true;
  } else if (link->kind != "bridge") {
    throw Error("network " + q(net.name) + ": link " + q(net.bridge) + " exists and is not a bridge");
  }
  try {
    add_address(nl, net.bridge, net.gateway + "/" + std::to_string(net.prefix()), true);
    if (!net.subnet6.empty())
      add_address(nl, net.bridge, net.gateway6 + "/" + std::to_string(net.prefix6()), true);
    set_up(nl, net.bridge);
    enable_sysctl("/proc/sys/net/ipv4/ip_forward", "network " + q(net.name) + ": enable IPv4 forwarding");
    if (forward6 && !net.subnet6.empty())
      enable_sysctl("/proc/sys/net/ipv6/conf/all/forwarding",
                    "network " + q(net.name) + ": enable IPv6 forwarding");
  } catch (...) {
    if (made) {
      try {
        delete_link(nl, net.bridge);
      } catch (...) {
      }
    }
    throw;
  }
}

// "mult:NAME publish 8080/tcp" -> NAME; "" when not a publish comment for `key`.
std::string publisher(const std::string& comment, const std::string& key) {
  if (comment.rfind("mult:", 0) != 0) return "";
  size_t sp = comment.find(' ');
  if (sp == std::string::npos) return "";
  if (comment.substr(sp + 1) != "publish " + key) return "";
  return comment.substr(5, sp - 5);
}

// The nft rules of an attachment, added in one transaction.
std::string rules_for(const std::string& instance, const NetRecord& r) {
  const std::string tag = nft_instance_tag(instance);
  struct Fam {
    std::string family, addr, subnet, loopback, to;
  };
  auto subnet = [](const std::string& addr, int prefix) {
    auto a = IpAddress::parse(addr);
    if (!a) throw Error("network record: invalid address " + q(addr));
    return Cidr{Cidr{*a, prefix}.network(), prefix}.str();
  };
  std::vector<Fam> fams = {{"ip", r.address, subnet(r.gateway, r.prefix), "127.0.0.0/8", r.address}};
  if (!r.address6.empty())
    fams.push_back({"ip6", r.address6, subnet(r.gateway6, r.prefix6), "::1", "[" + r.address6 + "]"});
  std::string cmds;
  for (const auto& f : fams) {
    const std::string t = f.family + " " + kNftTable;
    for (const auto& p : r.publish) {
      std::string hp = std::to_string(p.host_port), cp = std::to_string(p.port);
      std::string dnat = p.proto + " dport " + hp + " dnat to " + f.to + ":" + cp;
      std::string c = " comment \"" + tag + " publish " + p.key() + "\"\n";
      // From outside (and from instances, to a host address).
      cmds += "add rule " + t + " prerouting fib daddr type local " + dnat + c;
      // From the host itself, to any of its addresses but loopback.
      cmds += "add rule " + t + " output " + f.family + " daddr != " + f.loopback +
              " fib daddr type local " + dnat + c;
      // Hairpin: an instance reaching a published port through a host
      // address must see the reply come from that address.
      cmds += "add rule " + t + " postrouting " + f.family + " saddr " + f.subnet + " " + f.family +
              " daddr " + f.addr + " " + p.proto + " dport " + cp + " ct status dnat masquerade comment \"" +
              tag + " hairpin " + p.key() + "\"\n";
    }
    if (r.nat)
      cmds += "add rule " + t + " postrouting " + f.family + " saddr " + f.addr + " " + f.family +
              " daddr != " + f.subnet + " masquerade comment \"" + tag + " nat\"\n";
  }
  return cmds;
}

// Deletes every rule of mult's tables naming `instance`.
void delete_instance_rules(const std::string& instance) {
  Nft nft;
  nft_delete_rules(nft, nft_instance_rules(nft, instance));
}

// Adds the rules of `r` and records their handles in it.
void add_rules(const Store& store, const std::string& instance, NetRecord& r) {
  const std::string what = !r.publish.empty() ? "--publish" : "--nat";
  std::unique_ptr<Nft> nft;
  try {
    nft = std::make_unique<Nft>();  // loads libnftables: first, before anything is made
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  make_dirs(networks_dir(store));
  Lock lock(networks_dir(store) + "/nft.lock", true);
  try {
    nft_ensure_mult_table(*nft, "ip");
    if (!r.address6.empty()) nft_ensure_mult_table(*nft, "ip6");
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  std::vector<NftRule> all, stale;
  for (const char* family : {"ip", "ip6"})
    for (auto& x : nft_list_rules(*nft, family, kNftTable)) all.push_back(std::move(x));
  for (const auto& p : r.publish) {
    for (const auto& x : all) {
      std::string who = publisher(x.comment, p.key());
      if (!who.empty() && who != instance)
        throw Error("--publish " + p.key() + ": already published by instance " + q(who));
    }
  }
  // Leftovers of an earlier attachment of the same name go first.
  for (const auto& x : all)
    if (nft_comment_names(x.comment, instance)) stale.push_back(x);
  nft_delete_rules(*nft, stale);
  std::string out, err;
  if (!nft->try_run(rules_for(instance, r), out, err)) throw Error(what + ": nft: " + err);
  for (const auto& x : nft_instance_rules(*nft, instance))
    r.rules.push_back({x.family, x.chain, x.handle});
}

// Undoes what `r` records; `release_lease`: the lease too. Throws the
// first error after trying every part.
void undo_record(const Store& store, const std::string& instance, const NetRecord& r,
                 bool release_lease) {
  std::string first;
  auto attempt = [&](auto&& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      if (first.empty()) first = e.what();
    }
  };
  if (r.nft || !r.rules.empty()) attempt([&] { delete_instance_rules(instance); });
  if (!r.veth.empty()) {
    attempt([&] {
      Netlink nl;
      delete_link(nl, r.veth);
      if (!r.bridge.empty() && !r.address.empty()) delete_neighbor(nl, r.bridge, r.address);
    });
  }
  if (release_lease && !r.address.empty() && !r.network.empty()) {
    attempt([&] {
      std::string path = networks_dir(store) + "/" + r.network + ".json", text;
      if (read_file_if_exists(path, text)) Ipam(store, r.network).release(instance);
    });
  }
  if (!first.empty()) throw Error(first);
}

}  // namespace

// ---- publish --------------------------------------------------------------------

std::vector<PublishedPort> parse_publish(const std::vector<std::string>& specs) {
  std::vector<PublishedPort> out;
  std::set<std::string> seen;
  for (const auto& spec : specs) {
    auto bad = [&] {
      return Error("--publish " + q(spec) + ": expected HOSTPORT:PORT[/tcp|/udp]", kExitUsage);
    };
    auto port = [&](std::string_view s) -> uint16_t {
      unsigned v = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v == 0 || v > 65535)
        throw bad();
      return uint16_t(v);
    };
    std::string_view s = spec;
    PublishedPort p;
    size_t slash = s.find('/');
    if (slash != std::string_view::npos) {
      std::string_view proto = s.substr(slash + 1);
      if (proto != "tcp" && proto != "udp") throw bad();
      p.proto = std::string(proto);
      s = s.substr(0, slash);
    }
    size_t colon = s.find(':');
    if (colon == std::string_view::npos) throw bad();
    p.host_port = port(s.substr(0, colon));
    p.port = port(s.substr(colon + 1));
    if (!seen.insert(p.key()).second)
      throw Error("--publish " + p.key() + ": given twice", kExitUsage);
    out.push_back(p);
  }
  return out;
}

// ---- records --------------------------------------------------------------------

std::optional<NetRecord> NetRecord::load(const Store& store, const std::string& instance) {
  std::string path = record_path(store, instance), text;
  if (!read_file_if_exists(path, text)) return std::nullopt;
  try {
    return from_json(json::parse(text));
  } catch (const json::exception& e) {
    throw Error(path + ": invalid network record: " + e.what());
  }
}

std::string host_veth_name(const std::string& instance) { return "mv" + short_hash(instance, 11); }

// ---- the attachment --------------------------------------------------------------

NetAttachment::NetAttachment(NetAttachment&& o) noexcept
    : store_(std::move(o.store_)),
      instance_(std::move(o.instance_)),
      rec_(std::move(o.rec_)),
      active_(std::exchange(o.active_, false)),
      kept_(o.kept_),
      made_run_dir_(o.made_run_dir_) {}

NetAttachment& NetAttachment::operator=(NetAttachment&& o) noexcept {
  if (this != &o) {
    if (active_ && !kept_) undo();
    store_ = std::move(o.store_);
    instance_ = std::move(o.instance_);
    rec_ = std::move(o.rec_);
    active_ = std::exchange(o.active_, false);
    kept_ = o.kept_;
    made_run_dir_ = o.made_run_dir_;
  }
  return *this;
}

NetAttachment::~NetAttachment() {
  if (active_ && !kept_) undo();
}

void NetAttachment::undo() noexcept {
  active_ = false;
  try {
    undo_record(store_, instance_, rec_, !rec_.lease_reused);
    ::unlink(record_path(store_, instance_).c_str());
    if (made_run_dir_) ::rmdir(store_.runtime_dir(instance_).c_str());  // only when empty
  } catch (...) {
    // Left for detach() (net.json is kept when something could not go).
  }
}

NetAttachment NetAttachment::attach(const Store& store, const std::string& instance,
                                    const NetRequest& req, pid_t instance_pid) {
  check_name(instance);
  // Everything that can be checked before touching anything.
  auto ports = parse_publish(req.publish);
  uint8_t mac[6];
  if (!req.mac.empty() && !parse_mac(req.mac, mac))
    throw Error("--mac " + q(req.mac) + ": expected six hex bytes like 02:42:ac:11:00:02", kExitUsage);
  if (req.mtu != 0 && (req.mtu < 68 || req.mtu > 65535))
    throw Error("--mtu " + std::to_string(req.mtu) + ": expected 68 to 65535", kExitUsage);
  if (instance_pid <= 0) throw Error("instance " + q(instance) + ": no process to attach");
  Fd netns(::open(("/proc/" + std::to_string(instance_pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns)
    throw sys_error("instance " + q(instance) + ": network namespace of process " +
                    std::to_string(instance_pid));
  struct stat theirs, ours;
  if (::fstat(netns.get(), &theirs) != 0 || ::stat("/proc/thread-self/ns/net", &ours) != 0)
    throw sys_error("instance " + q(instance) + ": network namespace");
  if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev)
    throw Error("instance " + q(instance) + ": process " + std::to_string(instance_pid) +
                " shares the host's network namespace");

  // A record left by an instance that is gone is cleaned up first.
  if (auto old = NetRecord::load(store, instance)) {
    Netlink nl;
    if (!old->veth.empty() && find_link(nl, old->veth))
      throw Error("instance " + q(instance) + ": already attached to network " + q(old->network));
    detach(store, instance);
  }

  Network net = load_network(store, req.network);
  ensure_bridge(store, net, req.nat || !ports.empty());

  NetAttachment a;
  a.store_ = store;
  a.instance_ = instance;
  NetRecord& r = a.rec_;
  r.network = net.name;
  r.bridge = net.bridge;
  r.mac = req.mac;
  r.nat = req.nat;
  r.publish = ports;
  std::string run_dir = store.runtime_dir(instance);
  struct stat st;
  bool had_run_dir = ::stat(run_dir.c_str(), &st) == 0;
  make_dirs(run_dir);
  a.made_run_dir_ = !had_run_dir;
  a.active_ = true;  // from here on, a failure undoes what `r` records
  try {
    // The address.
    Lease lease = Ipam(store, net.name).lease(instance, req.ip);
    r.lease_reused = lease.reused;
    r.address = lease.address;
    r.prefix = lease.prefix;
    r.gateway = lease.gateway;
    r.address6 = lease.address6;
    r.prefix6 = lease.prefix6;
    r.gateway6 = lease.gateway6;
    save_record(store, instance, r);

    // Published ports and NAT.
    if (!ports.empty() || req.nat) {
      r.nft = true;
      save_record(store, instance, r);
      add_rules(store, instance, r);
      save_record(store, instance, r);
    }

    // The veth pair: the host end on the bridge, the peer straight into the
    // instance's namespace under a temporary name.
    Netlink nl;
    const std::string veth = host_veth_name(instance);
    const std::string peer = "mp" + veth.substr(2);
    auto bridge = find_link(nl, net.bridge);
    if (!bridge) throw Error("network " + q(net.name) + ": bridge " + q(net.bridge) + " is gone");
    r.mtu = req.mtu ? unsigned(req.mtu) : bridge->mtu;
    create_veth_pair_fd(nl, veth, peer, netns.get(), r.mtu);
    r.veth = veth;
    save_record(store, instance, r);
    set_master(nl, veth, net.bridge);
    // br_netfilter (where loaded) turns the DNAT of an instance reaching its
    // own published port into bridging back out of its own port.
    if (!ports.empty()) set_hairpin(nl, veth, true);
    set_up(nl, veth);
    // A reused address must not go to the MAC of its last holder.
    delete_neighbor(nl, net.bridge, r.address);
    if (!r.address6.empty()) delete_neighbor(nl, net.bridge, r.address6);

    // Inside: eth0.
    Netlink inside = Netlink::in_netns_fd(netns.get());
    rename_link(inside, peer, "eth0");
    if (!req.mac.empty()) set_mac(inside, "eth0", req.mac);
    add_address(inside, "eth0", r.address + "/" + std::to_string(r.prefix));
    if (!r.address6.empty()) add_address(inside, "eth0", r.address6 + "/" + std::to_string(r.prefix6));
    set_up(inside, "eth0");
    add_default_route(inside, r.gateway, "eth0");
    if (!r.address6.empty()) add_default_route(inside, r.gateway6, "eth0");
  } catch (...) {
    a.undo();
    throw;
  }
  return a;
}

void NetAttachment::detach(const Store& store, const std::string& instance) {
  auto rec = NetRecord::load(store, instance);
  if (!rec) {
    // Nothing recorded: at most a lease taken just before a crash.
    for (const auto& n : list_networks(store)) Ipam(store, n.name).release(instance);
    return;
  }
  undo_record(store, instance, *rec, true);
  if (::unlink(record_path(store, instance).c_str()) != 0 && errno != ENOENT)
    throw sys_error("remove " + record_path(store, instance));
}

// ---- /etc/hosts --------------------------------------------------------------------

std::string hosts_file(const std::string& instance, const std::string& hostname,
                       const std::string& address,
                       const std::vector<std::pair<std::string, std::string>>& peers) {
  std::string host = hostname.empty() ? instance : hostname;
  std::string names = host;
  if (!instance.empty() && instance != host) names += " " + instance;
  std::string out =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  if (!names.empty()) out += (address.empty() ? std::string("127.0.1.1") : address) + "\t" + names + "\n";
  for (const auto& [name, addr] : peers)
    if (!name.empty() && !addr.empty()) out += addr + "\t" + name + "\n";
  return out;
}

}  // namespace mult
