// The signal that asks mult-init to stop its instance, shared by the init
// and the engine. systemd's convention, SIGRTMIN+3 as glibc counts: the
// kernel's signal 37. A fixed number, because C libraries reserve different
// real-time signals (glibc's SIGRTMIN is 34, musl's 35), and mult-init is
// built against musl while mult uses glibc.
#pragma once

namespace mult {
constexpr int kInitStopSignal = 37;
}
