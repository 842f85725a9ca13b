/* The cost of common system calls, in ns per operation, to compare a
 * process on the host with one inside an instance (namespaces, cgroup,
 * seccomp filter, capabilities).
 *
 *   syscalls [ITERATIONS]      (default 200000; fork uses ITERATIONS/100,
 *                               the pipe round trip ITERATIONS/10)
 *
 * Each test runs in 10 batches and prints the fastest batch, as
 * "name ns_per_op": on a shared host the fastest batch is the one least
 * disturbed by other load. open+close and stat use this program's own file
 * by its base name after a chdir to its directory, so that host and
 * instance (where it is bind-mounted) do the same one-component lookup on
 * the same inode. The pipe round trip runs with both of its processes on
 * the CPU the test started on: whether the scheduler put them on one CPU
 * or two (a wake-up across CPUs costs an interrupt, dearer still on a VM)
 * decided that figure more than anything else did, from one run to the
 * next. Built static (gcc -static -O2): it runs in any root. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 10

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char *self;
static int there[2], back[2];

static int t_getpid(long n) {
  for (long i = 0; i < n; i++) syscall(SYS_getpid);  /* no libc caching */
  return 0;
}

static int t_open(long n) {
  for (long i = 0; i < n; i++) {
    int fd = open(self, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    close(fd);
  }
  return 0;
}

static int t_stat(long n) {
  struct stat st;
  for (long i = 0; i < n; i++)
    if (stat(self, &st) != 0) return -1;
  return 0;
}

static int t_fork(long n) {
  for (long i = 0; i < n; i++) {
    pid_t p = fork();
    if (p < 0) return -1;
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
  }
  return 0;
}

/* One byte there and back; the echoing child lives for the whole test. */
static int t_pipe(long n) {
  char c = 'x';
  for (long i = 0; i < n; i++)
    if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1) return -1;
  return 0;
}

static int run(const char *name, int (*f)(long), long n) {
  long per = n / BATCHES > 0 ? n / BATCHES : 1;
  double best = -1;
  for (int b = 0; b < BATCHES; b++) {
    double t0 = now_ns();
    if (f(per) != 0) { perror(name); return 1; }
    double ns = (now_ns() - t0) / (double)per;
    if (best < 0 || ns < best) best = ns;
  }
  printf("%-12s %10.1f\n", name, best);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", argv[0]);
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = 0;
    if (chdir(*dir ? dir : "/") != 0) { perror(dir); return 1; }
    self = argv[0] + (slash - dir) + 1;
  } else {
    self = argv[0];
  }

  if (run("getpid", t_getpid, n) || run("open+close", t_open, n) || run("stat", t_stat, n) ||
      run("fork+wait", t_fork, n / 100 > BATCHES * 10 ? n / 100 : BATCHES * 10))
    return 1;

  if (pipe(there) || pipe(back)) { perror("pipe"); return 1; }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) perror("sched_setaffinity");  /* the child inherits it */
  pid_t p = fork();
  if (p == 0) {
    char c;
    close(there[1]);
    close(back[0]);
    while (read(there[0], &c, 1) == 1)
      if (write(back[1], &c, 1) != 1) _exit(1);
    _exit(0);
  }
  close(there[0]);
  close(back[1]);
  int rc = run("pipe-rtt", t_pipe, n / 10);
  close(there[1]);
  waitpid(p, NULL, 0);
  return rc;
}
