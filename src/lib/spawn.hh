// Starting a process that execs at once, without copying mult.
#pragma once
#include <sys/types.h>

namespace mult {

// A child that borrows the caller's memory until it execs or exits
// (CLONE_VM | CLONE_VFORK, as posix_spawn): no copy of the page tables and
// no copy-on-write faults on either side; the caller is suspended
// meanwhile. `child(arg)` runs on a stack of its own and must end in exec or
// _exit; it must not let an exception escape, and should change nothing of
// the caller's but through `arg`.
// `cgroup_fd` >= 0: the child starts in that cgroup v2 directory (clone3
// CLONE_INTO_CGROUP; -1 with errno ENOSYS where this build cannot do that).
// Returns the child's PID, or -1 with errno.
pid_t spawn_sharing_memory(int (*child)(void*), void* arg, int cgroup_fd = -1);

}  // namespace mult
