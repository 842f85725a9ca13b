// Launch: turns a spec into a running instance. launch() runs in mult;
// the new instance's side of the work reads top to bottom in
// build_instance() in launch.cc: the order in which an instance is made.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>

#include "cgroup.hh"
#include "fd.hh"
#include "spec.hh"

namespace mult {

// mult-specific settings carried in the spec's annotations, so that the
// spec stays the one model of an instance.
inline constexpr const char* kAnnotationStopTimeout = "org.mult.stop-timeout";
inline constexpr const char* kAnnotationStopCommand = "org.mult.stop-command";
// "process": process.args is PID 1 itself (a distribution's /sbin/init);
// otherwise mult-init is PID 1 and supervises process.args.
inline constexpr const char* kAnnotationPid1 = "org.mult.pid1";
// "rc": a booted system instance: runs /etc/rc when the rootfs has one and
// stays up until stopped.
inline constexpr const char* kAnnotationBoot = "org.mult.boot";
// The network of an instance made by mult's face: "bridge:NAME" or
// "instance:NAME" (resolved when it starts); its settings in the
// org.mult.net.* annotations below. Absent: the spec's own namespaces.
inline constexpr const char* kAnnotationNet = "org.mult.net";
inline constexpr const char* kAnnotationNetIp = "org.mult.net.ip";
inline constexpr const char* kAnnotationNetMac = "org.mult.net.mac";
inline constexpr const char* kAnnotationNetMtu = "org.mult.net.mtu";
inline constexpr const char* kAnnotationNetPublish = "org.mult.net.publish";  // comma separated
inline constexpr const char* kAnnotationNetNat = "org.mult.net.nat";
inline constexpr const char* kAnnotationNetDns = "org.mult.net.dns";          // comma separated
inline constexpr const char* kAnnotationNetHosts = "org.mult.net.hosts";      // NAME:ADDR,...
inline constexpr const char* kAnnotationNetLinks = "org.mult.net.links";      // NAME,...
// "auto": the engine leases the instance a user ID range of its own.
inline constexpr const char* kAnnotationUserns = "org.mult.userns";
inline constexpr int kDefaultStopTimeout = 10;

struct LaunchRequest {
  std::string name;
  std::string cgroup_path;     // from the spec, or mult/NAME
  int stdin_fd = 0, stdout_fd = 1, stderr_fd = 2;
  // OCI create: the command blocks, set up, until this fifo is opened for
  // reading (mult-oci start); launch() returns once it blocks there (its
  // terminal, if any, already sent over console_socket).
  std::string start_fifo;
  // With process.terminal: the pty master is sent over this socket.
  int console_socket = -1;
  // fds 3 .. 3+preserve_fds-1 stay open in the command.
  int preserve_fds = 0;
  // Where compiled seccomp filters are kept between starts ("": nowhere).
  std::string seccomp_cache_dir;
  // Called in mult right after the clone, before the instance goes on
  // (networking: a veth into its network namespace). Throwing aborts.
  std::function<void(pid_t)> on_cloned;
  // Called in mult once the instance's namespaces exist, before its root is
  // built (prestart and createRuntime hooks); returns the state JSON that
  // the in-instance hooks get. Throwing aborts the launch.
  std::function<std::string(pid_t)> on_created;
  // Called in mult while the instance builds its root: work that may
  // overlap it (the instance's files that nothing inside reads). Throwing
  // aborts the launch.
  std::function<void()> while_building;
};

// A started instance, owned by mult until it is handed over (release()).
// Destroying it unreleased kills the instance and removes its cgroup.
class Instance {
 public:
  Instance() = default;
  Instance(Instance&& o) noexcept;
  Instance& operator=(Instance&&) = delete;
  ~Instance();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  Cgroup& cgroup() { return cgroup_; }
  // The pty master of the command's terminal (mult run -t): wait() relays it.
  void set_console(Fd master) { console_ = std::move(master); }
  // Hand over: the instance runs on after this object is gone.
  void release();
  // Waits for the init to exit, forwarding the usual signals to it, and
  // returns its exit status (128+signal when killed).
  int wait();
  // After wait(): reboot(2) with LINUX_REBOOT_CMD_RESTART ended it.
  bool ended_by_reboot() const { return ended_by_reboot_; }
  // After wait(): reboot(2) with HALT or POWER_OFF ended it.
  bool ended_by_halt() const { return ended_by_halt_; }

 private:
  friend Instance launch(const Spec&, const LaunchRequest&);
  pid_t pid_ = 0;
  Fd pidfd_;
  Cgroup cgroup_;
  bool reaped_ = false;
  bool ended_by_reboot_ = false, ended_by_halt_ = false;
  Fd console_;
};

// Creates the instance and starts its command; returns once the command
// was exec'd. On failure nothing is left behind, and the Error names the
// step and cause (code 126/127 when the command cannot be executed).
Instance launch(const Spec& spec, const LaunchRequest& req);

// Waits for the child `pid`, passing SIGTERM, SIGINT, SIGHUP, SIGQUIT,
// SIGUSR1, SIGUSR2 and SIGWINCH on to it; returns its exit status
// (128+signal when killed).
int wait_forwarding_signals(pid_t pid, int* raw_status = nullptr);

// Where mult-init lives: beside the running mult, or installed.
const std::string& mult_init_path();

}  // namespace mult
