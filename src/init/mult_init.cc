// mult-init: PID 1 of every instance. Small, static, C-style: it uses the C
// library only, so that it builds against musl (see CMakeLists.txt).
//
//   mult-init [-m MAINPID] [-s] [-t STOP_TIMEOUT_SECONDS] [-c STOP_COMMAND]
//
// The engine forks the instance's main process first and then execs this
// program as PID 1 of the new PID namespace, so MAINPID is already a child.
//
// All signals stay blocked and are taken synchronously with sigtimedwait:
//  - SIGCHLD: reap every child (orphans included); remember main's status.
//  - SIGTERM SIGINT SIGHUP SIGUSR1 SIGUSR2 SIGWINCH SIGQUIT SIGCONT: forwarded
//    to main while it lives; in system mode with no main alive, SIGTERM and
//    SIGINT start the stop sequence instead.
//  - signal 37 (SIGRTMIN+3 as glibc counts; stop_signal.hh): stop. A queued
//    value > 0 is the timeout in seconds, else -t (default 10). Stop sequence: run `/bin/sh -c STOP_COMMAND` (-c) for at
//    most the timeout; SIGTERM+SIGCONT to every process of the namespace;
//    wait at most the timeout for all of them to go; SIGKILL; reap; exit.
//
// Without -s, mult-init exits as soon as main exits (outside a stop
// sequence), with main's status: its exit code or 128+signal. With -s the
// instance outlives main and mult-init exits 0 after a stop.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stop_signal.hh"

namespace {

enum Phase { kRunning, kStopCommand, kTerminating };

struct State {
  pid_t main_pid = 0;       // 0: no main process
  bool main_alive = false;
  int main_status = 0;      // exit status to report (exit code or 128+sig)
  bool system_mode = false;
  int stop_timeout = 10;
  const char* stop_command = nullptr;
  bool is_pid1 = true;

  Phase phase = kRunning;
  pid_t stop_pid = 0;       // the running stop command, 0 if none
  struct timespec deadline = {0, 0};
};

State g;

void fail(const char* what) {
  fprintf(stderr, "mult-init: %s\n", what);
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

struct timespec now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts;
}

void set_deadline(int seconds) {
  g.deadline = now();
  g.deadline.tv_sec += seconds;
}

bool deadline_passed() {
  struct timespec t = now();
  return t.tv_sec > g.deadline.tv_sec ||
         (t.tv_sec == g.deadline.tv_sec && t.tv_nsec >= g.deadline.tv_nsec);
}

// Time left until the deadline (zero if passed).
struct timespec time_left() {
  struct timespec t = now();
  struct timespec left = {g.deadline.tv_sec - t.tv_sec,
                          g.deadline.tv_nsec - t.tv_nsec};
  if (left.tv_nsec < 0) {
    left.tv_nsec += 1000000000L;
    left.tv_sec -= 1;
  }
  if (left.tv_sec < 0) left = {0, 0};
  return left;
}

// Reaps every exited child. Returns false once no child at all remains.
bool reap() {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) return true;
    if (pid < 0) {
      if (errno == EINTR) continue;
      return false;  // ECHILD
    }
    if (pid == g.main_pid && g.main_alive) {
      g.main_alive = false;
      g.main_status = status_code(status);
    }
    if (pid == g.stop_pid) g.stop_pid = 0;
  }
}

// Signals every process of the instance. Only PID 1 of a namespace may
// broadcast: anywhere else kill(-1) would hit the whole host.
void signal_all(int sig) {
  if (g.is_pid1) {
    kill(-1, sig);
  } else {
    if (g.main_alive) kill(g.main_pid, sig);
    if (g.stop_pid > 0) kill(g.stop_pid, sig);
  }
}

void reset_signals_in_child() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

void start_terminating() {
  g.phase = kTerminating;
  signal_all(SIGTERM);
  signal_all(SIGCONT);
  set_deadline(g.stop_timeout);
}

void start_stop(int timeout) {
  if (g.phase != kRunning) return;
  g.stop_timeout = timeout;
  if (g.stop_command && *g.stop_command) {
    pid_t pid = fork();
    if (pid == 0) {
      reset_signals_in_child();
      execl("/bin/sh", "sh", "-c", g.stop_command, (char*)nullptr);
      _exit(127);
    }
    if (pid > 0) {
      g.stop_pid = pid;
      g.phase = kStopCommand;
      set_deadline(timeout);
      return;
    }
    fail("stop command: fork failed");
  }
  start_terminating();
}

[[noreturn]] void finish() {
  signal_all(SIGKILL);
  if (g.is_pid1) {
    // Everything in the namespace is dying: wait for all of it.
    for (;;) {
      int status;
      pid_t pid = waitpid(-1, &status, 0);
      if (pid < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (pid == g.main_pid && g.main_alive) {
        g.main_alive = false;
        g.main_status = status_code(status);
      }
    }
  } else {
    if (g.main_alive) {
      int status;
      if (waitpid(g.main_pid, &status, 0) == g.main_pid) {
        g.main_alive = false;
        g.main_status = status_code(status);
      }
    }
    reap();
  }
  if (g.system_mode || g.main_pid == 0) _exit(0);
  _exit(g.main_status);
}

bool forwarded(int sig) {
  switch (sig) {
    case SIGTERM: case SIGINT: case SIGHUP: case SIGUSR1: case SIGUSR2:
    case SIGWINCH: case SIGQUIT: case SIGCONT:
      return true;
    default:
      return false;
  }
}

void handle_signal(const siginfo_t& si) {
  int sig = si.si_signo;
  if (sig == SIGCHLD) return;  // the loop reaps
  if (sig == mult::kInitStopSignal) {
    int timeout = g.stop_timeout;
    if (si.si_code == SI_QUEUE && si.si_value.sival_int > 0)
      timeout = si.si_value.sival_int;
    start_stop(timeout);
    return;
  }
  if (!forwarded(sig)) return;
  if (g.main_alive) {
    kill(g.main_pid, sig);
  } else if (g.system_mode && (sig == SIGTERM || sig == SIGINT)) {
    start_stop(g.stop_timeout);
  }
}

int parse_int(const char* s, const char* what) {
  char* end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || v < 0 || v > 0x7fffffff) {
    fprintf(stderr, "mult-init: invalid %s \"%s\"\n", what, s);
    _exit(2);
  }
  return (int)v;
}

void close_extra_fds() {
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = 3; fd < max; fd++) close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  // Blocked first: a signal must not kill or slip past us during setup.
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  // An inherited SIG_IGN for SIGCHLD would make the kernel auto-reap and
  // lose main's status; reset every disposition to the default.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, nullptr);
  }

  int opt;
  while ((opt = getopt(argc, argv, "+m:st:c:")) != -1) {
    switch (opt) {
      case 'm': g.main_pid = parse_int(optarg, "main pid"); break;
      case 's': g.system_mode = true; break;
      case 't': g.stop_timeout = parse_int(optarg, "stop timeout"); break;
      case 'c': g.stop_command = optarg; break;
      default:
        fprintf(stderr,
                "usage: mult-init [-m MAINPID] [-s] [-t SECONDS] [-c COMMAND]\n");
        return 2;
    }
  }
  if (optind != argc) {
    fail("unexpected argument");
    return 2;
  }
  if (g.main_pid == 0) g.system_mode = true;  // nothing to wait for but a stop

  // No process of the instance may read this one's memory or reach the
  // host's binary through /proc/1/exe.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  close_extra_fds();
  if (chdir("/") != 0) fail("chdir /: failed");

  g.is_pid1 = getpid() == 1;
  if (!g.is_pid1) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  if (g.main_pid > 0) {
    int status;
    pid_t r = waitpid(g.main_pid, &status, WNOHANG);
    if (r == g.main_pid) {
      g.main_status = status_code(status);  // exited before we started
    } else if (r == 0) {
      g.main_alive = true;
    } else {
      fprintf(stderr, "mult-init: main process %d is not a child\n", g.main_pid);
      return 1;
    }
  }

  for (;;) {
    bool children = reap();
    if (g.phase == kRunning && !g.system_mode && !g.main_alive)
      _exit(g.main_status);
    if (g.phase == kStopCommand && (g.stop_pid == 0 || deadline_passed()))
      start_terminating();
    if (g.phase == kTerminating && (!children || deadline_passed())) finish();

    siginfo_t si;
    int sig;
    if (g.phase == kRunning) {
      sig = sigwaitinfo(&all, &si);
    } else {
      struct timespec left = time_left();
      sig = sigtimedwait(&all, &si, &left);
    }
    if (sig > 0) handle_signal(si);
  }
}
