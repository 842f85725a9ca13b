// sec_helper: a static program the security tests bind-mount into an
// instance, for the system calls busybox has no applet for (keyctl, kexec,
// init_module, ptrace, reboot...). Every attempt prints one line
// "NAME=RESULT", RESULT being "ok" or the errno's name (EPERM, EACCES...),
// so a test can tell a denial by the filter or a missing capability apart
// from a call that went through.
//
//   sec_helper keys                   add_key, keyctl, request_key
//   sec_helper kexec                  kexec_load, kexec_file_load (bad flags:
//                                     harmless even if permitted: EINVAL)
//   sec_helper module                 init_module, finit_module, delete_module
//                                     (garbage / no such module: harmless)
//   sec_helper mount                  mount, fsopen, open_tree, mount_setattr,
//                                     umount2, pivot_root, unshare, setns...
//   sec_helper reboot-probe           reboot(2) with an invalid command: EPERM
//                                     when denied, EINVAL when permitted
//   sec_helper reboot HOST_PIDNS_INO [restart|poweroff]
//                                     reboot(LINUX_REBOOT_CMD_RESTART or
//                                     _POWER_OFF), only when not in the PID
//                                     namespace whose inode the host passed
//                                     (exit 99 if it is)
//   sec_helper chroot-escape PATH     the classic chroot break-out (chroot to
//                                     a subdir, chdir .. many times, chroot
//                                     .); prints the root's dev:ino before
//                                     and after and tries to open PATH
//   sec_helper mknod MAJ MIN PATH     make a block device node, open it
//                                     read-only, read 512 bytes (never writes)
//   sec_helper ptrace PID             PTRACE_ATTACH / SEIZE, /proc/PID/mem
//   sec_helper fds PATH               for every open fd: where it points, and
//                                     whether PATH (absolute, on the host) can
//                                     be opened relative to it
//   sec_helper watch-exe SECONDS DEV:INO...
//                                     for SECONDS, every process's
//                                     /proc/PID/exe: prints each readable
//                                     target once, "hit=PID" for one that is
//                                     one of the given files, and counts
//                                     (denied_other: denied, not PID 1)
//
// Exit status 0 unless the arguments are wrong (2) or a safety check fails (99).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/mount.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <set>
#include <string>

namespace {

// "ok" or the name of errno, for a call's return value.
void report(const char* name, long rc) {
  if (rc >= 0) printf("%s=ok\n", name);
  else printf("%s=%s\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
  fflush(stdout);
}

int usage() {
  fprintf(stderr, "usage: sec_helper keys|kexec|module|mount|reboot-probe|reboot INO [restart|poweroff]|"
                  "chroot-escape PATH|mknod MAJ MIN PATH|ptrace PID|fds PATH|"
                  "watch-exe SECONDS DEV:INO...\n");
  return 2;
}

int keys() {
  report("add_key", syscall(SYS_add_key, "user", "mult-sec-test", "x", 1, KEY_SPEC_PROCESS_KEYRING));
  report("keyctl_get_keyring_id",
         syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));
  report("keyctl_join_session", syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "mult-sec-test"));
  report("request_key", syscall(SYS_request_key, "user", "mult-sec-test", nullptr, 0));
  return 0;
}

int kexec() {
  // 0x8000: no KEXEC_* flag and not an architecture: EINVAL once past the
  // permission check, so nothing is (un)loaded even if the call is allowed.
  report("kexec_load", syscall(SYS_kexec_load, 0UL, 0UL, nullptr, 0x8000UL));
  report("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0UL, nullptr, 0x80000000UL));
  return 0;
}

int module() {
  static const char junk[64] = "not an ELF module";
  report("init_module", syscall(SYS_init_module, junk, sizeof junk, ""));
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  report("finit_module", syscall(SYS_finit_module, fd, "", 0));
  if (fd >= 0) close(fd);
  report("delete_module", syscall(SYS_delete_module, "mult_no_such_module", O_NONBLOCK));
  return 0;
}

int mounts() {
  report("mount_tmpfs", mount("x", "/tmp", "tmpfs", 0, nullptr));
  report("mount_proc", mount("proc", "/mnt", "proc", 0, nullptr));
  report("remount_root_rw", mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND, nullptr));
  report("bind_root", mount("/", "/mnt", nullptr, MS_BIND | MS_REC, nullptr));
  report("umount_proc_keys", umount2("/proc/keys", MNT_DETACH));
  report("umount_sys", umount2("/sys", MNT_DETACH));
  report("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
  report("fspick", syscall(SYS_fspick, AT_FDCWD, "/", 0));
  report("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  struct mount_attr attr {};
  attr.attr_clr = MOUNT_ATTR_RDONLY;
  report("mount_setattr", syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof attr));
  report("pivot_root", syscall(SYS_pivot_root, ".", "."));
  report("unshare_user", unshare(CLONE_NEWUSER));
  report("unshare_mount", unshare(CLONE_NEWNS));
  int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  report("setns_mnt", setns(ns, CLONE_NEWNS));
  if (ns >= 0) close(ns);
  // clone(CLONE_NEWUSER): the child, should there be one, exits at once.
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  report("clone_newuser", pid);
  if (pid > 0) waitpid(pid_t(pid), nullptr, 0);
  return 0;
}

int reboot_probe() {
  report("reboot_probe", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, 0x12345678, nullptr));
  return 0;
}

int reboot(const char* host_pidns, const std::string& how) {
  // Never on the host: the PID namespace must not be the one the test runs in.
  struct stat st;
  if (stat("/proc/self/ns/pid", &st) != 0 || std::to_string(st.st_ino) == host_pidns) {
    fprintf(stderr, "sec_helper: in the host's PID namespace, not rebooting\n");
    return 99;
  }
  printf("pidns=%llu\n", (unsigned long long)st.st_ino);
  fflush(stdout);
  unsigned cmd = how == "poweroff" ? LINUX_REBOOT_CMD_POWER_OFF : LINUX_REBOOT_CMD_RESTART;
  long rc = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd, nullptr);
  report("reboot", rc);  // only when it did not end the namespace
  return 0;
}

std::string dev_ino(const char* path) {
  struct stat st;
  if (stat(path, &st) != 0) return std::string("error:") + strerrorname_np(errno);
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

int chroot_escape(const char* path) {
  printf("root_before=%s\n", dev_ino("/").c_str());
  mkdir("/tmp/jail", 0755);
  if (chdir("/") != 0) return 1;
  report("chroot_jail", chroot("/tmp/jail"));  // the cwd stays outside the new root
  int ups = 0;
  for (int i = 0; i < 64; ++i) ups += chdir("..") == 0;
  printf("ups=%d\n", ups);
  report("chroot_dot", chroot("."));
  printf("root_after=%s\n", dev_ino("/").c_str());
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  report("open_marker", fd);
  if (fd >= 0) {
    char buf[256] = {};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n > 0) printf("marker_content=%s", buf);
    close(fd);
  }
  // What / holds now: the instance's own os-release, or not.
  fd = open("/etc/os-release", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[512] = {};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n > 0 && strstr(buf, "ID=mult-busybox")) printf("os=mult-busybox\n");
    else printf("os=other\n");
    close(fd);
  }
  fflush(stdout);
  return 0;
}

int mknod_read(const char* maj, const char* min, const char* path) {
  dev_t dev = makedev(unsigned(strtoul(maj, nullptr, 10)), unsigned(strtoul(min, nullptr, 10)));
  unlink(path);
  report("mknod", mknod(path, S_IFBLK | 0600, dev));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  report("open_block", fd);
  if (fd >= 0) {
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    report("read_block", n);
    if (n >= 0) printf("read_bytes=%zd\n", n);
    close(fd);
  }
  unlink(path);
  fflush(stdout);
  return 0;
}

int do_ptrace(const char* pid_text) {
  pid_t pid = pid_t(strtol(pid_text, nullptr, 10));
  long rc = ptrace(PTRACE_ATTACH, pid, nullptr, nullptr);
  report("ptrace_attach", rc);
  if (rc == 0) {
    waitpid(pid, nullptr, __WALL);
    ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  }
  rc = ptrace(PTRACE_SEIZE, pid, nullptr, nullptr);
  report("ptrace_seize", rc);
  if (rc == 0) ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  std::string mem = "/proc/" + std::string(pid_text) + "/mem";
  int fd = open(mem.c_str(), O_RDONLY | O_CLOEXEC);
  report("open_mem", fd);
  if (fd >= 0) close(fd);
  return 0;
}

int fds(const char* path) {
  // Relative to a directory fd anywhere on the host, this many ".." reach
  // its root; then the marker's own path.
  std::string up;
  for (int i = 0; i < 40; ++i) up += "../";
  std::string rel = up + (path[0] == '/' ? path + 1 : path);
  DIR* d = opendir("/proc/self/fd");
  if (!d) {
    report("opendir_fds", -1);
    return 0;
  }
  int self = dirfd(d);
  int escapes = 0, seen = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == self) continue;
    ++seen;
    char target[4096] = {};
    std::string link = std::string("/proc/self/fd/") + e->d_name;
    if (readlink(link.c_str(), target, sizeof target - 1) < 0) strcpy(target, "?");
    printf("fd %d -> %s\n", fd, target);
    int m = openat(fd, rel.c_str(), O_RDONLY | O_CLOEXEC);
    if (m >= 0) {
      printf("escape via fd %d\n", fd);
      ++escapes;
      close(m);
    }
    // The same through the magic link.
    std::string via = link + "/" + rel;
    m = open(via.c_str(), O_RDONLY | O_CLOEXEC);
    if (m >= 0) {
      printf("escape via %s\n", link.c_str());
      ++escapes;
      close(m);
    }
  }
  closedir(d);
  printf("fds_seen=%d\nescapes=%d\n", seen, escapes);
  fflush(stdout);
  return 0;
}

double now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

int watch_exe(int argc, char** argv) {
  double until = now() + atof(argv[2]);
  std::set<std::string> forbidden(argv + 3, argv + argc);
  std::set<std::string> targets;
  long denied = 0, denied_other = 0, readable = 0, hits = 0, scans = 0;
  pid_t self = getpid();
  printf("watching\n");
  fflush(stdout);
  while (now() < until) {
    ++scans;
    DIR* d = opendir("/proc");
    if (!d) break;
    while (struct dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == self) continue;
      std::string exe = std::string("/proc/") + e->d_name + "/exe";
      char target[4096] = {};
      if (readlink(exe.c_str(), target, sizeof target - 1) < 0) {
        if (errno == EACCES || errno == EPERM) {
          ++denied;
          if (strcmp(e->d_name, "1") != 0) ++denied_other;  // not init: mult before its exec
        }
        continue;
      }
      ++readable;
      targets.insert(target);
      // Which file it is, by identity rather than by name.
      struct stat st;
      if (stat(exe.c_str(), &st) == 0 &&
          forbidden.count(std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino))) {
        printf("hit=%s %s\n", e->d_name, target);
        ++hits;
        // And whether it could be opened for writing (it must not).
        int w = open(exe.c_str(), O_WRONLY | O_CLOEXEC);
        report("open_exe_write", w);
        if (w >= 0) close(w);
      }
    }
    closedir(d);
  }
  for (const auto& t : targets) printf("exe %s\n", t.c_str());
  printf("scans=%ld\ndenied=%ld\ndenied_other=%ld\nreadable=%ld\nhits=%ld\n", scans, denied,
         denied_other, readable, hits);
  fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string cmd = argv[1];
  if (cmd == "keys") return keys();
  if (cmd == "kexec") return kexec();
  if (cmd == "module") return module();
  if (cmd == "mount") return mounts();
  if (cmd == "reboot-probe") return reboot_probe();
  if (cmd == "reboot" && (argc == 3 || argc == 4)) {
    std::string how = argc == 4 ? argv[3] : "restart";
    if (how != "restart" && how != "poweroff") return usage();
    return reboot(argv[2], how);
  }
  if (cmd == "chroot-escape" && argc == 3) return chroot_escape(argv[2]);
  if (cmd == "mknod" && argc == 5) return mknod_read(argv[2], argv[3], argv[4]);
  if (cmd == "ptrace" && argc == 3) return do_ptrace(argv[2]);
  if (cmd == "fds" && argc == 3) return fds(argv[2]);
  if (cmd == "watch-exe" && argc >= 3) return watch_exe(argc, argv);
  return usage();
}
