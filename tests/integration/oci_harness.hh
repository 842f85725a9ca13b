// Harness of the mult-oci tests: bundles made from the busybox image, a
// state root per test, and the tools of the real engines (podman,
// containerd) run against private roots in temporary directories.
#pragma once
#include <string>

#include "harness.hh"

namespace mult_it {

// The busybox image's rootfs, assembled once per test process by
// `mult --root <tmp> run -- true` (removed when the process ends).
const std::string& busybox_rootfs();

// A host tool's absolute path (from PATH), or "" when it is not installed.
std::string find_tool(const std::string& name);

// Lists the mounts at or below `dir` and lazily unmounts them, deepest first
// (clean-up after an engine that failed); returns what was unmounted.
std::vector<std::string> unmount_below(const std::string& dir);

// Kills (SIGKILL) every process whose command line mentions `needle` (a
// unique temporary path): what an engine the test started left running.
void kill_processes_mentioning(const std::string& needle);

// Each test: its own mult-oci state root (<root>/oci) and bundles below the
// test's state root; TearDown deletes (--force) every container left, then
// MultTest's check that no mount or mult cgroup is left behind.
class OciTest : public MultTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // build/mult-oci --root <root>/oci args...
  CmdResult oci(const Argv& args, double timeout = 30);
  std::string oci_root() const { return root_ + "/oci"; }

  // A bundle <root>/<name>: config.json from `mult-oci spec`, no terminal,
  // process.args = `args`, root.path = the busybox rootfs, and <bundle>/out
  // bound at /out in the container (where its commands leave markers).
  // `edit` may change the config before it is written.
  std::string make_bundle(const std::string& name, const std::vector<std::string>& args,
                          const std::function<void(Json&)>& edit = nullptr);
  // `state ID` parsed; a null JSON when it fails.
  Json state(const std::string& id);
  std::string status(const std::string& id);
  // Polls `state ID` until its status is `want`.
  bool wait_status(const std::string& id, const std::string& want, double timeout = 10);
};

}  // namespace mult_it
