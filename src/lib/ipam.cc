// Networks and leases: JSON files under <lib>/networks, changed under flock.
#include "ipam.hh"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "error.hh"
#include "net_addr.hh"
#include "net_link.hh"

namespace mult {

using json = nlohmann::json;

namespace {

std::string q(const std::string& s) { return "\"" + s + "\""; }

std::string network_path(const Store& store, const std::string& name) {
  return networks_dir(store) + "/" + name + ".json";
}

std::string default_bridge(const std::string& name) {
  if (name == kDefaultNetwork) return name;
  std::string b = "mult-" + name;
  if (valid_link_name(b)) return b;
  return "mult-" + short_hash(name, 10);
}

json to_json(const Network& n) {
  json j = {{"name", n.name}, {"bridge", n.bridge}, {"subnet", n.subnet}, {"gateway", n.gateway}};
  if (!n.subnet6.empty()) {
    j["subnet6"] = n.subnet6;
    j["gateway6"] = n.gateway6;
  }
  return j;
}

Network from_json(const json& j) {
  Network n;
  n.name = j.at("name").get<std::string>();
  n.bridge = j.at("bridge").get<std::string>();
  n.subnet = j.at("subnet").get<std::string>();
  n.gateway = j.at("gateway").get<std::string>();
  n.subnet6 = j.value("subnet6", "");
  n.gateway6 = j.value("gateway6", "");
  return n;
}

bool read_network(const Store& store, const std::string& name, Network& out) {
  std::string path = network_path(store, name), text;
  if (!read_file_if_exists(path, text)) return false;
  try {
    out = from_json(json::parse(text));
  } catch (const json::exception& e) {
    throw Error(path + ": invalid network file: " + e.what());
  }
  return true;
}

// Parses and checks a subnet for `what` ("subnet", "IPv6 subnet").
Cidr parse_subnet(const std::string& name, const std::string& text, bool v6) {
  std::string what = "network " + q(name) + ": " + (v6 ? "IPv6 subnet " : "subnet ") + q(text);
  auto c = Cidr::parse(text);
  if (!c || c->address.v4() == v6)
    throw Error(what + ": expected " + (v6 ? "an IPv6 CIDR like fd77::/64" : "an IPv4 CIDR like 10.77.0.0/16"),
                kExitUsage);
  if (c->has_host_bits())
    throw Error(what + ": host bits set (did you mean " + Cidr{c->network(), c->prefix}.str() + "?)",
                kExitUsage);
  if (!v6 && c->prefix > 30) throw Error(what + ": too small (at most /30)", kExitUsage);
  if (!v6 && c->prefix < 8) throw Error(what + ": too large (at least /8)", kExitUsage);
  return *c;
}

std::vector<Network> list_locked(const Store& store) {
  std::vector<Network> out;
  DIR* dir = ::opendir(networks_dir(store).c_str());
  if (!dir) {
    if (errno == ENOENT) return out;
    throw sys_error("open " + networks_dir(store));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string f = e->d_name;
    const std::string ext = ".json", lext = ".leases.json";
    if (f.size() <= ext.size() || f.compare(f.size() - ext.size(), ext.size(), ext) != 0) continue;
    if (f.size() > lext.size() && f.compare(f.size() - lext.size(), lext.size(), lext) == 0) continue;
    names.push_back(f.substr(0, f.size() - ext.size()));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    Network net;
    if (read_network(store, n, net)) out.push_back(net);
  }
  return out;
}

// With the networks directory locked.
Network create_locked(const Store& store, const std::string& name, const std::string& subnet,
                      const std::string& subnet6) {
  Network existing;
  if (read_network(store, name, existing)) throw Error("network " + q(name) + ": already exists");
  Cidr c4 = parse_subnet(name, subnet, false);
  std::optional<Cidr> c6;
  if (!subnet6.empty()) {
    c6 = parse_subnet(name, subnet6, true);
    // The IPv6 host part is the IPv4 one: it must fit.
    if (128 - c6->prefix < 32 - c4.prefix)
      throw Error("network " + q(name) + ": IPv6 subnet " + q(subnet6) + ": too small for " + subnet,
                  kExitUsage);
  }
  Network n;
  n.name = name;
  n.bridge = default_bridge(name);
  n.subnet = c4.str();
  n.gateway = c4.host(1).str();
  if (c6) {
    n.subnet6 = c6->str();
    n.gateway6 = c6->host(1).str();
  }
  for (const auto& other : list_locked(store)) {
    auto o4 = Cidr::parse(other.subnet);
    if (o4 && o4->overlaps(c4))
      throw Error("network " + q(name) + ": subnet " + n.subnet + " overlaps network " + q(other.name) +
                  " (" + other.subnet + ")");
    auto o6 = Cidr::parse(other.subnet6);
    if (c6 && o6 && o6->overlaps(*c6))
      throw Error("network " + q(name) + ": IPv6 subnet " + n.subnet6 + " overlaps network " +
                  q(other.name) + " (" + other.subnet6 + ")");
    if (other.bridge == n.bridge)
      throw Error("network " + q(name) + ": bridge " + q(n.bridge) + " is used by network " +
                  q(other.name));
  }
  write_file_atomic(network_path(store, name), to_json(n).dump(2) + "\n");
  return n;
}

}  // namespace

int Network::prefix() const {
  auto c = Cidr::parse(subnet);
  return c ? c->prefix : 0;
}

int Network::prefix6() const {
  auto c = Cidr::parse(subnet6);
  return c ? c->prefix : 0;
}

std::string networks_dir(const Store& store) { return store.lib() + "/networks"; }

Network create_network(const Store& store, const std::string& name, const std::string& subnet,
                       const std::string& subnet6) {
  check_name(name, "network");
  make_dirs(networks_dir(store));
  Lock lock(networks_dir(store));
  return create_locked(store, name, subnet, subnet6);
}

Network load_network(const Store& store, const std::string& name) {
  check_name(name, "network");
  Network n;
  if (read_network(store, name, n)) return n;
  if (name != kDefaultNetwork) throw Error("network " + q(name) + ": no such network");
  make_dirs(networks_dir(store));
  Lock lock(networks_dir(store));
  if (read_network(store, name, n)) return n;  // made meanwhile
  return create_locked(store, name, kDefaultSubnet, kDefaultSubnet6);
}

std::vector<Network> list_networks(const Store& store) { return list_locked(store); }

void remove_network(const Store& store, const std::string& name) {
  check_name(name, "network");
  make_dirs(networks_dir(store));
  Lock dir_lock(networks_dir(store));
  Network n;
  if (!read_network(store, name, n)) throw Error("network " + q(name) + ": no such network");
  // The lease lock too, so that no lease slips in meanwhile.
  Lock lock(networks_dir(store) + "/" + name + ".lock", true);
  size_t users = 0;
  std::string text, leases_path = networks_dir(store) + "/" + name + ".leases.json";
  if (read_file_if_exists(leases_path, text) && !text.empty()) {
    try {
      std::set<std::string> instances;
      json j = json::parse(text);
      for (auto& [addr, inst] : j.items()) instances.insert(inst.dump());
      users = instances.size();
    } catch (const json::exception& e) {
      throw Error(leases_path + ": invalid leases file: " + e.what());
    }
  }
  if (users > 0)
    throw Error("network " + q(name) + ": in use by " + std::to_string(users) +
                (users == 1 ? " instance" : " instances"));
  Netlink nl;
  delete_link(nl, n.bridge);
  ::unlink(leases_path.c_str());
  if (::unlink(network_path(store, name).c_str()) != 0 && errno != ENOENT)
    throw sys_error("remove " + network_path(store, name));
}

// ---- leases -------------------------------------------------------------------

Ipam::Ipam(const Store& store, const std::string& network)
    : store_(store), net_(load_network(store, network)) {}

std::string Ipam::leases_path() const { return networks_dir(store_) + "/" + net_.name + ".leases.json"; }
std::string Ipam::lock_path() const { return networks_dir(store_) + "/" + net_.name + ".lock"; }

std::map<std::string, std::string> Ipam::read_leases() const {
  std::map<std::string, std::string> out;
  std::string text;
  if (!read_file_if_exists(leases_path(), text) || text.empty()) return out;
  try {
    json j = json::parse(text);
    for (auto& [addr, inst] : j.items()) out[addr] = inst.get<std::string>();
  } catch (const json::exception& e) {
    throw Error(leases_path() + ": invalid leases file: " + e.what());
  }
  return out;
}

void Ipam::write_leases(const std::map<std::string, std::string>& leases) const {
  json j = json::object();
  for (const auto& [addr, inst] : leases) j[addr] = inst;
  // Atomic but not fsynced: leases outlive no crash that their instances
  // survive, and an fsync here cost milliseconds on every bridged start.
  write_file_atomic(leases_path(), j.dump(2) + "\n", 0644, Durability::kVolatile);
}

std::map<std::string, std::string> Ipam::leases() const {
  Lock lock(lock_path(), true);
  return read_leases();
}

Lease Ipam::make_lease(const std::string& instance, const std::string& address, bool reused) const {
  Lease l;
  l.network = net_.name;
  l.instance = instance;
  l.address = address;
  l.prefix = net_.prefix();
  l.gateway = net_.gateway;
  l.reused = reused;
  auto c4 = Cidr::parse(net_.subnet);
  auto c6 = Cidr::parse(net_.subnet6);
  auto a = IpAddress::parse(address);
  if (c4 && c6 && a) {
    l.address6 = c6->host(c4->host_number(*a)).str();
    l.prefix6 = c6->prefix;
    l.gateway6 = net_.gateway6;
  }
  return l;
}

Lease Ipam::find(const std::string& instance) const {
  for (const auto& [addr, inst] : leases())
    if (inst == instance) return make_lease(instance, addr, true);
  return Lease{};
}

Lease Ipam::lease(const std::string& instance, const std::string& requested_ip) {
  Cidr subnet = *Cidr::parse(net_.subnet);
  const uint64_t count = subnet.host_count();  // network .. broadcast
  std::optional<IpAddress> want;
  if (!requested_ip.empty()) {
    want = IpAddress::parse(requested_ip);
    if (!want || !want->v4())
      throw Error("--ip " + q(requested_ip) + ": not an IPv4 address", kExitUsage);
    if (!subnet.contains(*want))
      throw Error("--ip " + requested_ip + ": outside network " + q(net_.name) + " (" + net_.subnet + ")",
                  kExitUsage);
    uint64_t n = subnet.host_number(*want);
    if (n == 0 || n == count - 1)
      throw Error("--ip " + requested_ip + ": the " + (n == 0 ? "network" : "broadcast") +
                      " address of network " + q(net_.name),
                  kExitUsage);
    if (want->str() == net_.gateway)
      throw Error("--ip " + requested_ip + ": the gateway of network " + q(net_.name), kExitUsage);
  }

  make_dirs(networks_dir(store_));
  Lock lock(lock_path(), true);
  Network now;
  if (!read_network(store_, net_.name, now)) throw Error("network " + q(net_.name) + ": no such network");
  auto leases = read_leases();

  std::string held;
  for (const auto& [addr, inst] : leases)
    if (inst == instance) held = addr;
  if (!held.empty() && (!want || want->str() == held)) return make_lease(instance, held, true);

  std::string address;
  if (want) {
    address = want->str();
    auto it = leases.find(address);
    if (it != leases.end())
      throw Error("--ip " + address + ": already in use by instance " + q(it->second));
  } else {
    const uint64_t gateway = subnet.host_number(*IpAddress::parse(net_.gateway));
    for (uint64_t n = 1; n + 1 < count; ++n) {
      if (n == gateway) continue;
      std::string a = subnet.host(n).str();
      if (!leases.count(a)) {
        address = a;
        break;
      }
    }
    if (address.empty())
      throw Error("network " + q(net_.name) + ": no free address (" + net_.subnet + " is full)");
  }
  // An instance has one address per network: a new request replaces the old.
  if (!held.empty()) leases.erase(held);
  leases[address] = instance;
  write_leases(leases);
  return make_lease(instance, address, false);
}

bool Ipam::release(const std::string& instance) {
  make_dirs(networks_dir(store_));
  Lock lock(lock_path(), true);
  auto leases = read_leases();
  bool found = false;
  for (auto it = leases.begin(); it != leases.end();) {
    if (it->second == instance) {
      it = leases.erase(it);
      found = true;
    } else {
      ++it;
    }
  }
  if (found) write_leases(leases);
  return found;
}

}  // namespace mult
