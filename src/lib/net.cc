// The loopback interface of a new network namespace, and the namespace
// itself where mult makes it for the instance.
#include "net.hh"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "error.hh"
#include "fd.hh"

namespace mult {

namespace {

// One interface flag: set through the socket ioctl that ifconfig(8) uses,
// with no netlink socket to open, bind and read an acknowledgement from.
// The ioctl acts in the namespace `sock` was made in.
void set_loopback_up(int sock) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) throw sys_error("loopback: flags");
  if (ifr.ifr_flags & IFF_UP) return;
  ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
  if (::ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) throw sys_error("loopback: up");
}

Fd any_socket() {
  Fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) throw sys_error("loopback: socket");
  return sock;
}

}  // namespace

void bring_up_loopback() { set_loopback_up(any_socket().get()); }

void bring_up_loopback(int socket) { set_loopback_up(socket); }

MadeNetns make_network_namespace() {
  Fd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home || ::unshare(CLONE_NEWNET) != 0) return {};  // not allowed: the instance makes it
  MadeNetns made;
  int err = 0;
  made.ns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (made.ns) made.socket.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!made.socket) err = errno;
  if (::setns(home.get(), CLONE_NEWNET) != 0) {
    // Going on in the instance's namespace would configure the wrong network.
    std::perror("mult: return to own network namespace");
    std::abort();
  }
  if (err) throw sys_error("network namespace", err);
  return made;
}

}  // namespace mult
