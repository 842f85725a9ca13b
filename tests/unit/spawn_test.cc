// spawn_sharing_memory: a child that borrows the caller's memory, runs on a
// stack of its own, and leaves the caller suspended until it execs or exits;
// with a cgroup fd, born in that cgroup (the clone3 trampoline).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "fd.hh"
#include "spawn.hh"
#include "test_files.hh"

namespace mult {
namespace {

struct Shared {
  int written = 0;
  const void* stack_seen = nullptr;
  int exec_pipe = -1;  // write end, for the exec test
};

int write_and_exit(void* arg) {
  auto* s = static_cast<Shared*>(arg);
  int local = 0;
  s->stack_seen = &local;
  s->written = 42;
  ::_exit(3);
}

int exit_status(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(Spawn, SharesMemoryOnItsOwnStackAndTheCallerWaits) {
  Shared s;
  int here = 0;
  pid_t pid = spawn_sharing_memory(write_and_exit, &s);
  ASSERT_GT(pid, 0) << std::strerror(errno);
  // Resumed only once the child has exited: what it wrote is already here.
  EXPECT_EQ(s.written, 42);
  auto distance = reinterpret_cast<const char*>(s.stack_seen) - reinterpret_cast<const char*>(&here);
  EXPECT_GT(std::abs(distance), 64 * 1024) << "the child ran on the caller's stack";
  EXPECT_EQ(exit_status(pid), 3);
}

int exec_shell(void* arg) {
  auto* s = static_cast<Shared*>(arg);
  ::dup2(s->exec_pipe, 1);
  const char* argv[] = {"/bin/sh", "-c", "echo $$; exit 5", nullptr};
  ::execv(argv[0], const_cast<char* const*>(argv));
  ::_exit(127);
}

TEST(Spawn, TheCallerGoesOnOnceTheChildExecs) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Fd r(p[0]), w(p[1]);
  Shared s;
  s.exec_pipe = w.get();
  pid_t pid = spawn_sharing_memory(exec_shell, &s);
  ASSERT_GT(pid, 0) << std::strerror(errno);
  w.reset();
  char buf[64] = {};
  ssize_t n = ::read(r.get(), buf, sizeof buf - 1);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::stoi(buf), pid) << "the shell is the spawned process itself";
  EXPECT_EQ(exit_status(pid), 5);
}

int report_cgroup(void* arg) {
  auto* s = static_cast<Shared*>(arg);
  std::string line = test::slurp("/proc/self/cgroup");
  ssize_t ignored = ::write(s->exec_pipe, line.data(), line.size());
  (void)ignored;
  ::_exit(0);
}

// The cgroup2 mount of this host, or "" (then the test is skipped).
std::string unified_mount() {
  for (const char* m : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    struct statfs fs;
    if (::statfs(m, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return m;
  }
  return "";
}

TEST(Spawn, BornInTheCgroupGiven) {
  std::string mount = unified_mount();
  if (mount.empty() || ::geteuid() != 0) GTEST_SKIP() << "needs root and a cgroup2 hierarchy";
  std::string name = "mult-spawn-test-" + std::to_string(::getpid());
  std::string dir = mount + "/" + name;
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { ::rmdir(dir.c_str()); }
  } cleanup{dir};
  Fd cg(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(cg);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Fd r(p[0]), w(p[1]);
  Shared s;
  s.exec_pipe = w.get();
  pid_t pid = spawn_sharing_memory(report_cgroup, &s, cg.get());
  if (pid < 0 && errno == ENOSYS) GTEST_SKIP() << "no clone3 trampoline on this architecture";
  ASSERT_GT(pid, 0) << std::strerror(errno);
  EXPECT_EQ(exit_status(pid), 0);
  w.reset();
  std::string out(4096, '\0');
  ssize_t n = ::read(r.get(), out.data(), out.size());
  ASSERT_GT(n, 0);
  out.resize(size_t(n));
  EXPECT_NE(out.find("0::/" + name + "\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace mult
