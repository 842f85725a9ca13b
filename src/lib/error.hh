// Errors: one exception type whose message is a single line naming the
// object and the cause, ready to print after "mult: ".
#pragma once
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace mult {

// Exit statuses shared by the command-line faces (documented in mult(8)).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,   // the operation failed
  kExitUsage = 2,     // bad command line
  kExitRunFailed = 125,  // mult run/exec could not start the command
  kExitNotExecutable = 126,
  kExitNotFound = 127,
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, int code = kExitFailure)
      : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// "what: strerror(errno)" for a failed system call.
inline Error sys_error(const std::string& what, int err = errno) {
  return Error(what + ": " + std::strerror(err));
}

}  // namespace mult
