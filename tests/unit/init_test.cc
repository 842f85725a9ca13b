// mult-init, run for real as PID 1 of a fresh PID namespace.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <string>
#include <thread>
#include <vector>

#include "../../src/init/stop_signal.hh"

#ifndef MULT_INIT_BIN
#error "MULT_INIT_BIN must name the mult-init binary"
#endif

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One mult-init in its own PID namespace; killed (with the whole namespace)
// when the test ends.
class InitInstance {
 public:
  // `script`: the main process's /bin/sh -c script (empty: no -m).
  // The main process gets fd 3 as a pipe to the test, for "ready" lines.
  InitInstance(const std::string& script, std::vector<std::string> args,
               int delay_exec_ms = 0) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    ready_fd_ = p[0];
    // clone(CLONE_NEWPID) used like fork: the child is PID 1 of a new ns.
    pid_ = static_cast<pid_t>(
        syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
    if (pid_ == 0) {
      std::vector<std::string> argv = {MULT_INIT_BIN};
      if (!script.empty()) {
        pid_t main_pid = fork();
        if (main_pid < 0) _exit(120);
        if (main_pid == 0) {
          dup2(p[1], 3);  // dup2 clears close-on-exec
          execl("/bin/sh", "sh", "-c", script.c_str(), (char*)nullptr);
          _exit(127);
        }
        argv.push_back("-m");
        argv.push_back(std::to_string(main_pid));
      }
      for (auto& a : args) argv.push_back(a);
      // A descriptor without close-on-exec: mult-init must close it.
      if (dup(p[1]) < 0) _exit(122);
      if (delay_exec_ms) usleep(delay_exec_ms * 1000);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      execv(cargv[0], cargv.data());
      _exit(121);
    }
    close(p[1]);
  }
  ~InitInstance() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);  // PID 1 dying takes the whole namespace down
      waitpid(pid_, nullptr, 0);
    }
    if (ready_fd_ >= 0) close(ready_fd_);
  }
  pid_t pid() const { return pid_; }

  // Waits until mult-init runs and waits for signals (before that, a signal
  // from outside would kill the unprepared PID 1). While a process sleeps in
  // sigtimedwait, /proc shows its waited-for signals as unblocked, so look at
  // where it sleeps too.
  bool wait_started(double timeout = 5) {
    const std::string proc = "/proc/" + std::to_string(pid_);
    auto start = Clock::now();
    while (seconds_since(start) < timeout) {
      char exe[4096] = {0};
      if (readlink((proc + "/exe").c_str(), exe, sizeof exe - 1) > 0 &&
          strcmp(exe, MULT_INIT_BIN) == 0) {
        std::string wchan = read_small(proc + "/wchan");
        std::string syscall = read_small(proc + "/syscall");
        if (wchan.find("sigtimedwait") != std::string::npos ||
            syscall.rfind(std::to_string(SYS_rt_sigtimedwait) + " ", 0) == 0)
          return true;
      }
      usleep(5000);
    }
    return false;
  }

  static std::string read_small(const std::string& path) {
    FILE* f = fopen(path.c_str(), "r");
    if (!f) return "";
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return std::string(buf, n);
  }

  // Waits for a line written by the main process to fd 3.
  std::string wait_line(double timeout = 5) {
    std::string line;
    auto start = Clock::now();
    while (seconds_since(start) < timeout) {
      pollfd pfd = {ready_fd_, POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      char c;
      if (read(ready_fd_, &c, 1) != 1) break;
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }

  // The exit status of mult-init, or -1 on timeout.
  int wait_exit(double timeout = 5) {
    auto start = Clock::now();
    while (seconds_since(start) < timeout) {
      int status;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return 1000 + WTERMSIG(status);
      }
      if (r < 0) return -2;
      usleep(5000);
    }
    return -1;
  }

  // Children of mult-init (zombies included), seen through the host's /proc.
  std::vector<std::string> children() const {
    std::vector<std::string> out;
    DIR* d = opendir("/proc");
    if (!d) return out;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      FILE* f = fopen((std::string("/proc/") + e->d_name + "/stat").c_str(), "r");
      if (!f) continue;
      char buf[1024];
      size_t n = fread(buf, 1, sizeof buf - 1, f);
      fclose(f);
      buf[n] = 0;
      const char* rp = strrchr(buf, ')');
      if (!rp) continue;
      char state = 0;
      int ppid = 0;
      if (sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == pid_)
        out.push_back(std::string(e->d_name) + ":" + state);
    }
    closedir(d);
    return out;
  }

 private:
  pid_t pid_ = -1;
  int ready_fd_ = -1;
  bool reaped_ = false;
};

class Init : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for PID namespaces";
    char tmpl[] = "/tmp/mult-init-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::string cmd = "rm -rf '" + dir_ + "'";
      (void)system(cmd.c_str());
    }
  }
  std::string dir_;
};

TEST_F(Init, ExitStatusPropagates) {
  InitInstance init("exit 7", {});
  ASSERT_GT(init.pid(), 0);
  EXPECT_EQ(init.wait_exit(), 7);
}

TEST_F(Init, KilledBySignalIs128PlusSignal) {
  InitInstance init("kill -USR1 $$; sleep 5", {});
  ASSERT_GT(init.pid(), 0);
  EXPECT_EQ(init.wait_exit(), 128 + SIGUSR1);
}

TEST_F(Init, MainExitedBeforeInitStarted) {
  InitInstance init("exit 4", {}, 300);
  ASSERT_GT(init.pid(), 0);
  EXPECT_EQ(init.wait_exit(), 4);
}

TEST_F(Init, ExitsWhenMainExitsEvenIfOthersRemain) {
  auto start = Clock::now();
  InitInstance init("sleep 100 & exit 5", {});
  ASSERT_GT(init.pid(), 0);
  EXPECT_EQ(init.wait_exit(), 5);
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST_F(Init, ForwardsSigtermToMain) {
  InitInstance init("trap 'exit 3' TERM; echo ready >&3; sleep 100 & wait", {});
  ASSERT_GT(init.pid(), 0);
  ASSERT_TRUE(init.wait_started());
  ASSERT_EQ(init.wait_line(), "ready");
  ASSERT_EQ(kill(init.pid(), SIGTERM), 0);
  EXPECT_EQ(init.wait_exit(), 3);
}

TEST_F(Init, ForwardsUsr1ToMain) {
  InitInstance init("trap 'exit 9' USR1; echo ready >&3; sleep 100 & wait", {});
  ASSERT_GT(init.pid(), 0);
  ASSERT_TRUE(init.wait_started());
  ASSERT_EQ(init.wait_line(), "ready");
  ASSERT_EQ(kill(init.pid(), SIGUSR1), 0);
  EXPECT_EQ(init.wait_exit(), 9);
}

TEST_F(Init, ReapsOrphansInSystemMode) {
  // The subshell exits at once, orphaning `sleep`; main itself exits too.
  InitInstance init("(sleep 0.2 &); exit 0", {"-s", "-t", "1"});
  ASSERT_GT(init.pid(), 0);
  ASSERT_TRUE(init.wait_started());
  // Orphan gone and reaped: mult-init has no child left, not even a zombie.
  std::vector<std::string> kids;
  auto start = Clock::now();
  do {
    usleep(50000);
    kids = init.children();
  } while (!kids.empty() && seconds_since(start) < 3);
  EXPECT_TRUE(kids.empty()) << kids.front();
  EXPECT_EQ(init.wait_exit(0.2), -1) << "system mode must outlive main";
  ASSERT_EQ(kill(init.pid(), mult::kInitStopSignal), 0);
  EXPECT_EQ(init.wait_exit(), 0);
}

TEST_F(Init, StopKillsAfterQueuedTimeout) {
  InitInstance init("trap '' TERM; echo ready >&3; sleep 100", {"-t", "30"});
  ASSERT_GT(init.pid(), 0);
  ASSERT_TRUE(init.wait_started());
  ASSERT_EQ(init.wait_line(), "ready");
  auto start = Clock::now();
  sigval v;
  v.sival_int = 1;
  ASSERT_EQ(sigqueue(init.pid(), mult::kInitStopSignal, v), 0);
  EXPECT_EQ(init.wait_exit(5), 128 + SIGKILL);
  double took = seconds_since(start);
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 3.0);
}

TEST_F(Init, StopTerminatesQuicklyWhenProcessesObey) {
  InitInstance init("echo ready >&3; sleep 100 & sleep 100", {"-t", "30"});
  ASSERT_GT(init.pid(), 0);
  ASSERT_TRUE(init.wait_started());
  ASSERT_EQ(init.wait_line(), "ready");
  auto start = Clock::now();
  ASSERT_EQ(kill(init.pid(), mult::kInitStopSignal), 0);
  EXPECT_EQ(init.wait_exit(5), 128 + SIGTERM);
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST_F(Init, StopRunsStopCommand) {
  std::string file = dir_ + "/stopped";
  InitInstance init("echo ready >&3; sleep 100",
                    {"-t", "5", "-c", "echo stopped > " + file});
  ASSERT_GT(init.pid(), 0);
  ASSERT_TRUE(init.wait_started());
  ASSERT_EQ(init.wait_line(), "ready");
  ASSERT_EQ(kill(init.pid(), mult::kInitStopSignal), 0);
  EXPECT_EQ(init.wait_exit(8), 128 + SIGTERM);
  FILE* f = fopen(file.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char buf[64] = {0};
  ASSERT_NE(fgets(buf, sizeof buf, f), nullptr);
  fclose(f);
  EXPECT_STREQ(buf, "stopped\n");
}

TEST_F(Init, SystemModeWithoutMainStopsOnSigterm) {
  InitInstance init("", {"-s", "-t", "1"});
  ASSERT_GT(init.pid(), 0);
  ASSERT_TRUE(init.wait_started());
  EXPECT_EQ(init.wait_exit(0.2), -1);
  ASSERT_EQ(kill(init.pid(), SIGTERM), 0);
  EXPECT_EQ(init.wait_exit(), 0);
}

TEST_F(Init, SystemModeOutlivesMainAndExitsZeroAfterStop) {
  InitInstance init("exit 6", {"-s", "-t", "1"});
  ASSERT_GT(init.pid(), 0);
  ASSERT_TRUE(init.wait_started());
  EXPECT_EQ(init.wait_exit(0.3), -1);
  sigval v;
  v.sival_int = 1;
  ASSERT_EQ(sigqueue(init.pid(), mult::kInitStopSignal, v), 0);
  EXPECT_EQ(init.wait_exit(), 0);
}

TEST_F(Init, ClosesInheritedDescriptors) {
  // InitInstance leaks a dup of the ready pipe into mult-init; it must not
  // keep any fd >= 3.
  InitInstance init("echo ready >&3; sleep 100", {});
  ASSERT_GT(init.pid(), 0);
  ASSERT_TRUE(init.wait_started());
  ASSERT_EQ(init.wait_line(), "ready");
  std::string fddir = "/proc/" + std::to_string(init.pid()) + "/fd";
  DIR* d = opendir(fddir.c_str());
  ASSERT_NE(d, nullptr);
  std::vector<int> fds;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') fds.push_back(atoi(e->d_name));
  }
  closedir(d);
  for (int fd : fds) EXPECT_LT(fd, 3);
}

TEST_F(Init, BadUsage) {
  InitInstance init("", {"-x"});
  ASSERT_GT(init.pid(), 0);
  EXPECT_EQ(init.wait_exit(), 2);
}

}  // namespace
