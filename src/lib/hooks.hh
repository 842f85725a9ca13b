// OCI hooks: programs run at fixed points of an instance's life, each with
// the instance's state JSON on its standard input.
#pragma once
#include <string>
#include <vector>

#include "spec.hh"

namespace mult {

// Runs `hooks` in order; throws Error naming the phase, index and cause
// (`hook createRuntime[0] "/bin/x": exited with status 1`) at the first
// that fails or outlives its timeout (it is killed then).
void run_hooks(const std::vector<Hook>& hooks, const std::string& state_json, const char* phase);

// Runs every one of `hooks`, in order, whatever the others did (poststart,
// poststop: a failure is a warning); returns the failures' messages.
std::vector<std::string> run_all_hooks(const std::vector<Hook>& hooks, const std::string& state_json,
                                       const char* phase);

}  // namespace mult
