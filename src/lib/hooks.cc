#include "hooks.hh"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.hh"
#include "fd.hh"

namespace mult {

namespace {

std::string describe(const char* phase, size_t i, const Hook& h) {
  return std::string("hook ") + phase + "[" + std::to_string(i) + "] \"" + h.path + "\"";
}

// Waits for `pid` at most `timeout_s` seconds (forever when <= 0); kills it
// then. Returns the wait status, or -1 on timeout.
int wait_with_timeout(pid_t pid, int timeout_s) {
  int status = 0;
  if (timeout_s <= 0) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
  }
  Fd pidfd(int(::syscall(SYS_pidfd_open, pid, 0)));
  struct pollfd p {pidfd.get(), POLLIN, 0};
  int r;
  while ((r = ::poll(&p, 1, timeout_s * 1000)) < 0 && errno == EINTR) {
  }
  if (r == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  ::waitpid(pid, &status, 0);
  return status;
}

// Runs hook `i` of `phase`; throws Error when it fails or times out.
void run_hook(const Hook& h, size_t i, const std::string& state_json, const char* phase) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw sys_error(describe(phase, i, h));
  Fd rd(in[0]), wr(in[1]);
  std::vector<char*> argv, envp;
  for (const auto& a : h.args) argv.push_back(const_cast<char*>(a.c_str()));
  if (argv.empty()) argv.push_back(const_cast<char*>(h.path.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : h.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw sys_error(describe(phase, i, h));
  if (pid == 0) {
    ::dup2(rd.get(), 0);
    ::execve(h.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  rd.reset();
  // The hook may not read its stdin at all: a closed pipe must not kill us.
  // SIGPIPE is ignored for this write alone: startContainer hooks run in
  // the container's process, whose command would inherit SIG_IGN.
  struct sigaction ign {}, old {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old);
  ssize_t ignored = ::write(wr.get(), state_json.data(), state_json.size());
  (void)ignored;
  ::sigaction(SIGPIPE, &old, nullptr);
  wr.reset();
  int status = wait_with_timeout(pid, h.timeout.value_or(0));
  if (status == -1)
    throw Error(describe(phase, i, h) + ": timed out after " + std::to_string(*h.timeout) + "s");
  if (WIFSIGNALED(status))
    throw Error(describe(phase, i, h) + ": killed by signal " + std::to_string(WTERMSIG(status)));
  if (WEXITSTATUS(status) != 0)
    throw Error(describe(phase, i, h) + ": exited with status " +
                std::to_string(WEXITSTATUS(status)));
}

}  // namespace

void run_hooks(const std::vector<Hook>& hooks, const std::string& state_json, const char* phase) {
  for (size_t i = 0; i < hooks.size(); ++i) run_hook(hooks[i], i, state_json, phase);
}

std::vector<std::string> run_all_hooks(const std::vector<Hook>& hooks, const std::string& state_json,
                                       const char* phase) {
  std::vector<std::string> failures;
  for (size_t i = 0; i < hooks.size(); ++i) {
    try {
      run_hook(hooks[i], i, state_json, phase);
    } catch (const Error& e) {
      failures.push_back(e.what());
    }
  }
  return failures;
}

}  // namespace mult
