// The test host of the network unit tests: for a test's span the calling
// thread lives in a network namespace of its own (loopback up), so nothing
// a test does touches the machine's network; TearDown goes back and checks
// that the machine's own IPv4 forwarding setting did not change.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "net.hh"
#include "store.hh"
#include "test_files.hh"

namespace mult::test {

class NetTestHost : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    host_forward_ = slurp("/proc/sys/net/ipv4/ip_forward");
    original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(original_, 0);
    struct stat before, after;
    ASSERT_EQ(::fstat(original_, &before), 0);
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    entered_ = true;
    ASSERT_EQ(::stat("/proc/thread-self/ns/net", &after), 0);
    ASSERT_NE(before.st_ino, after.st_ino) << "not in a new network namespace";
    bring_up_loopback();
  }

  void TearDown() override {
    if (entered_ && ::setns(original_, CLONE_NEWNET) != 0) {
      std::perror("setns back to the original network namespace");
      std::abort();
    }
    if (original_ >= 0) ::close(original_);
    if (!root_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(root_, ec);
    }
    if (entered_) {
      EXPECT_EQ(slurp("/proc/sys/net/ipv4/ip_forward"), host_forward_)
          << "the machine's own setting changed";
    }
  }

  // A state root of the test's own under /tmp (removed in TearDown).
  void make_state_root() {
    char tmpl[] = "/tmp/mult-net-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    store_ = Store(root_);
  }

  std::string root_;
  Store store_;

 private:
  int original_ = -1;
  bool entered_ = false;
  std::string host_forward_;
};

}  // namespace mult::test
