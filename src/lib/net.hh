// Networking of an instance. This module owns everything network: for now the
// private stack of a new network namespace, with loopback up.
#pragma once

#include "fd.hh"

namespace mult {

// Sets "lo" up in the calling process's network namespace.
void bring_up_loopback();

// A new network namespace made by mult for an instance to join while it
// builds its root: so the instance does not wait for the kernel's costliest
// namespace (its loopback device). `ns` is an fd of it, `socket` one made in
// it, whose ioctls act there (bring_up_loopback(socket)). mult itself stays
// in its own namespace. Both empty where mult may not make one
// (CAP_SYS_ADMIN): the instance then makes its own.
struct MadeNetns {
  Fd ns, socket;
};
MadeNetns make_network_namespace();
// Sets "lo" up in the namespace `socket` was made in.
void bring_up_loopback(int socket);

}  // namespace mult
