// Seccomp: the default profile of an instance, compiling an OCI linux.seccomp
// profile to a classic BPF program (through libseccomp), a cache of compiled
// programs (compiling costs real time on the start path), and installing a
// program in the calling process.
#pragma once
#include <linux/filter.h>

#include <string>
#include <vector>

#include "spec.hh"

namespace mult {

// The default profile, in OCI linux.seccomp JSON form: everything is allowed
// but a deny list of calls that reach kernel state an instance must not touch
// (modules, kexec, keyrings, the host's clocks, new mounts and namespaces, ...).
// Calls that only a capability in `granted_caps` ("CAP_SYS_ADMIN", ...) would
// make work are allowed then. reboot stays allowed: in a PID namespace it
// kills the namespace's init, which is how an instance stops itself.
Json default_seccomp_profile_json(const std::vector<std::string>& granted_caps);

// The default profile for `granted_caps` by name only, as parse_spec() reads
// it from the annotation org.mult.seccomp: no rules yet. load_seccomp() finds
// its compiled program by that name and makes the rules only to compile it.
Seccomp default_seccomp(std::vector<std::string> granted_caps);

// `profile` with its rules: the default profile's made (and checked as any
// profile is), any other as it is.
Seccomp expand_seccomp(const Seccomp& profile);

// The OCI linux.seccomp object of `profile` (the default profile's rules
// made): what `mult inspect` shows.
Json seccomp_json(const Seccomp& profile);

// A compiled filter: what seccomp(SECCOMP_SET_MODE_FILTER) takes.
struct SeccompProgram {
  std::vector<struct sock_filter> insns;
  unsigned flags = 0;  // SECCOMP_FILTER_FLAG_* from the profile's flags
};

// Compiles `profile` with libseccomp, as a binary tree of system call
// numbers when it has 8 rules or more (SCMP_FLTATR_CTL_OPTIMIZE 2: fewer
// instructions on each call's way, and a cheaper install). Syscall names libseccomp does not know on any
// architecture are skipped (profiles list calls a kernel may lack).
// Errors name the field: "linux.seccomp.syscalls[3]: ...".
SeccompProgram compile_seccomp(const Seccomp& profile);

// compile_seccomp() through a cache in `cache_dir` (made if missing; "" means
// no cache): <cache_dir>/<hash>.bpf, keyed by the code that compiles (the
// build ID of this binary), the libseccomp version, the native architecture
// and the profile: the whole of it, or, for the default profile, its
// capabilities. A cache file that is short, corrupt or made for another key
// is ignored and rewritten. Failing to write the cache is not an error.
SeccompProgram load_seccomp(const Seccomp& profile, const std::string& cache_dir);

// The cache file load_seccomp() uses for `profile` in `cache_dir`.
std::string seccomp_cache_path(const Seccomp& profile, const std::string& cache_dir);
// Writes `program` as the cache entry of `profile` at `path` (atomically,
// mode 0600). Throws Error on failure.
void write_seccomp_cache(const std::string& path, const Seccomp& profile,
                         const SeccompProgram& program);

// Installs `program` as a filter of the calling thread (of every thread with
// SECCOMP_FILTER_FLAG_TSYNC). The caller must have set no_new_privs or hold
// CAP_SYS_ADMIN.
void install_seccomp(const SeccompProgram& program);

// Validates an OCI linux.seccomp object read from `where` (a file name, for
// `--seccomp FILE`); errors start with "where: ".
Seccomp parse_seccomp_json(const Json& j, const std::string& where);

}  // namespace mult
