// Networking through rtnetlink (libmnl).
#include "net.hh"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <ctime>
#include <memory>
#include <vector>

#include "error.hh"

namespace mult {
namespace {

struct MnlClose {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlClose>;

Error netlink_error(int err = errno) {
  return Error(std::string("loopback: netlink: ") + std::strerror(err));
}

}  // namespace

void bring_up_loopback() {
  unsigned index = if_nametoindex("lo");
  if (index == 0) index = 1;  // loopback is always the first link

  MnlSocket nl(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
  if (!nl) throw netlink_error();
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) throw netlink_error();
  const unsigned portid = mnl_socket_get_portid(nl.get());

  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  const unsigned seq = static_cast<unsigned>(std::time(nullptr));
  nlh->nlmsg_seq = seq;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(index);
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;

  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0) throw netlink_error();

  // The ack (an NLMSG_ERROR with error 0) or the error; mnl_cb_run turns a
  // non-zero error into -1 with errno set.
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw netlink_error();
    }
    int r = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, nullptr, nullptr);
    if (r < 0) throw netlink_error();
    if (r == MNL_CB_STOP) return;
  }
}

}  // namespace mult
