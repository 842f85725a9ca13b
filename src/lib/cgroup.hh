// cgroups: one interface over cgroup v1, v2 and hybrid hosts. The layout is
// read at run time from mountinfo; on a hybrid host each controller is driven
// in the hierarchy where it is mounted.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "fd.hh"
#include "spec.hh"

namespace mult {

enum class CgroupMode { kV1, kV2, kHybrid, kNone };

struct CgroupHierarchy {
  std::string mount_point;               // /sys/fs/cgroup/memory
  bool v2 = false;
  std::vector<std::string> controllers;  // v1: "memory", "name=systemd"; v2: from cgroup.controllers
};

struct CgroupLayout {
  CgroupMode mode = CgroupMode::kNone;
  std::vector<CgroupHierarchy> hierarchies;

  // Reads the cgroup mounts in `mountinfo`. `path_prefix` is prepended to
  // every mount point (tests point it at a fake tree in a temporary dir).
  static CgroupLayout detect(const std::string& mountinfo = "/proc/self/mountinfo",
                             const std::string& path_prefix = "");
  // The process-wide layout of this host, detected once.
  static const CgroupLayout& host();
  const CgroupHierarchy* unified() const;
  const CgroupHierarchy* v1_for(const std::string& controller) const;
  // Whether an instance that needs `controllers` joins hierarchy `h`: the
  // unified one always (clone3 puts it there for free), a v1 one only for a
  // controller it needs, since each v1 join costs an RCU grace period
  // (cgroup_threadgroup_rwsem) on the start path. A pure v1 host adds the
  // freezer, to track and stop the instance.
  bool joins(const CgroupHierarchy& h, const std::vector<std::string>& controllers) const;
};

// The cgroup of one instance, in every hierarchy of the layout. Owns the
// directories it made: they are removed on destruction unless keep() was called.
class Cgroup {
 public:
  Cgroup() = default;
  Cgroup(Cgroup&&) noexcept;
  Cgroup& operator=(Cgroup&&) noexcept;
  ~Cgroup();

  // Makes `path` in every hierarchy. `path` is relative to mult's parent
  // ("mult/NAME") or absolute from each hierarchy's root ("/a/b"), as the
  // spec's cgroupsPath says. Missing parents are made and owned too.
  static Cgroup create(const CgroupLayout& layout, const std::string& path);
  // The same in the hierarchies an instance needing `controllers` joins.
  static Cgroup create(const CgroupLayout& layout, const std::string& path,
                       const std::vector<std::string>& controllers);
  // An existing instance's cgroup (for exec, stop, rm); owns nothing until adopt().
  static Cgroup open(const CgroupLayout& layout, const std::string& path);

  // The v2 directory for clone3(CLONE_INTO_CGROUP); -1 without a unified hierarchy.
  int unified_fd() const { return unified_fd_.get(); }
  // Puts `pid` into every hierarchy (skip_unified: it was cloned into it).
  void add_process(pid_t pid, bool skip_unified = false) const;
  // Pids in the instance's cgroup.
  std::vector<pid_t> pids() const;
  // SIGKILLs every process, even one forking in a loop: cgroup.kill on v2,
  // freeze, kill, thaw on v1.
  void kill_all() const;
  // Removes the directories (waits briefly for dying tasks) and the parents it
  // made when they are empty. Throws if a directory stays busy.
  void remove();
  // Stop owning: the directories outlive this object.
  void keep() { owned_.clear(); }
  // Take ownership of every directory of an opened cgroup (for rm).
  void adopt();

  const std::string& path() const { return path_; }
  // Absolute directories, one per hierarchy.
  const std::vector<std::string>& dirs() const { return dirs_; }

 private:
  static Cgroup create(const CgroupLayout& layout, const std::string& path,
                       const std::vector<std::string>* controllers);

  const CgroupLayout* layout_ = nullptr;
  std::string path_;
  std::vector<std::string> dirs_;
  std::vector<std::string> owned_;  // made by us, removed in reverse order
  bool adopted_ = false;            // remove() also tries the path's empty parents
  Fd unified_fd_;
};

// Default cgroup path of an instance: "mult/NAME".
std::string default_cgroup_path(const std::string& name);

}  // namespace mult
