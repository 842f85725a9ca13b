// Loopback in a fresh network namespace.
#include "net.hh"

#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.hh"

namespace {

// 1: up, 0: down, -1: error.
int loopback_up() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  close(s);
  if (r != 0) return -1;
  return (ifr.ifr_flags & IFF_UP) ? 1 : 0;
}

TEST(Net, BringsUpLoopbackInNewNamespace) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWNET) != 0) _exit(10);
    if (loopback_up() != 0) _exit(11);  // a new namespace starts with lo down
    try {
      mult::bring_up_loopback();
    } catch (const mult::Error&) {
      _exit(12);
    }
    if (loopback_up() != 1) _exit(13);
    try {
      mult::bring_up_loopback();  // already up: still fine
    } catch (const mult::Error&) {
      _exit(14);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10 unshare, 11 lo not down, 12 netlink error, 13 lo not up, 14 second call";
}

}  // namespace
