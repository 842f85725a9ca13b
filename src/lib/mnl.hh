// libmnl, opened on first use (dl.hh) rather than by the loader on every
// start: only a bridged network talks rtnetlink beyond loopback.
#pragma once
#include <libmnl/libmnl.h>

namespace mult {

// libmnl's functions that mult calls, named without their "mnl_" prefix.
struct Mnl {
  decltype(&::mnl_attr_get_payload) attr_get_payload;
  decltype(&::mnl_attr_get_payload_len) attr_get_payload_len;
  decltype(&::mnl_attr_get_str) attr_get_str;
  decltype(&::mnl_attr_get_type) attr_get_type;
  decltype(&::mnl_attr_get_u32) attr_get_u32;
  decltype(&::mnl_attr_nest_end) attr_nest_end;
  decltype(&::mnl_attr_nest_start) attr_nest_start;
  decltype(&::mnl_attr_next) attr_next;
  decltype(&::mnl_attr_ok) attr_ok;
  decltype(&::mnl_attr_put) attr_put;
  decltype(&::mnl_attr_put_strz) attr_put_strz;
  decltype(&::mnl_attr_put_u32) attr_put_u32;
  decltype(&::mnl_attr_put_u8) attr_put_u8;
  decltype(&::mnl_attr_validate) attr_validate;
  decltype(&::mnl_nlmsg_get_payload) nlmsg_get_payload;
  decltype(&::mnl_nlmsg_get_payload_offset) nlmsg_get_payload_offset;
  decltype(&::mnl_nlmsg_get_payload_tail) nlmsg_get_payload_tail;
  decltype(&::mnl_nlmsg_next) nlmsg_next;
  decltype(&::mnl_nlmsg_ok) nlmsg_ok;
  decltype(&::mnl_nlmsg_put_extra_header) nlmsg_put_extra_header;
  decltype(&::mnl_nlmsg_put_header) nlmsg_put_header;
  decltype(&::mnl_nlmsg_size) nlmsg_size;
  decltype(&::mnl_socket_bind) socket_bind;
  decltype(&::mnl_socket_close) socket_close;
  decltype(&::mnl_socket_get_portid) socket_get_portid;
  decltype(&::mnl_socket_open2) socket_open2;
  decltype(&::mnl_socket_recvfrom) socket_recvfrom;
  decltype(&::mnl_socket_sendto) socket_sendto;
  decltype(&::mnl_socket_setsockopt) socket_setsockopt;
};

// The library, loaded the first time; throws Error("netlink: cannot load
// libmnl.so.0 ...") where it cannot be.
const Mnl& mnl();

}  // namespace mult
