// default_spec_json(): the config.json of a new root instance, with the same
// defaults `runc spec` gives (no user namespace, no /sys/fs/cgroup mount).
#include "spec.hh"

namespace mult {
namespace {

Json default_capabilities() {
  Json set = Json::array({
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
      "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP",
      "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
      "CAP_AUDIT_WRITE",
  });
  return Json{{"bounding", set}, {"effective", set}, {"permitted", set}};
}

Json default_process() {
  return Json{
      {"terminal", false},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", Json::array({"sh"})},
      {"env", Json::array({
                  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "TERM=xterm",
              })},
      {"cwd", "/"},
      {"capabilities", default_capabilities()},
      {"rlimits", Json::array({Json{
                      {"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
      {"noNewPrivileges", true},
  };
}

Json mount(const char* destination, const char* type, const char* source,
           std::initializer_list<const char*> options) {
  Json m{{"destination", destination}, {"type", type}, {"source", source}};
  if (options.size() > 0) {
    m["options"] = Json::array();
    for (const char* o : options) m["options"].push_back(o);
  }
  return m;
}

Json default_mounts() {
  return Json::array({
      mount("/proc", "proc", "proc", {}),
      mount("/dev", "tmpfs", "tmpfs",
            {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
             "gid=5"}),
      mount("/dev/shm", "tmpfs", "shm",
            {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
  });
}

Json default_linux() {
  Json namespaces = Json::array();
  for (const char* type : {"pid", "network", "ipc", "uts", "mount", "cgroup", "time"})
    namespaces.push_back(Json{{"type", type}});
  return Json{
      {"namespaces", namespaces},
      {"maskedPaths", Json::array({
                          "/proc/acpi", "/proc/asound", "/proc/kcore",
                          "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                          "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                          "/sys/firmware", "/sys/devices/virtual/powercap",
                          "/sys/kernel/debug",
                      })},
      {"readonlyPaths", Json::array({
                            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                            "/proc/sysrq-trigger",
                        })},
  };
}

}  // namespace

Json default_spec_json() {
  return Json{
      {"ociVersion", kOciVersion},
      {"process", default_process()},
      {"root", {{"path", "rootfs"}, {"readonly", false}}},
      {"hostname", "mult"},
      {"mounts", default_mounts()},
      {"linux", default_linux()},
  };
}

}  // namespace mult
