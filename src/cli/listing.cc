// ls, inspect, gc, image.
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include <cstdio>

#include "cli.hh"
#include "error.hh"
#include "image.hh"
#include "ipam.hh"

namespace mult::cli {

static std::string uptime(long long started) {
  if (!started) return "-";
  long long s = (long long)::time(nullptr) - started;
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else if (s < 86400) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  else std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
  return buf;
}

static std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f%s" : "%.0f%s", v, units[u]);
  return buf;
}

static std::string read_format(ArgReader& r) {
  std::string format = "table";
  while (r.at_option()) {
    if (r.is("--format")) format = r.value();
    else r.unknown();
  }
  if (format != "table" && format != "json")
    throw Error("--format \"" + format + "\": expected table or json", kExitUsage);
  return format;
}

// A figure, or null where it is unknown (or there is no limit).
Json or_null(const std::optional<uint64_t>& v) { return v ? Json(*v) : Json(nullptr); }

int cmd_ls(Engine& e, const Args& a) {
  ArgReader r(a, "ls");
  std::string format = read_format(r);
  if (!r.done()) throw Error("ls: unexpected argument \"" + r.peek() + "\"", kExitUsage);
  auto all = e.list();
  if (format == "json") {
    Json out = Json::array();
    for (const auto& i : all)
      out.push_back({{"name", i.name}, {"state", i.state}, {"pid", i.pid},
                     {"hostname", i.hostname}, {"root", i.rootfs}, {"started", i.started},
                     {"persistent", i.persistent}, {"memory", or_null(i.memory_usage)}, {"pids", i.pids},
                     {"network", i.network}});
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  std::printf("%-20s %-8s %8s %-20s %-8s %10s %5s %-14s %s\n", "NAME", "STATE", "PID", "HOSTNAME",
              "UPTIME", "MEM", "PIDS", "NET", "ROOT");
  for (const auto& i : all) {
    bool up = i.pid != 0;
    std::string pid = up ? std::to_string(i.pid) : "-";
    std::string mem = up && i.memory_usage ? human_bytes(*i.memory_usage) : "-";
    std::string pids = up ? std::to_string(i.pids) : "-";
    std::printf("%-20s %-8s %8s %-20s %-8s %10s %5s %-14s %s\n", i.name.c_str(), i.state.c_str(),
                pid.c_str(), i.hostname.empty() ? "-" : i.hostname.c_str(),
                uptime(i.started).c_str(), mem.c_str(), pids.c_str(),
                up ? i.network.c_str() : "-", i.rootfs.c_str());
  }
  return kExitOk;
}

int cmd_stats(Engine& e, const Args& a) {
  ArgReader r(a, "stats");
  bool stream = true;
  std::string format = "table";
  while (r.at_option()) {
    if (r.is("--no-stream")) stream = false;
    else if (r.is("--format")) format = r.value();
    else r.unknown();
  }
  if (format != "table" && format != "json")
    throw Error("--format \"" + format + "\": expected table or json", kExitUsage);
  Args names = r.rest();
  bool tty = stream && ::isatty(STDOUT_FILENO);
  auto before = e.stats(names);
  for (;;) {
    ::usleep(stream ? 1000000 : 500000);  // CPU % needs two samples
    auto now = e.stats(names);
    Json rows = Json::array();
    for (const auto& s : now) {
      double cpu = 0;
      for (const auto& b : before)
        if (b.name == s.name && s.sampled_ns > b.sampled_ns)
          cpu = 100.0 * double(s.cgroup.cpu_usage_ns - std::min(s.cgroup.cpu_usage_ns, b.cgroup.cpu_usage_ns)) /
                double(s.sampled_ns - b.sampled_ns);
      const auto& c = s.cgroup;
      double mem_pct = c.memory_usage && c.memory_limit && *c.memory_limit
                           ? 100.0 * double(*c.memory_usage) / double(*c.memory_limit)
                           : 0;
      rows.push_back({{"name", s.name}, {"cpuPercent", cpu},
                      {"memoryUsage", or_null(c.memory_usage)}, {"memoryLimit", or_null(c.memory_limit)},
                      {"memoryPercent", mem_pct}, {"pids", c.pids},
                      {"blockRead", c.io_read_bytes}, {"blockWrite", c.io_write_bytes},
                      {"netRx", s.net_rx_bytes}, {"netTx", s.net_tx_bytes}, {"oomKills", c.oom_kills}});
    }
    if (format == "json") {
      std::printf("%s\n", rows.dump().c_str());
    } else {
      if (tty) std::printf("\033[H\033[2J");  // redraw in place
      std::printf("%-20s %7s %21s %7s %5s %19s %19s\n", "NAME", "CPU %", "MEM USAGE / LIMIT",
                  "MEM %", "PIDS", "BLOCK I/O", "NET I/O");
      for (const auto& row : rows) {
        std::string lim = row["memoryLimit"].is_null() ? "-" : human_bytes(row["memoryLimit"].get<uint64_t>());
        std::string use = row["memoryUsage"].is_null() ? "-" : human_bytes(row["memoryUsage"].get<uint64_t>());
        std::string mem = use + " / " + lim;
        std::string blk = human_bytes(row["blockRead"].get<uint64_t>()) + " / " +
                          human_bytes(row["blockWrite"].get<uint64_t>());
        std::string net = human_bytes(row["netRx"].get<uint64_t>()) + " / " +
                          human_bytes(row["netTx"].get<uint64_t>());
        std::printf("%-20s %6.1f%% %21s %6.1f%% %5llu %19s %19s\n",
                    row["name"].get<std::string>().c_str(), row["cpuPercent"].get<double>(),
                    mem.c_str(), row["memoryPercent"].get<double>(),
                    (unsigned long long)row["pids"].get<uint64_t>(), blk.c_str(), net.c_str());
      }
    }
    std::fflush(stdout);
    if (!stream) return kExitOk;
    before = std::move(now);
  }
}

int cmd_update(Engine& e, const Args& a) {
  ArgReader r(a, "update");
  LimitOptions l;
  std::string name;
  if (!r.at_option()) name = r.next_word("instance name");
  while (r.at_option())
    if (!read_limit_option(r, l)) r.unknown();
  if (name.empty()) name = r.next_word("instance name");
  if (!r.done()) throw Error("update: unexpected argument \"" + r.peek() + "\"", kExitUsage);
  if (l.empty()) throw Error("update: no limit given (see mult --help)", kExitUsage);
  e.update(name, resources_json(l));
  return kExitOk;
}

int cmd_net(Engine& e, const Args& a) {
  ArgReader r(a, "net");
  std::string sub = r.next_word("net command (ls, create or rm)");
  Args rest = r.rest();
  ArgReader sr(rest, "net " + sub);
  if (sub == "ls") {
    std::string format = read_format(sr);
    auto nets = list_networks(e.store());
    Json out = Json::array();
    for (const auto& n : nets) {
      auto leases = Ipam(e.store(), n.name).leases();
      out.push_back({{"name", n.name}, {"bridge", n.bridge}, {"subnet", n.subnet},
                     {"gateway", n.gateway}, {"subnet6", n.subnet6}, {"instances", leases.size()}});
    }
    if (format == "json") {
      std::printf("%s\n", out.dump(2).c_str());
      return kExitOk;
    }
    std::printf("%-16s %-16s %-18s %-16s %s\n", "NAME", "BRIDGE", "SUBNET", "GATEWAY", "INSTANCES");
    for (const auto& n : out)
      std::printf("%-16s %-16s %-18s %-16s %zu\n", n["name"].get<std::string>().c_str(),
                  n["bridge"].get<std::string>().c_str(), n["subnet"].get<std::string>().c_str(),
                  n["gateway"].get<std::string>().c_str(), n["instances"].get<size_t>());
    return kExitOk;
  }
  if (sub == "create") {
    std::string name, subnet, subnet6;
    if (!sr.at_option()) name = sr.next_word("network name");
    while (sr.at_option()) {
      if (sr.is("--subnet")) subnet = sr.value();
      else if (sr.is("--subnet6")) subnet6 = sr.value();
      else sr.unknown();
    }
    if (name.empty()) name = sr.next_word("network name");
    check_name(name, "network");
    if (subnet.empty()) throw Error("net create: --subnet CIDR is required", kExitUsage);
    create_network(e.store(), name, subnet, subnet6);
    return kExitOk;
  }
  if (sub == "rm") {
    while (sr.at_option()) sr.unknown();
    Args names = sr.rest();
    if (names.empty()) throw Error("net rm: missing network name", kExitUsage);
    for (const auto& n : names) remove_network(e.store(), n);
    return kExitOk;
  }
  throw Error("net: unknown command \"" + sub + "\" (ls, create or rm)", kExitUsage);
}

int cmd_inspect(Engine& e, const Args& a) {
  ArgReader r(a, "inspect");
  while (r.at_option()) r.unknown();
  std::string name = r.next_word("instance name");
  std::printf("%s\n", e.inspect(name).dump(2).c_str());
  return kExitOk;
}

int cmd_gc(Engine& e, const Args& a) {
  ArgReader r(a, "gc");
  while (r.at_option()) r.unknown();
  int n = e.gc();
  if (n) std::printf("%d instance%s cleaned up\n", n, n == 1 ? "" : "s");
  return kExitOk;
}

int cmd_image(Engine& e, const Args& a) {
  ArgReader r(a, "image");
  std::string sub = r.next_word("image command (ls or rm)");
  Args rest = r.rest();
  ArgReader sr(rest, "image " + sub);
  if (sub == "ls") {
    std::string format = read_format(sr);
    auto images = list_images(e.store());
    if (format == "json") {
      Json out = Json::array();
      for (const auto& i : images)
        out.push_back({{"name", i.name}, {"rootfs", i.rootfs}, {"size", i.size_bytes},
                       {"created", i.created}});
      std::printf("%s\n", out.dump(2).c_str());
      return kExitOk;
    }
    std::printf("%-20s %10s %s\n", "NAME", "SIZE", "ROOTFS");
    for (const auto& i : images)
      std::printf("%-20s %9.1fM %s\n", i.name.c_str(), double(i.size_bytes) / 1048576.0,
                  i.rootfs.c_str());
    return kExitOk;
  }
  if (sub == "rm") {
    while (sr.at_option()) sr.unknown();
    Args names = sr.rest();
    if (names.empty()) throw Error("image rm: missing image name", kExitUsage);
    for (const auto& n : names) remove_image(e.store(), n);
    return kExitOk;
  }
  throw Error("image: unknown command \"" + sub + "\" (ls or rm)", kExitUsage);
}

}  // namespace mult::cli
