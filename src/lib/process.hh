// The instance's process: who it runs as, with which privileges and limits,
// where, and with which environment. Runs in the new process, after the
// root file system is in place and before exec.
#pragma once
#include <string>
#include <vector>

#include "seccomp.hh"
#include "spec.hh"

namespace mult {

// Capability name ("CAP_CHOWN") -> number; -1 if unknown.
int capability_number(const std::string& name);

void apply_rlimits(const Process& process);
void set_oom_score_adj(int value);
// Drops every capability outside the bounding set (kept: those listed).
void limit_bounding_set(const Capabilities& caps);
// setgroups/setgid/setuid, then the capability sets of the spec (kept across
// the uid change), then no_new_privs when asked.
void become_user_with_caps(const Process& process);
// The working directory (made nowhere: it must exist).
void enter_cwd(const Process& process);

// The last steps before exec, shared by an instance's command and mult exec:
// identity and capabilities, the working directory, and the seccomp filter,
// installed after the identity change when no_new_privs is on (so the
// filter need not allow setuid and the like), before it otherwise (it needs
// the privileges then).
void become_process(const Process& process, const SeccompProgram* filter);

// Resolves args[0] through PATH of the process's environment and execs it.
// Returns only on failure, with errno set.
void exec_process(const Process& process);

// args[0] looked up as exec_process would (PATH of the process's
// environment, relative to the working directory): the path of an
// executable file, checked with the current identity. Throws Error "exec
// \"X\": <cause>" (code 127 when not found, 126 otherwise).
std::string find_command(const Process& process);
// Execs `path` (from find_command) with the process's args and environment.
// Returns only on failure, with errno set.
void exec_command(const std::string& path, const Process& process);

// Looks `user` ("name", "uid", "uid:gid", "name:group") up in the
// passwd/group files below `root` (never through NSS: the files may be
// hostile). Fills uid, gid and the supplementary groups.
User resolve_user(const std::string& user, const std::string& root = "/");

}  // namespace mult
