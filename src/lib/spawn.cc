#include "spawn.hh"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace mult {

namespace {

constexpr size_t kStackSize = 1 << 20;  // reserved, touched only as used

// clone3 with CLONE_VM: the child wakes on its new stack, where no C frame
// could return to, so it calls `fn(arg)` straight from here and exits with
// what it returns. The parent gets the raw syscall result.
long clone3_calling(clone_args* args, int (*fn)(void*), void* arg) {
#if defined(__x86_64__)
  long ret;
  register long fn_reg asm("rdx") = reinterpret_cast<long>(fn);  // kept by syscall
  register long arg_reg asm("r8") = reinterpret_cast<long>(arg);
  asm volatile(
      "syscall\n\t"
      "testq %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xorl %%ebp, %%ebp\n\t"  // the outermost frame, for unwinders
      "movq %%r8, %%rdi\n\t"
      "callq *%%rdx\n\t"
      "movl %%eax, %%edi\n\t"
      "movl %[exit], %%eax\n\t"
      "syscall\n\t"
      "ud2\n"
      "1:"
      : "=a"(ret)
      : "0"(long(SYS_clone3)), "D"(args), "S"(sizeof *args), "r"(fn_reg), "r"(arg_reg),
        [exit] "i"(SYS_exit)
      : "rcx", "r11", "memory");
  return ret;
#else
  (void)args, (void)fn, (void)arg;
  return -ENOSYS;
#endif
}

}  // namespace

pid_t spawn_sharing_memory(int (*child)(void*), void* arg, int cgroup_fd) {
  void* stack = ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (stack == MAP_FAILED) return -1;
  pid_t pid;
  int err = 0;
  if (cgroup_fd < 0) {
    pid = ::clone(child, static_cast<char*>(stack) + kStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
    err = errno;
  } else {
    clone_args args{};
    args.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.stack = reinterpret_cast<uint64_t>(stack);
    args.stack_size = kStackSize;
    args.cgroup = uint64_t(cgroup_fd);
    long r = clone3_calling(&args, child, arg);
    pid = r < 0 ? -1 : pid_t(r);
    err = r < 0 ? int(-r) : 0;
  }
  // The child has exec'd or exited: its stack is ours again.
  ::munmap(stack, kStackSize);
  errno = err;
  return pid;
}

}  // namespace mult
