// Terminals: a pty made inside an instance, and the relay between it and
// the caller's own terminal.
#pragma once
#include <sys/types.h>

#include <string>

#include "fd.hh"

namespace mult {

// Opens a new pty master on /dev/ptmx of the current mount namespace and
// unlocks it; `slave_path` receives the slave's path.
Fd open_pty_master(std::string& slave_path);

// In the new process: makes `slave_path` its controlling terminal and its
// stdin, stdout and stderr.
void attach_to_pty(const std::string& slave_path);

// Receives one fd sent with SCM_RIGHTS over `sock` (the console socket).
Fd receive_fd(int sock);

// Copies stdin to `master` and `master` to stdout until the process `pid`
// (a child) exits, with the caller's terminal in raw mode and window size
// changes passed on. Returns the child's exit status (128+signal if killed).
int relay_pty(int master, pid_t pid);

}  // namespace mult
