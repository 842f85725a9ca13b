// The loopback interface of a new network namespace.
#include "net.hh"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "error.hh"
#include "fd.hh"

namespace mult {

// One interface flag: set through the socket ioctl that ifconfig(8) uses,
// with no netlink socket to open, bind and read an acknowledgement from.
void bring_up_loopback() {
  Fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) throw sys_error("loopback: socket");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) throw sys_error("loopback: flags");
  if (ifr.ifr_flags & IFF_UP) return;
  ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) throw sys_error("loopback: up");
}

}  // namespace mult
