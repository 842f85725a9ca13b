// ls, inspect, gc, image.
#include <time.h>

#include <cstdio>

#include "cli.hh"
#include "error.hh"
#include "image.hh"

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
                     {"persistent", i.persistent}});
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  std::printf("%-20s %-8s %8s %-20s %-8s %s\n", "NAME", "STATE", "PID", "HOSTNAME", "UPTIME", "ROOT");
  for (const auto& i : all) {
    std::string pid = i.pid ? std::to_string(i.pid) : "-";
    std::printf("%-20s %-8s %8s %-20s %-8s %s\n", i.name.c_str(), i.state.c_str(), pid.c_str(),
                i.hostname.empty() ? "-" : i.hostname.c_str(), uptime(i.started).c_str(),
                i.rootfs.c_str());
  }
  return kExitOk;
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
