#include "oci_harness.hh"

#include <dirent.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>

namespace mult_it {

namespace {

// The image's temporary state root, removed at exit.
struct ImageRoot {
  std::string root;
  ~ImageRoot() {
    if (!root.empty()) remove_temp_root(root);
  }
};

ImageRoot g_image;

}  // namespace

const std::string& busybox_rootfs() {
  static std::once_flag once;
  static std::string rootfs;
  std::call_once(once, [] {
    std::string root = make_temp_root();
    if (root.empty()) return;
    g_image.root = root;
    CmdResult r = run_command({MULT_BIN, "--root", root, "run", "--", "true"}, 60);
    if (r.status == 0 && path_exists(root + "/images/busybox/rootfs/bin/sh"))
      rootfs = root + "/images/busybox/rootfs";
    else
      ADD_FAILURE() << "assembling the busybox image: " << r.describe();
  });
  return rootfs;
}

std::string find_tool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  dirs += ":/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string p = dirs.substr(start, end - start) + "/" + name;
    if (end > start && ::access(p.c_str(), X_OK) == 0) return p;
    start = end + 1;
  }
  return "";
}

std::vector<std::string> unmount_below(const std::string& dir) {
  std::vector<std::string> mps;
  for (const auto& line : mountinfo_lines()) {
    auto w = split_words(line);
    if (w.size() < 5) continue;
    std::string mp;
    for (size_t i = 0; i < w[4].size(); ++i) {  // mountinfo escapes as \040
      if (w[4][i] == '\\' && i + 3 < w[4].size()) {
        mp += char(std::stoi(w[4].substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        mp += w[4][i];
      }
    }
    if (mp == dir || mp.rfind(dir + "/", 0) == 0) mps.push_back(mp);
  }
  std::sort(mps.begin(), mps.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& mp : mps) ::umount2(mp.c_str(), MNT_DETACH);
  return mps;
}

void kill_processes_mentioning(const std::string& needle) {
  if (needle.size() < 8) return;  // only unique temporary paths
  DIR* d = ::opendir("/proc");
  if (!d) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.empty() || !std::all_of(n.begin(), n.end(), ::isdigit)) continue;
    pid_t pid = pid_t(std::stol(n));
    if (pid == ::getpid()) continue;
    std::string cmd = read_text("/proc/" + n + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (contains(cmd, needle)) ::kill(pid, SIGKILL);
  }
  ::closedir(d);
}

void OciTest::SetUp() {
  MultTest::SetUp();
  if (HasFatalFailure()) return;
  ASSERT_FALSE(busybox_rootfs().empty()) << "no busybox image";
}

void OciTest::TearDown() {
  if (!root_.empty()) {
    CmdResult ls = oci({"list", "--quiet"});
    for (const auto& id : split_lines(ls.out)) {
      CmdResult del = oci({"delete", "--force", id});
      if (del.status != 0) ADD_FAILURE() << "teardown: " << del.describe();
    }
    // Nothing of a container may outlive its delete.
    if (path_exists(oci_root())) {  // (the seccomp cache, .seccomp-cache, stays)
      EXPECT_EQ(split_lines(run_command({"/bin/ls", oci_root()}).out), std::vector<std::string>{})
          << "state left in " << oci_root();
    }
  }
  MultTest::TearDown();
}

CmdResult OciTest::oci(const Argv& args, double timeout) {
  Argv argv = {MULT_OCI_BIN, "--root", oci_root()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, timeout);
}

std::string OciTest::make_bundle(const std::string& name, const std::vector<std::string>& args,
                                 const std::function<void(Json&)>& edit) {
  std::string dir = root_ + "/" + name;
  EXPECT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
  ::mkdir((dir + "/out").c_str(), 0777);
  CmdResult spec = run_command({MULT_OCI_BIN, "spec", "--bundle", dir});
  EXPECT_EQ(spec.status, 0) << spec.describe();
  Json c = Json::parse(read_text(dir + "/config.json"));
  c["root"]["path"] = busybox_rootfs();
  c["process"]["terminal"] = false;
  c["process"]["args"] = args;
  c["mounts"].push_back(Json{{"destination", "/out"},
                             {"type", "bind"},
                             {"source", dir + "/out"},
                             {"options", Json::array({"rbind", "rw"})}});
  if (edit) edit(c);
  write_text(dir + "/config.json", c.dump(2));
  return dir;
}

Json OciTest::state(const std::string& id) {
  CmdResult r = oci({"state", id});
  if (r.status != 0) return Json();
  try {
    return Json::parse(r.out);
  } catch (const std::exception&) {
    return Json();
  }
}

std::string OciTest::status(const std::string& id) {
  Json s = state(id);
  return s.is_object() ? s.value("status", "") : "";
}

bool OciTest::wait_status(const std::string& id, const std::string& want, double timeout) {
  return wait_until([&] { return status(id) == want; }, timeout);
}

}  // namespace mult_it
