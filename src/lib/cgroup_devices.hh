// Device allow lists: which device nodes an instance may open and make. The
// rules are the runtime-spec's linux.resources.devices, on top of a default
// deny; they become the v1 devices controller's lines or a cgroup v2
// BPF_PROG_TYPE_CGROUP_DEVICE program (which the kernel runs even where the
// v1 devices controller is mounted: a hybrid host).
#pragma once
#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "error.hh"
#include "spec.hh"

namespace mult {

// The kernel refused this process a BPF device program (EPERM): root of a
// user namespace other than the host's, or without CAP_BPF.
class DeviceProgramRefused : public Error {
 public:
  using Error::Error;
};

// What every instance's /dev holds: null, zero, full, random, urandom, tty,
// ptmx and the pts/* terminals, each read, write and mknod.
const std::vector<DeviceRule>& default_device_rules();

// The allow list of an instance of `spec`, in the order runc builds it: the
// spec's linux.resources.devices, then the default devices and the devices
// linux.devices lists (allowed rwm), so that what its /dev holds always
// works. Everything else is denied.
std::vector<DeviceRule> instance_device_rules(const Spec& spec);

// Whether `rules` allow every access to every device: nothing to enforce.
bool allows_every_device(const std::vector<DeviceRule>& rules);

// What `rules` decide for one access (type 'c' or 'b', `access` a mask of
// BPF_DEVCG_ACC_*): the last rule that matches decides, nothing matching is
// denied. An allow rule matches only when it grants every access asked for,
// a deny rule when it names any of them. The BPF program decides the same.
bool device_allowed(const std::vector<DeviceRule>& rules, char type, uint32_t major, uint32_t minor,
                    uint32_t access);

// The BPF_PROG_TYPE_CGROUP_DEVICE program of `rules` (returns 1: allow).
std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules);

// "c 1:3 rwm" lines for the v1 devices controller (the type "a" of a rule
// that does not cover everything is spelled out as c and b).
std::vector<std::string> v1_device_lines(const DeviceRule& d);

// Device numbers go into 32-bit BPF immediates and the v1 files alike:
// throws Error naming the rule whose number is larger.
void check_device_numbers(const std::vector<DeviceRule>& rules);

// Loads the program of `rules` and attaches it to the cgroup v2 directory
// `dir`; the device programs attached there before go once it is in (no
// moment without one). Rules that allow everything detach them and attach
// none. The program lives as long as the cgroup: rmdir frees it. Throws
// DeviceProgramRefused where the kernel does not let this process load or
// attach one, Error for anything else.
void attach_device_program(const std::string& dir, const std::vector<DeviceRule>& rules);
// The same through `cg`, an open fd of that directory; `replace` false: a
// cgroup just made, which has no program to look for or detach.
void attach_device_program(int cg, const std::string& dir, const std::vector<DeviceRule>& rules,
                           bool replace);

}  // namespace mult
