#include <cstdlib>

#include "cli.hh"
#include "error.hh"

namespace mult::cli {

bool ArgReader::at_option() {
  if (done()) return false;
  const std::string& w = args_[i_];
  if (w == "--") {
    ++i_;
    return false;
  }
  if (w.size() < 2 || w[0] != '-') return false;
  current_ = w;
  has_inline_ = false;
  if (w.rfind("--", 0) == 0) {
    if (auto eq = w.find('='); eq != std::string::npos) {
      current_ = w.substr(0, eq);
      inline_value_ = w.substr(eq + 1);
      has_inline_ = true;
    }
  }
  return true;
}

bool ArgReader::is(const char* long_name, const char* short_name) {
  if (current_ != long_name && !(short_name && current_ == short_name)) return false;
  ++i_;
  return true;
}

std::string ArgReader::value() {
  if (has_inline_) return inline_value_;
  if (done()) throw Error(command_ + ": option " + current_ + " needs a value", kExitUsage);
  return args_[i_++];
}

std::string ArgReader::inline_value() const { return has_inline_ ? inline_value_ : ""; }

int ArgReader::int_value() {
  std::string v = value();
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 0 || n > 1000000)
    throw Error(command_ + ": option " + current_ + ": \"" + v + "\" is not a number", kExitUsage);
  return int(n);
}

std::string ArgReader::next_word(const char* what) {
  if (done()) throw Error(command_ + ": missing " + what, kExitUsage);
  return args_[i_++];
}

Args ArgReader::rest() {
  Args out(args_.begin() + long(i_), args_.end());
  i_ = args_.size();
  return out;
}

void ArgReader::unknown() const {
  throw Error(command_ + ": unknown option " + current_ + " (see mult --help)", kExitUsage);
}

bool read_limit_option(ArgReader& r, LimitOptions& l) {
  if (r.is("--memory", "-m")) l.memory = r.value();
  else if (r.is("--memory-swap")) l.memory_swap = r.value();
  else if (r.is("--memory-reservation")) l.memory_reservation = r.value();
  else if (r.is("--cpus")) l.cpus = r.value();
  else if (r.is("--cpu-shares")) l.cpu_shares = r.value();
  else if (r.is("--cpuset-cpus")) l.cpuset_cpus = r.value();
  else if (r.is("--cpuset-mems")) l.cpuset_mems = r.value();
  else if (r.is("--pids-limit")) l.pids_limit = r.value();
  else if (r.is("--io-weight")) l.io_weight = r.value();
  else if (r.is("--device-read-bps")) l.device_read_bps.push_back(r.value());
  else if (r.is("--device-write-bps")) l.device_write_bps.push_back(r.value());
  else if (r.is("--device-read-iops")) l.device_read_iops.push_back(r.value());
  else if (r.is("--device-write-iops")) l.device_write_iops.push_back(r.value());
  else if (r.is("--hugetlb")) l.hugetlb.push_back(r.value());
  else return false;
  return true;
}

bool read_instance_option(ArgReader& r, InstanceOptions& o) {
  if (read_limit_option(r, o.limits)) return true;
  if (r.is("--rootfs")) o.rootfs = r.value();
  else if (r.is("--image")) o.image = r.value();
  else if (r.is("--hostname")) o.hostname = r.value();
  else if (r.is("--bind")) o.binds.push_back(r.value());
  else if (r.is("--tmpfs")) o.tmpfs.push_back(r.value());
  else if (r.is("--env", "-e")) o.env.push_back(r.value());
  else if (r.is("--user", "-u")) o.user = r.value();
  else if (r.is("--workdir", "-w")) o.workdir = r.value();
  else if (r.is("--read-only")) o.read_only = true;
  else if (r.is("--init")) o.init = r.value();
  else if (r.is("--stop-timeout")) o.stop_timeout = r.int_value();
  else if (r.is("--stop-command")) o.stop_command = r.value();
  else if (r.is("--cap-add")) o.cap_add.push_back(r.value());
  else if (r.is("--cap-drop")) o.cap_drop.push_back(r.value());
  else if (r.is("--privileged")) o.privileged = true;
  else if (r.is("--allow-new-privs")) o.allow_new_privs = true;
  else if (r.is("--userns")) o.userns = r.inline_value();
  else if (r.is("--net", "--network")) o.net = r.value();
  else if (r.is("--ip")) o.ip = r.value();
  else if (r.is("--mac")) o.mac = r.value();
  else if (r.is("--mtu")) o.mtu = r.value();
  else if (r.is("--dns")) o.dns.push_back(r.value());
  else if (r.is("--add-host")) o.add_hosts.push_back(r.value());
  else if (r.is("--link")) o.links.push_back(r.value());
  else if (r.is("--publish", "-p")) o.publish.push_back(r.value());
  else if (r.is("--nat")) o.nat = true;
  else if (r.is("--seccomp")) o.seccomp = r.value();
  else return false;
  return true;
}

}  // namespace mult::cli
