// Entering a running instance: a new process in all the namespaces and the
// cgroup of its init, under the restrictions of a spec process. Shared by
// mult exec (Engine::exec) and mult-oci exec.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fd.hh"
#include "seccomp.hh"
#include "spec.hh"

namespace mult {

struct EnterOptions {
  // "name", "uid", "uid:gid": looked up in the instance's passwd and group
  // files; empty: process.user as it is.
  std::string user;
  // With process.terminal: the pty master goes over this unix socket
  // (SCM_RIGHTS) instead of back to the caller.
  int console_socket = -1;
  // fds 3 .. 3+preserve_fds-1 stay open in the new process.
  int preserve_fds = 0;
  // When not 0: the init must still be the process that started then
  // (process_start_time), not a reuse of its pid.
  uint64_t start_time = 0;
  // The instance's seccomp filter, for the new process too.
  std::optional<SeccompProgram> seccomp;
};

struct Entered {
  pid_t pid = 0;  // the new process: a child of the caller
  Fd master;      // its pty master (process.terminal without a console socket)
};

// Moves the calling process into the cgroup `cgroup_path` and the
// namespaces of `init` (for good: call it in a process of its own, like a
// command-line tool), then forks the process that runs `process.args` and
// returns once it exec'd. Throws Error "not running" when `init` is gone,
// or the cause of a failed exec (code 126/127 when the command cannot be
// executed). `what` names the instance in errors ("instance \"web\"").
Entered enter_instance(pid_t init, const std::string& cgroup_path, const Process& process,
                       const EnterOptions& opts, const std::string& what);

// Adds each K=V of `extra` to `env`, replacing an entry with the same K.
void override_env(std::vector<std::string>& env, const std::vector<std::string>& extra);

}  // namespace mult
