#include "tty.hh"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "error.hh"

namespace mult {

namespace {

volatile sig_atomic_t window_changed = 0;
void on_winch(int) { window_changed = 1; }

void copy_window_size(int from, int to) {
  struct winsize ws;
  if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

// Writes all of buf; false when the other side is gone.
bool write_all(int fd, const char* buf, ssize_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, buf, size_t(n));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    buf += w;
    n -= w;
  }
  return true;
}

}  // namespace

Fd open_pty_master(std::string& slave_path) {
  Fd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) throw sys_error("pty: open /dev/ptmx");
  if (::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0)
    throw sys_error("pty: unlock");
  char name[128];
  if (::ptsname_r(master.get(), name, sizeof name) != 0) throw sys_error("pty: ptsname");
  slave_path = name;
  copy_window_size(STDIN_FILENO, master.get());
  return master;
}

void attach_to_pty(const std::string& slave_path) {
  // An instance's PID 1 already leads a session of its own (and has no
  // controlling terminal yet): that is all setsid would give.
  if (::setsid() < 0 && ::getsid(0) != ::getpid()) throw sys_error("pty: setsid");
  int fd = ::open(slave_path.c_str(), O_RDWR);
  if (fd < 0) throw sys_error("pty: open " + slave_path);
  if (::ioctl(fd, TIOCSCTTY, 0) != 0) throw sys_error("pty: controlling terminal");
  for (int i = 0; i < 3; ++i)
    if (::dup2(fd, i) < 0) throw sys_error("pty: stdio");
  if (fd > 2) ::close(fd);
}

void send_fd(int sock, int fd) { send_fd(sock, 'T', fd); }

void send_fd(int sock, char tag, int fd) {
  struct iovec iov {&tag, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t n;
  while ((n = ::sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n < 0) throw sys_error("send fd");
}

Fd receive_message(int sock, char& tag) {
  tag = 0;
  struct iovec iov {&tag, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) throw sys_error("receive fd");
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (n == 0 || !c || c->cmsg_type != SCM_RIGHTS) return Fd();
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return Fd(fd);
}

Fd receive_fd(int sock) {
  char tag;
  Fd fd = receive_message(sock, tag);
  if (!fd) throw Error("console socket: no terminal received");
  return fd;
}

int relay_pty(int master, pid_t pid) {
  struct termios saved;
  bool raw = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    ::cfmakeraw(&t);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
  }
  struct sigaction sa {}, old;
  sa.sa_handler = on_winch;
  ::sigaction(SIGWINCH, &sa, &old);

  bool stdin_open = true;
  char buf[16384];
  for (;;) {
    if (window_changed) {
      window_changed = 0;
      copy_window_size(STDIN_FILENO, master);
    }
    struct pollfd fds[2] = {{master, POLLIN, 0}, {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;  // the slave side closed: the command ended
      if (!write_all(STDOUT_FILENO, buf, n)) break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;
        char eof = 4;  // ^D: end of input for the program on the pty
        write_all(master, &eof, 1);
      } else if (!write_all(master, buf, n)) {
        break;
      }
    }
  }
  if (raw) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  ::sigaction(SIGWINCH, &old, nullptr);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace mult
