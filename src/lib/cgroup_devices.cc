// Device allow lists (cgroup_devices.hh): the default list of an instance,
// the v1 devices controller's lines and the cgroup v2 BPF device program.
// The program is loaded on every start that has a cgroup, so it is kept
// small: a few instructions per rule, no maps, no helpers.
#include "cgroup_devices.hh"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "error.hh"
#include "fd.hh"

namespace mult {

namespace {

constexpr uint32_t kAllAccess = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

std::string num(int64_t v) { return std::to_string(v); }

uint32_t access_mask(const std::string& access) {
  uint32_t m = 0;
  for (char c : access) {
    if (c == 'r') m |= BPF_DEVCG_ACC_READ;
    if (c == 'w') m |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') m |= BPF_DEVCG_ACC_MKNOD;
  }
  return m;
}

bool any_number(const std::optional<int64_t>& n) { return !n || *n < 0; }

// A rule about every access to every device.
bool covers_everything(const DeviceRule& d) {
  return d.type == "a" && any_number(d.major) && any_number(d.minor) && access_mask(d.access) == kAllAccess;
}

bool same_rule(const DeviceRule& a, const DeviceRule& b) {
  return a.allow == b.allow && a.type == b.type && a.major == b.major && a.minor == b.minor && a.access == b.access;
}

DeviceRule allow(const char* type, int64_t major, std::optional<int64_t> minor) {
  DeviceRule r;
  r.allow = true;
  r.type = type;
  r.major = major;
  r.minor = minor;
  r.access = "rwm";
  return r;
}



// ---- the BPF program ----------------------------------------------------------

struct Program {
  std::vector<bpf_insn> insns;
  void emit(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    insns.push_back(i);
  }
};

long bpf(int cmd, bpf_attr& attr) { return ::syscall(__NR_bpf, cmd, &attr, sizeof attr); }

uint64_t ptr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

std::string_view last_line(std::string_view t) {
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
  size_t nl = t.rfind('\n');
  return nl == std::string_view::npos ? t : t.substr(nl + 1);
}

Fd load_program(const std::vector<bpf_insn>& insns) {
  static const char kLicense[] = "GPL";
  bpf_attr a;
  std::memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = ptr(insns.data());
  a.insn_cnt = static_cast<uint32_t>(insns.size());
  a.license = ptr(kLicense);
  long fd = bpf(BPF_PROG_LOAD, a);
  if (fd >= 0) return Fd(static_cast<int>(fd));
  int err = errno;
  std::string detail;
  if (err == EINVAL || err == EACCES) {
    // Again with the verifier's log, for its last word.
    std::string log(65536, '\0');
    a.log_level = 1;
    a.log_buf = ptr(log.data());
    a.log_size = static_cast<uint32_t>(log.size());
    long again = bpf(BPF_PROG_LOAD, a);
    if (again >= 0) return Fd(static_cast<int>(again));
    log.resize(std::strlen(log.c_str()));
    if (std::string_view l = last_line(log); !l.empty()) detail = " (verifier: " + std::string(l) + ")";
  }
  std::string what = "devices: load the device program: " + std::string(std::strerror(err)) + detail;
  if (err == EPERM) throw DeviceProgramRefused(what);
  throw Error(what);
}

// The device programs attached to `cg` now (at most 64: mult attaches one).
std::vector<uint32_t> attached_programs(int cg) {
  uint32_t ids[64] = {};
  bpf_attr q;
  std::memset(&q, 0, sizeof q);
  q.query.target_fd = static_cast<uint32_t>(cg);
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = ptr(ids);
  q.query.prog_cnt = 64;
  if (bpf(BPF_PROG_QUERY, q) != 0) return {};
  return std::vector<uint32_t>(ids, ids + std::min<uint32_t>(q.query.prog_cnt, 64));
}

void detach_program(int cg, uint32_t id, const std::string& dir) {
  bpf_attr g;
  std::memset(&g, 0, sizeof g);
  g.prog_id = id;
  long fd = bpf(BPF_PROG_GET_FD_BY_ID, g);
  if (fd < 0) {
    if (errno == ENOENT) return;  // gone already
    throw sys_error("devices: find the previous device program of " + dir);
  }
  Fd old(static_cast<int>(fd));
  bpf_attr d;
  std::memset(&d, 0, sizeof d);
  d.target_fd = static_cast<uint32_t>(cg);
  d.attach_bpf_fd = static_cast<uint32_t>(old.get());
  d.attach_type = BPF_CGROUP_DEVICE;
  if (bpf(BPF_PROG_DETACH, d) != 0 && errno != ENOENT)
    throw sys_error("devices: detach the previous device program from " + dir);
}

}  // namespace

void check_device_numbers(const std::vector<DeviceRule>& rules) {
  for (size_t i = 0; i < rules.size(); ++i)
    for (const auto& n : {rules[i].major, rules[i].minor})
      if (n && *n > static_cast<int64_t>(UINT32_MAX))
        throw Error("devices[" + num(static_cast<int64_t>(i)) + "]: device number " + num(*n) + " is too large");
}

const std::vector<DeviceRule>& default_device_rules() {
  static const std::vector<DeviceRule> rules = {
      allow("c", 1, 3),  allow("c", 1, 5),  allow("c", 1, 7),  // null, zero, full
      allow("c", 1, 8),  allow("c", 1, 9),  allow("c", 5, 0),  // random, urandom, tty
      allow("c", 5, 2),  allow("c", 136, std::nullopt),        // ptmx, pts/*
  };
  return rules;
}

std::vector<DeviceRule> instance_device_rules(const Spec& spec) {
  std::vector<DeviceRule> out;
  if (spec.linux.resources) out = spec.linux.resources->devices;
  const size_t ours = out.size();
  auto add = [&](const DeviceRule& r) {
    // A device listed twice (linux.devices naming /dev/null) is one rule.
    if (std::none_of(out.begin() + static_cast<std::ptrdiff_t>(ours), out.end(),
                     [&](const DeviceRule& o) { return same_rule(o, r); }))
      out.push_back(r);
  };
  for (const auto& r : default_device_rules()) add(r);
  for (const Device& d : spec.linux.devices) {
    if (d.type == 'p') continue;  // a fifo is not a device
    add(allow(d.type == 'b' ? "b" : "c", d.major, d.minor));
  }
  return out;
}

bool allows_every_device(const std::vector<DeviceRule>& rules) {
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    if (!it->allow) return false;  // a deny after the last allow-all (or none at all)
    if (covers_everything(*it)) return true;
  }
  return false;
}

bool device_allowed(const std::vector<DeviceRule>& rules, char type, uint32_t major, uint32_t minor,
                    uint32_t access) {
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const DeviceRule& d = *it;
    if ((d.type == "c" && type != 'c') || (d.type == "b" && type != 'b')) continue;
    if (!any_number(d.major) && static_cast<uint32_t>(*d.major) != major) continue;
    if (!any_number(d.minor) && static_cast<uint32_t>(*d.minor) != minor) continue;
    const uint32_t mask = access_mask(d.access);
    if (d.allow ? (access & ~mask) != 0 : (access & mask) == 0) continue;
    return d.allow;
  }
  return false;
}

// The rules from the last one back, the first that matches deciding:
//   w2 = type, w3 = access, w4 = major, w5 = minor
//   per rule: w1 = the bits in which the access differs from the rule
//   (type ^ T | major ^ A | minor ^ B | access outside the rule's), then
//   one jump to the next rule unless w1 is 0; else return its verdict.
// Jumping on a scratch register, never on w2..w5, leaves the verifier one
// state per rule to check instead of one per way into it: loading the
// program is part of every start.
std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules) {
  constexpr uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;
  Program p;
  p.emit(BPF_LDX | BPF_MEM | BPF_W, R2, R1, offsetof(bpf_cgroup_dev_ctx, access_type), 0);
  p.emit(BPF_LDX | BPF_MEM | BPF_W, R4, R1, offsetof(bpf_cgroup_dev_ctx, major), 0);
  p.emit(BPF_LDX | BPF_MEM | BPF_W, R5, R1, offsetof(bpf_cgroup_dev_ctx, minor), 0);
  p.emit(BPF_ALU | BPF_MOV | BPF_X, R3, R2, 0, 0);      // w3 = access_type
  p.emit(BPF_ALU | BPF_RSH | BPF_K, R3, 0, 0, 16);      // w3 >>= 16: access
  p.emit(BPF_ALU | BPF_AND | BPF_K, R2, 0, 0, 0xffff);  // w2 &= 0xffff: type
  bool decided = false;  // a rule that matches everything ends the program
  for (auto it = rules.rbegin(); it != rules.rend() && !decided; ++it) {
    const DeviceRule& d = *it;
    std::vector<size_t> to_next;
    auto jump_unless = [&](uint8_t op, int32_t imm) {
      to_next.push_back(p.insns.size());
      p.emit(BPF_JMP32 | op | BPF_K, R1, 0, 0, imm);
    };
    // w1 |= (reg OP imm), w0 as scratch (set before the exit anyway).
    bool any = false;
    auto differ = [&](uint8_t reg, uint8_t op, uint32_t imm) {
      const uint8_t to = any ? R0 : R1;
      p.emit(BPF_ALU | BPF_MOV | BPF_X, to, reg, 0, 0);
      p.emit(BPF_ALU | op | BPF_K, to, 0, 0, static_cast<int32_t>(imm));
      if (any) p.emit(BPF_ALU | BPF_OR | BPF_X, R1, R0, 0, 0);
      any = true;
    };
    if (d.type == "c") differ(R2, BPF_XOR, BPF_DEVCG_DEV_CHAR);
    if (d.type == "b") differ(R2, BPF_XOR, BPF_DEVCG_DEV_BLOCK);
    if (!any_number(d.major)) differ(R4, BPF_XOR, static_cast<uint32_t>(*d.major));
    if (!any_number(d.minor)) differ(R5, BPF_XOR, static_cast<uint32_t>(*d.minor));
    const uint32_t mask = access_mask(d.access);
    // An allow rule matches only when it grants every access asked for.
    if (d.allow && mask != kAllAccess) differ(R3, BPF_AND, kAllAccess & ~mask);
    if (any) jump_unless(BPF_JNE, 0);
    if (!d.allow && mask != kAllAccess) {
      // A deny rule matches when it names any access asked for.
      p.emit(BPF_ALU | BPF_MOV | BPF_X, R1, R3, 0, 0);
      p.emit(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, static_cast<int32_t>(mask));
      jump_unless(BPF_JEQ, 0);
    }
    p.emit(BPF_ALU | BPF_MOV | BPF_K, R0, 0, 0, d.allow ? 1 : 0);
    p.emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    for (size_t j : to_next) p.insns[j].off = static_cast<int16_t>(p.insns.size() - (j + 1));
    decided = to_next.empty();
  }
  if (!decided) {
    p.emit(BPF_ALU | BPF_MOV | BPF_K, R0, 0, 0, 0);
    p.emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
  return std::move(p.insns);
}

std::vector<std::string> v1_device_lines(const DeviceRule& d) {
  auto part = [](const std::optional<int64_t>& n) { return any_number(n) ? std::string("*") : num(*n); };
  std::string numbers = part(d.major) + ":" + part(d.minor);
  if (d.type == "a") {
    if (covers_everything(d)) return {"a"};
    // "a" in the v1 files means everything: spell out both types.
    return {"c " + numbers + " " + d.access, "b " + numbers + " " + d.access};
  }
  return {d.type + " " + numbers + " " + d.access};
}

void attach_device_program(const std::string& dir, const std::vector<DeviceRule>& rules) {
  Fd cg(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) throw sys_error("devices: open " + dir);
  attach_device_program(cg.get(), dir, rules, true);
}

void attach_device_program(int cg, const std::string& dir, const std::vector<DeviceRule>& rules,
                           bool replace) {
  check_device_numbers(rules);
  const bool everything = allows_every_device(rules);
  Fd prog;
  if (!everything) prog = load_program(device_program(rules));

  const std::vector<uint32_t> before = replace ? attached_programs(cg) : std::vector<uint32_t>{};
  if (!everything) {
    bpf_attr a;
    std::memset(&a, 0, sizeof a);
    a.target_fd = static_cast<uint32_t>(cg);
    a.attach_bpf_fd = static_cast<uint32_t>(prog.get());
    a.attach_type = BPF_CGROUP_DEVICE;
    a.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, a) != 0) {
      std::string what = "devices: attach the device program to " + dir + ": " + std::strerror(errno);
      if (errno == EPERM) throw DeviceProgramRefused(what);
      throw Error(what);
    }
  }
  for (uint32_t id : before) detach_program(cg, id, dir);
}

}  // namespace mult
