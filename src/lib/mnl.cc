#include "mnl.hh"

#include <cerrno>
#include <string>

#include "dl.hh"

namespace mult {

namespace {

// libmnl's socket calls as loaded; mnl() hands out the wrappers below.
Mnl loaded;
int* (*library_errno)() = nullptr;

// mult is linked statically (CMakeLists.txt): a library it opens brings the
// system's C library along, whose errno is not mult's. The socket calls,
// the only ones that fail with errno, copy it over.
template <typename R>
R with_errno(R result) {
  errno = *library_errno();
  return result;
}

std::string load_mnl(Mnl& api) {
  std::string why = load_library(
      "libmnl.so.0", std::pair{&api.attr_get_payload, "mnl_attr_get_payload"},
      std::pair{&api.attr_get_payload_len, "mnl_attr_get_payload_len"},
      std::pair{&api.attr_get_str, "mnl_attr_get_str"},
      std::pair{&api.attr_get_type, "mnl_attr_get_type"},
      std::pair{&api.attr_get_u32, "mnl_attr_get_u32"},
      std::pair{&api.attr_nest_end, "mnl_attr_nest_end"},
      std::pair{&api.attr_nest_start, "mnl_attr_nest_start"},
      std::pair{&api.attr_next, "mnl_attr_next"},
      std::pair{&api.attr_ok, "mnl_attr_ok"},
      std::pair{&api.attr_put, "mnl_attr_put"},
      std::pair{&api.attr_put_strz, "mnl_attr_put_strz"},
      std::pair{&api.attr_put_u32, "mnl_attr_put_u32"},
      std::pair{&api.attr_put_u8, "mnl_attr_put_u8"},
      std::pair{&api.attr_validate, "mnl_attr_validate"},
      std::pair{&api.nlmsg_get_payload, "mnl_nlmsg_get_payload"},
      std::pair{&api.nlmsg_get_payload_offset, "mnl_nlmsg_get_payload_offset"},
      std::pair{&api.nlmsg_get_payload_tail, "mnl_nlmsg_get_payload_tail"},
      std::pair{&api.nlmsg_next, "mnl_nlmsg_next"},
      std::pair{&api.nlmsg_ok, "mnl_nlmsg_ok"},
      std::pair{&api.nlmsg_put_extra_header, "mnl_nlmsg_put_extra_header"},
      std::pair{&api.nlmsg_put_header, "mnl_nlmsg_put_header"},
      std::pair{&api.nlmsg_size, "mnl_nlmsg_size"},
      std::pair{&api.socket_bind, "mnl_socket_bind"},
      std::pair{&api.socket_close, "mnl_socket_close"},
      std::pair{&api.socket_get_portid, "mnl_socket_get_portid"},
      std::pair{&api.socket_open2, "mnl_socket_open2"},
      std::pair{&api.socket_recvfrom, "mnl_socket_recvfrom"},
      std::pair{&api.socket_sendto, "mnl_socket_sendto"},
      std::pair{&api.socket_setsockopt, "mnl_socket_setsockopt"},
      // Looked up from libmnl: the C library libmnl calls.
      std::pair{&library_errno, "__errno_location"});
  if (!why.empty()) return why;
  loaded = api;
  api.socket_open2 = [](int bus, int flags) { return with_errno(loaded.socket_open2(bus, flags)); };
  api.socket_bind = [](mnl_socket* s, unsigned groups, pid_t pid) {
    return with_errno(loaded.socket_bind(s, groups, pid));
  };
  api.socket_sendto = [](const mnl_socket* s, const void* buf, size_t len) {
    return with_errno(loaded.socket_sendto(s, buf, len));
  };
  api.socket_recvfrom = [](const mnl_socket* s, void* buf, size_t len) {
    return with_errno(loaded.socket_recvfrom(s, buf, len));
  };
  api.socket_setsockopt = [](const mnl_socket* s, int type, void* buf, socklen_t len) {
    return with_errno(loaded.socket_setsockopt(s, type, buf, len));
  };
  return "";
}

}  // namespace

const Mnl& mnl() { return loaded_once<Mnl, load_mnl>("netlink: "); }

}  // namespace mult
