// What the kernel holds of cgroup device programs, for the unit and the
// integration tests: which programs a cgroup2 directory has, and whether a
// program still exists (a removed instance must leave none behind).
#pragma once
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mult::test {

inline long bpf(int cmd, bpf_attr& a) { return ::syscall(__NR_bpf, cmd, &a, sizeof a); }

// The ids of the device programs attached to the cgroup2 directory `dir`.
inline std::vector<uint32_t> device_programs(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return {};
  uint32_t ids[8] = {};
  bpf_attr q;
  std::memset(&q, 0, sizeof q);
  q.query.target_fd = static_cast<uint32_t>(fd);
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = reinterpret_cast<uintptr_t>(ids);
  q.query.prog_cnt = 8;
  long rc = bpf(BPF_PROG_QUERY, q);
  ::close(fd);
  if (rc != 0) return {};
  return std::vector<uint32_t>(ids, ids + std::min<uint32_t>(q.query.prog_cnt, 8));
}

// Whether the kernel still has program `id`.
inline bool program_exists(uint32_t id) {
  bpf_attr g;
  std::memset(&g, 0, sizeof g);
  g.prog_id = id;
  long fd = bpf(BPF_PROG_GET_FD_BY_ID, g);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return fd >= 0;
}

}  // namespace mult::test
