// Networking of an instance. This module owns everything network: for now the
// private stack of a new network namespace, with loopback up.
#pragma once

namespace mult {

// Sets "lo" up in the calling process's network namespace.
void bring_up_loopback();

}  // namespace mult
