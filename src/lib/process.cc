#include "process.hh"

#include <fcntl.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "error.hh"
#include "fd.hh"
#include "store.hh"
#include "text.hh"

namespace mult {

namespace {

std::vector<int> cap_numbers(const std::vector<std::string>& names) {
  std::vector<int> out;
  for (const auto& n : names) {
    int c = capability_number(n);
    if (c < 0) throw Error("capability \"" + n + "\": unknown");
    out.push_back(c);
  }
  return out;
}

void set_cap_flag(cap_t caps, cap_flag_t flag, const std::vector<int>& list) {
  std::vector<cap_value_t> vals(list.begin(), list.end());
  if (!vals.empty() && cap_set_flag(caps, flag, int(vals.size()), vals.data(), CAP_SET) != 0)
    throw sys_error("capabilities");
}

// After capset failed with EPERM: the capabilities asked for that this
// process does not hold (permitted, or bounding for the inheritable set).
std::string caps_not_held(const Capabilities& c) {
  cap_t have = cap_get_proc();
  std::vector<std::string> out;
  auto note = [&](const std::string& name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  for (const auto* list : {&c.effective, &c.permitted, &c.ambient, &c.inheritable}) {
    for (const auto& name : *list) {
      cap_value_t v = cap_value_t(capability_number(name));
      cap_flag_value_t held = CAP_CLEAR;
      if (have) cap_get_flag(have, v, CAP_PERMITTED, &held);
      if (list == &c.inheritable && held != CAP_SET) {
        if (have) cap_get_flag(have, v, CAP_INHERITABLE, &held);
        if (held != CAP_SET && ::prctl(PR_CAPBSET_READ, v, 0, 0, 0) == 1) held = CAP_SET;
      }
      if (held != CAP_SET) note(name);
    }
  }
  if (have) cap_free(have);
  std::string s;
  for (const auto& n : out) s += (s.empty() ? "" : ", ") + n;
  return s;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// One "name:x:id:..." file, as fields.
std::vector<std::vector<std::string>> read_colon_file(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::string text;
  if (try_read_file(path, text) != 0) return rows;  // as if empty
  for (const auto& line : split_fields(text, '\n')) {
    std::vector<std::string> f = split_fields(line, ':');
    if (f.size() >= 3) rows.push_back(std::move(f));
  }
  return rows;
}

}  // namespace

int capability_number(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  cap_value_t v;
  if (cap_from_name(lower.c_str(), &v) != 0) return -1;
  return int(v);
}

void apply_rlimits(const Process& process) {
  for (const auto& r : process.rlimits) {
    struct rlimit lim { r.soft, r.hard };
    if (::setrlimit(r.resource, &lim) != 0) throw sys_error("rlimit " + r.type);
  }
}

void set_oom_score_adj(int value) {
  Fd fd(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
  std::string v = std::to_string(value);
  if (!fd || ::write(fd.get(), v.data(), v.size()) < 0) throw sys_error("oomScoreAdj");
}

void limit_bounding_set(const Capabilities& caps) {
  auto keep = cap_numbers(caps.bounding);
  for (int c = 0; c <= CAP_LAST_CAP; ++c) {
    if (std::find(keep.begin(), keep.end(), c) != keep.end()) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
      throw sys_error("capability bounding set");
  }
}

void become_user_with_caps(const Process& process) {
  const User& u = process.user;
  if (process.capabilities && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    throw sys_error("keep capabilities");
  // In a user namespace of a rootless instance setgroups is denied; with
  // no supplementary groups asked for there is nothing to drop.
  if (::setgroups(u.additional_gids.size(), u.additional_gids.data()) != 0 &&
      !(errno == EPERM && u.additional_gids.empty()))
    throw sys_error("setgroups");
  if (::setresgid(u.gid, u.gid, u.gid) != 0) throw sys_error("setgid " + std::to_string(u.gid));
  if (::setresuid(u.uid, u.uid, u.uid) != 0) throw sys_error("setuid " + std::to_string(u.uid));
  if (u.umask) ::umask(*u.umask);
  if (process.capabilities) {
    const Capabilities& c = *process.capabilities;
    cap_t caps = cap_init();
    try {
      set_cap_flag(caps, CAP_EFFECTIVE, cap_numbers(c.effective));
      set_cap_flag(caps, CAP_PERMITTED, cap_numbers(c.permitted));
      set_cap_flag(caps, CAP_INHERITABLE, cap_numbers(c.inheritable));
      if (cap_set_proc(caps) != 0) {
        int err = errno;
        std::string missing = err == EPERM ? caps_not_held(c) : "";
        if (!missing.empty())
          throw Error("capabilities " + missing + ": not held by the runtime (" +
                      std::strerror(err) + ")");
        throw sys_error("capabilities", err);
      }
    } catch (...) {
      cap_free(caps);
      throw;
    }
    cap_free(caps);
    for (const auto& name : c.ambient)
      if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability_number(name), 0, 0) != 0)
        throw sys_error("ambient capability " + name);
  }
  if (process.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    throw sys_error("no_new_privs");
}

void enter_cwd(const Process& process) {
  if (::chdir(process.cwd.c_str()) != 0) throw sys_error("cwd \"" + process.cwd + "\"");
}

void become_process(const Process& process, const SeccompProgram* filter) {
  if (filter && !process.no_new_privileges) install_seccomp(*filter);
  become_user_with_caps(process);
  enter_cwd(process);
  if (filter && process.no_new_privileges) install_seccomp(*filter);
}

namespace {

// PATH of the process's environment, or the usual one.
std::string path_of(const Process& process) {
  std::string path_var = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : process.env)
    if (e.rfind("PATH=", 0) == 0) path_var = e.substr(5);
  return path_var;
}

std::vector<std::string> candidates(const Process& process) {
  const std::string& cmd = process.args.at(0);
  if (cmd.find('/') != std::string::npos) return {cmd};
  std::vector<std::string> out;
  for (const auto& dir : split_fields(path_of(process), ':'))
    out.push_back((dir.empty() ? "." : dir) + "/" + cmd);
  return out;
}

// 0 when execve could run `path` now, else what it would fail with.
int exec_error(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return EACCES;
  // Effective IDs and capabilities, the noexec mount flag: execve's checks.
  // EPERM is no answer but a seccomp profile that predates faccessat2 (which
  // glibc uses for AT_EACCESS, runc's old lists deny it): execve decides then.
  if (::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) != 0 && errno != EPERM && errno != ENOSYS)
    return errno;
  return 0;
}

}  // namespace

void exec_command(const std::string& path, const Process& process) {
  std::vector<char*> argv, envp;
  for (const auto& a : process.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : process.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execve(path.c_str(), argv.data(), envp.data());
}

void exec_process(const Process& process) {
  if (process.args.at(0).find('/') != std::string::npos) {
    exec_command(process.args[0], process);
    return;
  }
  int first_error = ENOENT;
  for (const auto& path : candidates(process)) {
    exec_command(path, process);
    if (errno != ENOENT && errno != ENOTDIR) first_error = errno;
  }
  errno = first_error;
}

std::string find_command(const Process& process) {
  int first_error = ENOENT;
  for (const auto& path : candidates(process)) {
    int err = exec_error(path);
    if (err == 0) return path;
    if (err != ENOENT && err != ENOTDIR && first_error == ENOENT) first_error = err;
  }
  throw Error("exec \"" + process.args.at(0) + "\": " + std::strerror(first_error),
              first_error == ENOENT ? kExitNotFound : kExitNotExecutable);
}

User resolve_user(const std::string& spec, const std::string& root) {
  User u;
  std::string user = spec, group;
  if (auto colon = spec.find(':'); colon != std::string::npos) {
    user = spec.substr(0, colon);
    group = spec.substr(colon + 1);
  }
  if (user.empty()) throw Error("user \"" + spec + "\": empty user", kExitUsage);
  auto passwd = read_colon_file(root + "/etc/passwd");
  const std::vector<std::string>* pw = nullptr;
  for (const auto& row : passwd)
    if (row[0] == user || (all_digits(user) && row.size() > 3 && row[2] == user)) {
      pw = &row;
      break;
    }
  if (all_digits(user)) {
    u.uid = uid_t(std::stoul(user));
    u.gid = pw && all_digits((*pw)[3]) ? gid_t(std::stoul((*pw)[3])) : 0;
  } else if (pw && pw->size() > 3 && all_digits((*pw)[2]) && all_digits((*pw)[3])) {
    u.uid = uid_t(std::stoul((*pw)[2]));
    u.gid = gid_t(std::stoul((*pw)[3]));
  } else {
    throw Error("user \"" + user + "\": not found in the instance's /etc/passwd", kExitUsage);
  }
  auto groups = read_colon_file(root + "/etc/group");
  if (!group.empty()) {
    if (all_digits(group)) {
      u.gid = gid_t(std::stoul(group));
    } else {
      auto it = std::find_if(groups.begin(), groups.end(), [&](auto& r) { return r[0] == group; });
      if (it == groups.end() || !all_digits((*it)[2]))
        throw Error("group \"" + group + "\": not found in the instance's /etc/group", kExitUsage);
      u.gid = gid_t(std::stoul((*it)[2]));
    }
  }
  // Supplementary groups: those that list the user by name.
  std::string name = pw ? (*pw)[0] : "";
  for (const auto& row : groups) {
    if (row.size() < 4 || name.empty() || !all_digits(row[2])) continue;
    for (const auto& m : split_fields(row[3], ','))
      if (m == name) u.additional_gids.push_back(gid_t(std::stoul(row[2])));
  }
  return u;
}

}  // namespace mult
