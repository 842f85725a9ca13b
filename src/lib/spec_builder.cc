#include "spec_builder.hh"

#include <algorithm>
#include <sys/prctl.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <set>

#include "cgroup.hh"
#include "error.hh"
#include "image.hh"
#include "launch.hh"
#include "net_attach.hh"
#include "process.hh"
#include "userns.hh"

namespace mult {

namespace {

Error usage(const std::string& msg) { return Error(msg, kExitUsage); }

std::string absolute(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf)) return buf;
  return path;  // a missing path is reported, by name, when checked
}

Json bind_mount(const std::string& arg) {
  std::string src = arg, dst, mode;
  auto c1 = arg.find(':');
  if (c1 == std::string::npos) throw usage("--bind \"" + arg + "\": expected SRC:DST[:ro]");
  src = arg.substr(0, c1);
  dst = arg.substr(c1 + 1);
  if (auto c2 = dst.find(':'); c2 != std::string::npos) {
    mode = dst.substr(c2 + 1);
    dst = dst.substr(0, c2);
  }
  if (src.empty() || dst.empty() || dst[0] != '/')
    throw usage("--bind \"" + arg + "\": expected SRC:DST[:ro] with an absolute DST");
  if (!mode.empty() && mode != "ro" && mode != "rw")
    throw usage("--bind \"" + arg + "\": unknown mode \"" + mode + "\" (ro or rw)");
  Json opts = Json::array({"rbind"});
  if (mode == "ro") opts.push_back("ro");
  return {{"destination", dst}, {"type", "bind"}, {"source", absolute(src)}, {"options", opts}};
}

void set_env(Json& env, const std::string& kv) {
  auto eq = kv.find('=');
  if (eq == 0 || eq == std::string::npos) throw usage("--env \"" + kv + "\": expected KEY=VALUE");
  std::string key = kv.substr(0, eq + 1);
  for (auto& e : env)
    if (e.get<std::string>().rfind(key, 0) == 0) {
      e = kv;
      return;
    }
  env.push_back(kv);
}

// "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" -> "CAP_NET_ADMIN".
std::string capability_name(const std::string& option, const std::string& value) {
  std::string name = value;
  for (auto& c : name) c = char(::toupper(c));
  if (name.rfind("CAP_", 0) != 0) name = "CAP_" + name;
  auto all = all_capabilities();
  if (std::find(all.begin(), all.end(), name) == all.end())
    throw usage(option + " \"" + value + "\": unknown capability");
  return name;
}

// Every capability mult itself may pass on (its own bounding set): a host
// root may lack some (CAP_SYS_RESOURCE in some sandboxes).
std::vector<std::string> grantable_capabilities() {
  std::vector<std::string> out;
  for (const auto& name : all_capabilities())
    if (::prctl(PR_CAPBSET_READ, capability_number(name), 0, 0, 0) == 1) out.push_back(name);
  return out;
}

// The capability set: the default, or all with --privileged, then the
// drops and the adds, in that order (so --cap-drop ALL --cap-add X is X).
Json capability_set(const InstanceOptions& o, const Json& defaults) {
  std::vector<std::string> caps;
  if (o.privileged) {
    caps = grantable_capabilities();
  } else {
    for (const auto& c : defaults) caps.push_back(c.get<std::string>());
    // reboot(2) inside restarts (or stops) the instance alone: its own PID
    // namespace confines it; kexec stays denied by the seccomp profile.
    // Only while that profile is in force, or in a user namespace of the
    // instance's own (kexec asks for CAP_SYS_BOOT over the host's): with
    // --seccomp unconfined or FILE it would let the instance kexec_load a
    // kernel into the host. --cap-add SYS_BOOT still grants it there.
    if (o.seccomp.empty() || o.userns || ::geteuid() != 0) caps.push_back("CAP_SYS_BOOT");
  }
  auto upper = [](std::string v) {
    for (auto& c : v) c = char(::toupper(c));
    return v;
  };
  for (const auto& d : o.cap_drop) {
    if (upper(d) == "ALL") caps.clear();
    else std::erase(caps, capability_name("--cap-drop", d));
  }
  for (const auto& a : o.cap_add) {
    if (upper(a) == "ALL") caps = grantable_capabilities();
    else if (auto n = capability_name("--cap-add", a); std::find(caps.begin(), caps.end(), n) == caps.end())
      caps.push_back(n);
  }
  return caps;
}

// The user namespace asked for, as namespace and mappings. "auto" leaves the
// mappings to the engine, which leases a range when the instance starts.
void add_user_namespace(Json& spec, const std::string& mode) {
  uint32_t host = 0, size = kIdRangeSize;
  if (mode == "auto") {
    spec["annotations"][kAnnotationUserns] = "auto";
  } else if (mode.empty()) {
    auto ranges = subordinate_ids("/etc/subuid", "root", 0);
    if (ranges.empty())
      throw usage("--userns: no subordinate IDs for root in /etc/subuid "
                  "(add a line such as root:100000:65536, or use --userns=auto)");
    host = ranges[0].host_id;
    size = std::min(ranges[0].size, kIdRangeSize);
  } else {
    char* end = nullptr;
    unsigned long h = std::strtoul(mode.c_str(), &end, 10);
    unsigned long n = *end == ':' ? std::strtoul(end + 1, &end, 10) : kIdRangeSize;
    if (mode.empty() || *end || h == 0 || n == 0 || h + n > 0xffffffffUL)
      throw usage("--userns=" + mode + ": expected auto or HOSTID[:SIZE]");
    host = uint32_t(h);
    size = uint32_t(n);
  }
  spec["linux"]["namespaces"].push_back({{"type", "user"}});
  Json map = Json::array({{{"containerID", 0}, {"hostID", host}, {"size", size}}});
  spec["linux"]["uidMappings"] = map;
  spec["linux"]["gidMappings"] = map;
}

int64_t parse_count(const std::string& value, const std::string& option, int64_t min, int64_t max) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end || errno || n < min || n > max)
    throw usage(option + " \"" + value + "\": expected a whole number from " + std::to_string(min) +
                " to " + std::to_string(max));
  return n;
}

// "0-1,3" -> {0, 1, 3}; false when it is not such a list.
bool parse_id_list(const std::string& s, std::set<long>& out) {
  if (s.empty()) return false;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(pos, end - pos);
    auto number = [](const std::string& t, long& v) {
      if (t.empty() || t.size() > 5 || t.find_first_not_of("0123456789") != std::string::npos) return false;
      v = std::stol(t);
      return true;
    };
    long a = 0, b = 0;
    size_t dash = item.find('-');
    if (!number(item.substr(0, dash), a)) return false;
    b = a;
    if (dash != std::string::npos && !number(item.substr(dash + 1), b)) return false;
    if (b < a) return false;
    for (long v = a; v <= b; ++v) out.insert(v);
    pos = end + 1;
  }
  return true;
}

// --cpuset-cpus / --cpuset-mems: a list whose every member is online on
// this host (`online`, a sysfs list), checked before anything is made.
std::string online_list(const std::string& value, const std::string& option, const std::string& online,
                        const char* what) {
  std::set<long> asked, available;
  if (!parse_id_list(value, asked))
    throw usage(option + " \"" + value + "\": expected a list like 0-1,3");
  std::string text;
  try {
    if (!read_file_if_exists(online, text)) return value;
  } catch (const Error&) {
    return value;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!parse_id_list(text, available)) return value;
  for (long id : asked)
    if (!available.count(id))
      throw usage(option + " \"" + value + "\": " + what + " " + std::to_string(id) +
                  " is not available (online: " + text + ")");
  return value;
}

Json device_rates(const std::vector<std::string>& values, const std::string& option, bool iops) {
  Json out = Json::array();
  for (const auto& v : values) {
    auto [dev, rate] = parse_device_rate(v, option);
    (void)iops;
    out.push_back({{"major", dev.first}, {"minor", dev.second}, {"rate", rate}});
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ",") + x;
  return out;
}

// --net and its companions, as namespaces and annotations.
void add_network(Json& spec, const InstanceOptions& o) {
  Json& ns = spec["linux"]["namespaces"];
  Json& ann = spec["annotations"];
  std::string mode = o.net.empty() ? "none" : o.net;
  bool bridge = mode == "bridge" || mode.rfind("bridge:", 0) == 0;
  if (!bridge && (!o.ip.empty() || !o.mac.empty() || !o.mtu.empty() || !o.publish.empty() || o.nat))
    throw usage("--ip, --mac, --mtu, --publish and --nat need --net bridge");
  auto drop_netns = [&] {
    for (auto it = ns.begin(); it != ns.end(); ++it)
      if ((*it)["type"] == "network") {
        ns.erase(it);
        return;
      }
  };
  if (mode == "none") {
  } else if (bridge) {
    std::string name = mode == "bridge" ? "mult0" : mode.substr(7);
    check_name(name, "network");
    ann[kAnnotationNet] = "bridge:" + name;
    if (!o.ip.empty()) ann[kAnnotationNetIp] = o.ip;
    if (!o.mac.empty()) ann[kAnnotationNetMac] = o.mac;
    if (!o.mtu.empty()) ann[kAnnotationNetMtu] = std::to_string(parse_count(o.mtu, "--mtu", 68, 65535));
    if (!o.publish.empty()) {
      parse_publish(o.publish);  // refuses a malformed one now, before anything is made
      ann[kAnnotationNetPublish] = joined(o.publish);
    }
    if (o.nat) ann[kAnnotationNetNat] = "true";
  } else if (mode == "host") {
    drop_netns();  // the host's own stack: an explicit opt-in
  } else if (mode.rfind("ns:", 0) == 0 && mode.size() > 3 && mode[3] == '/') {
    drop_netns();
    ns.push_back({{"type", "network"}, {"path", mode.substr(3)}});
  } else if (mode.rfind("instance:", 0) == 0) {
    check_name(mode.substr(9));
    drop_netns();
    ann[kAnnotationNet] = mode;
  } else {
    throw usage("--net \"" + mode + "\": expected none, bridge[:NAME], host, ns:PATH or instance:NAME");
  }
  for (const auto& d : o.dns)
    if (d.empty() || d.find_first_not_of("0123456789abcdefABCDEF.:") != std::string::npos)
      throw usage("--dns \"" + d + "\": expected an IP address");
  if (!o.dns.empty()) ann[kAnnotationNetDns] = joined(o.dns);
  for (const auto& h : o.add_hosts)
    if (h.find(':') == std::string::npos || h.find(':') == 0 || h.find(',') != std::string::npos)
      throw usage("--add-host \"" + h + "\": expected NAME:ADDRESS");
  if (!o.add_hosts.empty()) ann[kAnnotationNetHosts] = joined(o.add_hosts);
  for (const auto& l : o.links) check_name(l);
  if (!o.links.empty()) ann[kAnnotationNetLinks] = joined(o.links);
}

// A user without privileges runs the instance in a user namespace of its
// own: root inside is the user, and the user's subordinate IDs (through
// newuidmap) are the rest, as rootless podman and bwrap do.
void add_rootless_user_namespace(Json& spec, const InstanceOptions& o) {
  if (o.userns && !o.userns->empty())
    throw usage("--userns=" + *o.userns + ": needs root (rootless instances map to the user's own IDs)");
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  const char* user = ::getenv("USER");
  auto subuids = subordinate_ids("/etc/subuid", user ? user : "", uid);
  auto subgids = subordinate_ids("/etc/subgid", user ? user : "", gid);
  Json uids = Json::array({{{"containerID", 0}, {"hostID", uid}, {"size", 1}}});
  Json gids = Json::array({{{"containerID", 0}, {"hostID", gid}, {"size", 1}}});
  if (!subuids.empty() && !subgids.empty()) {
    uids.push_back({{"containerID", 1}, {"hostID", subuids[0].host_id}, {"size", std::min(subuids[0].size, kIdRangeSize - 1)}});
    gids.push_back({{"containerID", 1}, {"hostID", subgids[0].host_id}, {"size", std::min(subgids[0].size, kIdRangeSize - 1)}});
  } else {
    // Only root exists inside: devpts cannot use the tty group.
    for (auto& m : spec["mounts"])
      if (m["type"] == "devpts") std::erase(m["options"].get_ref<Json::array_t&>(), Json("gid=5"));
  }
  spec["linux"]["namespaces"].push_back({{"type", "user"}});
  spec["linux"]["uidMappings"] = uids;
  spec["linux"]["gidMappings"] = gids;
}

}  // namespace

bool LimitOptions::empty() const {
  return memory.empty() && memory_swap.empty() && memory_reservation.empty() && cpus.empty() &&
         cpu_shares.empty() && cpuset_cpus.empty() && cpuset_mems.empty() && pids_limit.empty() &&
         io_weight.empty() && device_read_bps.empty() && device_write_bps.empty() &&
         device_read_iops.empty() && device_write_iops.empty() && hugetlb.empty();
}

Json resources_json(const LimitOptions& l) {
  Json r = Json::object();
  if (!l.memory.empty()) r["memory"]["limit"] = parse_size(l.memory, "--memory");
  if (!l.memory_reservation.empty())
    r["memory"]["reservation"] = parse_size(l.memory_reservation, "--memory-reservation");
  if (!l.memory_swap.empty())  // docker's meaning: memory plus swap; -1 unlimited
    r["memory"]["swap"] = l.memory_swap == "-1" ? -1 : parse_size(l.memory_swap, "--memory-swap");
  if (!l.cpus.empty()) {
    r["cpu"]["quota"] = cpu_quota_for(parse_cpus(l.cpus, "--cpus"));
    r["cpu"]["period"] = kCpuPeriod;
  }
  if (!l.cpu_shares.empty()) r["cpu"]["shares"] = parse_count(l.cpu_shares, "--cpu-shares", 2, 262144);
  if (!l.cpuset_cpus.empty())
    r["cpu"]["cpus"] = online_list(l.cpuset_cpus, "--cpuset-cpus", "/sys/devices/system/cpu/online", "CPU");
  if (!l.cpuset_mems.empty())
    r["cpu"]["mems"] = online_list(l.cpuset_mems, "--cpuset-mems", "/sys/devices/system/node/online", "node");
  if (!l.pids_limit.empty())
    r["pids"]["limit"] = parse_count(l.pids_limit, "--pids-limit", -1, int64_t(1) << 31);
  if (!l.io_weight.empty()) r["blockIO"]["weight"] = parse_count(l.io_weight, "--io-weight", 10, 1000);
  if (!l.device_read_bps.empty())
    r["blockIO"]["throttleReadBpsDevice"] = device_rates(l.device_read_bps, "--device-read-bps", false);
  if (!l.device_write_bps.empty())
    r["blockIO"]["throttleWriteBpsDevice"] = device_rates(l.device_write_bps, "--device-write-bps", false);
  if (!l.device_read_iops.empty())
    r["blockIO"]["throttleReadIOPSDevice"] = device_rates(l.device_read_iops, "--device-read-iops", true);
  if (!l.device_write_iops.empty())
    r["blockIO"]["throttleWriteIOPSDevice"] = device_rates(l.device_write_iops, "--device-write-iops", true);
  for (const auto& h : l.hugetlb) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0)
      throw usage("--hugetlb \"" + h + "\": expected PAGESIZE:LIMIT (2MB:64M)");
    r["hugepageLimits"].push_back(
        {{"pageSize", h.substr(0, colon)}, {"limit", parse_size(h.substr(colon + 1), "--hugetlb")}});
  }
  return r;
}

Json build_spec(const Store& store, const std::string& name, const InstanceOptions& o) {
  if (!o.rootfs.empty() && !o.image.empty()) throw usage("--rootfs and --image exclude each other");
  Json spec = default_spec_json();
  std::string rootfs = !o.rootfs.empty() ? absolute(o.rootfs)
                                         : image_rootfs(store, o.image.empty() ? kDefaultImage : o.image);
  spec["root"]["path"] = rootfs;
  spec["root"]["readonly"] = o.read_only;
  spec["hostname"] = o.hostname.empty() ? name : o.hostname;
  Json& proc = spec["process"];
  spec["annotations"] = Json::object();
  Json& ann = spec["annotations"];

  if (!o.init.empty()) {
    if (o.init[0] != '/') throw usage("--init \"" + o.init + "\": must be an absolute path");
    Json args = Json::array({o.init});
    for (const auto& a : o.command) args.push_back(a);
    proc["args"] = args;
    ann[kAnnotationPid1] = "process";
  } else if (o.command.empty()) {
    proc["args"] = Json::array({"/bin/sh", "/etc/rc"});
    ann[kAnnotationBoot] = "rc";
  } else {
    proc["args"] = o.command;
  }
  proc["terminal"] = o.tty;
  for (const auto& kv : o.env) set_env(proc["env"], kv);
  if (!o.workdir.empty()) {
    if (o.workdir[0] != '/') throw usage("--workdir \"" + o.workdir + "\": must be an absolute path");
    proc["cwd"] = o.workdir;
  }
  if (!o.user.empty()) {
    User u = resolve_user(o.user, rootfs);
    proc["user"] = {{"uid", u.uid}, {"gid", u.gid}};
    if (!u.additional_gids.empty()) proc["user"]["additionalGids"] = u.additional_gids;
  }
  Json caps = capability_set(o, proc["capabilities"]["bounding"]);
  proc["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  proc["noNewPrivileges"] = !o.allow_new_privs;
  if (o.privileged) {
    spec["linux"].erase("maskedPaths");
    spec["linux"].erase("readonlyPaths");
  }
  add_network(spec, o);
  if (::geteuid() != 0) add_rootless_user_namespace(spec, o);
  else if (o.userns) add_user_namespace(spec, *o.userns);
  if (!o.limits.empty()) spec["linux"]["resources"] = resources_json(o.limits);
  // Every device too, as docker's --privileged (rootless: no cgroup to say so).
  if (o.privileged && ::geteuid() == 0)
    spec["linux"]["resources"]["devices"] = Json::array({{{"allow", true}, {"access", "rwm"}}});
  if (o.seccomp == "unconfined" || o.privileged) {
    // no filter
  } else if (!o.seccomp.empty()) {
    std::string text;
    try {
      text = read_file(o.seccomp);
      spec["linux"]["seccomp"] = Json::parse(text);
    } catch (const Json::exception& e) {
      throw usage("--seccomp \"" + o.seccomp + "\": invalid JSON: " + e.what());
    } catch (const Error& e) {
      throw usage("--seccomp: " + std::string(e.what()));
    }
  } else {
    // Named, not listed: the profile follows from the capability set, and
    // a start whose compiled filter is cached never makes its rules.
    ann[kAnnotationSeccomp] = "default";
  }
  for (const auto& b : o.binds) spec["mounts"].push_back(bind_mount(b));
  for (const auto& t : o.tmpfs) {
    if (t.empty() || t[0] != '/') throw usage("--tmpfs \"" + t + "\": must be an absolute path");
    spec["mounts"].push_back({{"destination", t}, {"type", "tmpfs"}, {"source", "tmpfs"},
                              {"options", {"nosuid", "nodev", "mode=1777"}}});
  }
  if (o.stop_timeout) {
    if (*o.stop_timeout < 0) throw usage("--stop-timeout: must be 0 or more seconds");
    ann[kAnnotationStopTimeout] = std::to_string(*o.stop_timeout);
  }
  if (!o.stop_command.empty()) ann[kAnnotationStopCommand] = o.stop_command;
  if (ann.empty()) spec.erase("annotations");
  return spec;
}

}  // namespace mult
