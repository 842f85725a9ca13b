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

// Sends `fd` with SCM_RIGHTS over the unix socket `sock` (a console socket:
// the pty master, as conmon and containerd's shim expect it).
void send_fd(int sock, int fd);
// Sends the byte `tag`, with `fd` attached (SCM_RIGHTS) when it is >= 0.
void send_fd(int sock, char tag, int fd);
// Receives one message of send_fd: its tag, and its fd if one came.
Fd receive_message(int sock, char& tag);
// Receives one fd sent with send_fd (the console socket); throws without one.
Fd receive_fd(int sock);

// Copies stdin to `master` and `master` to stdout until the process `pid`
// (a child) exits, with the caller's terminal in raw mode and window size
// changes passed on. Returns the child's exit status (128+signal if killed).
int relay_pty(int master, pid_t pid);

}  // namespace mult
