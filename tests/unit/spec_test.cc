// Unit tests for the OCI spec model: parse_spec(), load_spec_file(),
// default_spec_json() and the small helpers in spec.hh.
#include "spec.hh"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "error.hh"

namespace mult {
namespace {

// The message of the Error parse_spec() throws for `doc`, or "" if it parses.
std::string error_of(const Json& doc) {
  try {
    parse_spec(doc);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The default spec with `patch` applied (RFC 7386 merge patch).
Json with(const Json& patch) {
  Json doc = default_spec_json();
  doc.merge_patch(patch);
  return doc;
}

// The default spec with the JSON pointer `ptr` set to `value`.
Json with_at(const std::string& ptr, const Json& value) {
  Json doc = default_spec_json();
  doc[Json::json_pointer(ptr)] = value;
  return doc;
}

// ---- the default spec -----------------------------------------------------

TEST(SpecDefault, Parses) {
  Spec s = parse_spec(default_spec_json());
  EXPECT_EQ(s.oci_version, "1.2.0");
  EXPECT_EQ(s.root.path, "rootfs");
  EXPECT_FALSE(s.root.readonly);
  EXPECT_EQ(s.hostname, "mult");
  ASSERT_TRUE(s.process.has_value());
  EXPECT_EQ(s.process->args, std::vector<std::string>{"sh"});
  EXPECT_EQ(s.process->cwd, "/");
  EXPECT_TRUE(s.process->no_new_privileges);
  EXPECT_EQ(s.process->user.uid, 0u);
  ASSERT_EQ(s.process->rlimits.size(), 1u);
  EXPECT_EQ(s.process->rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(s.process->rlimits[0].soft, 1024u);
  ASSERT_TRUE(s.process->capabilities.has_value());
  EXPECT_EQ(s.process->capabilities->bounding.size(), 14u);
  EXPECT_TRUE(s.process->capabilities->inheritable.empty());
}

TEST(SpecDefault, NamespacesAndPaths) {
  Spec s = parse_spec(default_spec_json());
  for (const char* ns : {"pid", "network", "ipc", "uts", "mount", "cgroup", "time"})
    EXPECT_TRUE(s.linux.has_namespace(ns)) << ns;
  EXPECT_FALSE(s.linux.has_namespace("user"));
  EXPECT_EQ(s.linux.find_namespace("user"), nullptr);
  ASSERT_NE(s.linux.find_namespace("pid"), nullptr);
  EXPECT_EQ(s.linux.find_namespace("pid")->path, "");
  EXPECT_EQ(s.linux.masked_paths.size(), 12u);
  EXPECT_EQ(s.linux.readonly_paths.size(), 5u);
  EXPECT_FALSE(s.linux.resources.has_value());
}

TEST(SpecDefault, Mounts) {
  Spec s = parse_spec(default_spec_json());
  std::vector<std::string> dests;
  for (const auto& m : s.mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/dev/pts",
                                             "/dev/shm", "/dev/mqueue", "/sys"}));
  EXPECT_EQ(s.mounts[2].type, "devpts");
  EXPECT_EQ(s.mounts[2].options.back(), "gid=5");
  EXPECT_EQ(s.mounts[5].options.back(), "ro");
}

// ---- required fields and the top level -------------------------------------

TEST(SpecErrors, TopLevel) {
  EXPECT_EQ(error_of(Json::array()), "config: expected a JSON object");
  Json doc = default_spec_json();
  doc.erase("ociVersion");
  EXPECT_EQ(error_of(doc), "ociVersion: missing");
  EXPECT_EQ(error_of(with({{"ociVersion", 1}})), "ociVersion: expected a string");
  EXPECT_EQ(error_of(with({{"ociVersion", "2.0.0"}})),
            "ociVersion: unsupported version \"2.0.0\" (expected 1.x)");
  doc = default_spec_json();
  doc.erase("root");
  EXPECT_EQ(error_of(doc), "root: missing");
  EXPECT_EQ(error_of(with_at("/root/path", 7)), "root.path: expected a string");
  EXPECT_EQ(error_of(with_at("/root/readonly", "yes")),
            "root.readonly: expected a boolean");
}

TEST(SpecErrors, UnknownTopLevelKeysAreIgnored) {
  EXPECT_EQ(error_of(with({{"vendorExtension", {{"x", 1}}}})), "");
}

TEST(SpecErrors, ProcessIsOptional) {
  Json doc = default_spec_json();
  doc.erase("process");
  Spec s = parse_spec(doc);
  EXPECT_FALSE(s.process.has_value());
}

// ---- process ---------------------------------------------------------------

TEST(SpecErrors, ProcessArgs) {
  const char* expected = "process.args: expected a non-empty array of strings";
  EXPECT_EQ(error_of(with_at("/process/args", Json::array())), expected);
  EXPECT_EQ(error_of(with_at("/process/args", "sh")), expected);
  Json doc = default_spec_json();
  doc["process"].erase("args");
  EXPECT_EQ(error_of(doc), expected);
  EXPECT_EQ(error_of(with_at("/process/args", Json::array({"sh", 3}))),
            "process.args[1]: expected a string");
}

TEST(SpecErrors, ProcessCwdAndEnv) {
  EXPECT_EQ(error_of(with_at("/process/cwd", "tmp")),
            "process.cwd: must be an absolute path");
  Json doc = default_spec_json();
  doc["process"].erase("cwd");
  EXPECT_EQ(error_of(doc), "process.cwd: missing");
  EXPECT_EQ(error_of(with_at("/process/env/1", "NOEQUALS")),
            "process.env[1]: expected NAME=VALUE, got \"NOEQUALS\"");
  EXPECT_EQ(error_of(with_at("/process", 5)), "process: expected an object");
}

TEST(SpecErrors, ProcessUser) {
  EXPECT_EQ(error_of(with_at("/process/user/uid", -1)),
            "process.user.uid: expected an unsigned integer");
  EXPECT_EQ(error_of(with_at("/process/user/uid", "0")),
            "process.user.uid: expected an unsigned integer");
  EXPECT_EQ(error_of(with_at("/process/user/gid", 1.5)),
            "process.user.gid: expected an unsigned integer");
  EXPECT_EQ(error_of(with_at("/process/user/uid", 4294967296ULL)),
            "process.user.uid: out of range (at most 4294967295)");
  EXPECT_EQ(error_of(with_at("/process/user/additionalGids", Json::array({1, "x"}))),
            "process.user.additionalGids[1]: expected an unsigned integer");
  EXPECT_EQ(error_of(with_at("/process/user/umask", 01000)),
            "process.user.umask: out of range (at most 511)");

  Json doc = with({{"process", {{"user", {{"uid", 1000}, {"gid", 100},
                                           {"umask", 022},
                                           {"additionalGids", {5, 6}}}}}}});
  Spec s = parse_spec(doc);
  EXPECT_EQ(s.process->user.uid, 1000u);
  EXPECT_EQ(s.process->user.gid, 100u);
  EXPECT_EQ(s.process->user.umask, std::optional<mode_t>(022));
  EXPECT_EQ(s.process->user.additional_gids, (std::vector<gid_t>{5, 6}));
}

TEST(SpecErrors, Rlimits) {
  EXPECT_EQ(error_of(with_at("/process/rlimits/0/type", "RLIMIT_FOO")),
            "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"");
  EXPECT_EQ(error_of(with_at("/process/rlimits/0/soft", 2048)),
            "process.rlimits[0].soft: exceeds the hard limit (2048 > 1024)");
  Json doc = default_spec_json();
  doc["process"]["rlimits"].push_back(
      {{"type", "RLIMIT_NOFILE"}, {"soft", 1}, {"hard", 2}});
  EXPECT_EQ(error_of(doc),
            "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"");
  doc = default_spec_json();
  doc["process"]["rlimits"][0].erase("hard");
  EXPECT_EQ(error_of(doc), "process.rlimits[0].hard: missing");

  doc = default_spec_json();
  doc["process"]["rlimits"].push_back(
      {{"type", "RLIMIT_CORE"}, {"soft", 0}, {"hard", 18446744073709551615ULL}});
  Spec s = parse_spec(doc);
  EXPECT_EQ(s.process->rlimits[1].resource, RLIMIT_CORE);
  EXPECT_EQ(s.process->rlimits[1].hard, RLIM_INFINITY);
}

TEST(SpecErrors, Capabilities) {
  EXPECT_EQ(error_of(with_at("/process/capabilities/effective/2", "CAP_FOO")),
            "process.capabilities.effective[2]: unknown capability \"CAP_FOO\"");
  EXPECT_EQ(error_of(with_at("/process/capabilities/ambient", "CAP_KILL")),
            "process.capabilities.ambient: expected an array");
  EXPECT_EQ(error_of(with_at("/process/capabilities/ambient",
                             Json::array({"CAP_CHECKPOINT_RESTORE", "CAP_BPF"}))),
            "");
}

TEST(SpecErrors, ProcessMisc) {
  EXPECT_EQ(error_of(with_at("/process/oomScoreAdj", 1001)),
            "process.oomScoreAdj: must be between -1000 and 1000");
  EXPECT_EQ(error_of(with_at("/process/consoleSize", {{"height", 24}})),
            "process.consoleSize.width: missing");
  EXPECT_EQ(error_of(with_at("/process/terminal", 1)),
            "process.terminal: expected a boolean");
  EXPECT_EQ(error_of(with_at("/process/apparmorProfile", false)),
            "process.apparmorProfile: expected a string");

  Json doc = with({{"process", {{"consoleSize", {{"height", 24}, {"width", 80}}},
                                {"oomScoreAdj", -1000},
                                {"selinuxLabel", "system_u:system_r:svirt_lxc_net_t:s0"}}}});
  Spec s = parse_spec(doc);
  EXPECT_EQ(s.process->console_height, 24u);
  EXPECT_EQ(s.process->console_width, 80u);
  EXPECT_EQ(s.process->oom_score_adj, std::optional<int>(-1000));
  EXPECT_EQ(s.process->selinux_label, "system_u:system_r:svirt_lxc_net_t:s0");
}

// ---- mounts, hooks, annotations, hostname ------------------------------------

TEST(SpecErrors, Mounts) {
  Json doc = default_spec_json();
  doc["mounts"][3]["destination"] = "dev/shm";
  EXPECT_EQ(error_of(doc), "mounts[3].destination: must be an absolute path");
  doc = default_spec_json();
  doc["mounts"][0].erase("destination");
  EXPECT_EQ(error_of(doc), "mounts[0].destination: missing");
  EXPECT_EQ(error_of(with_at("/mounts/1/options/0", true)),
            "mounts[1].options[0]: expected a string");
  EXPECT_EQ(error_of(with({{"mounts", "x"}})), "mounts: expected an array");
}

TEST(SpecErrors, Hooks) {
  Json hook = {{"path", "/bin/true"}, {"args", {"true", "x"}}, {"timeout", 5}};
  Spec s = parse_spec(with({{"hooks", {{"createRuntime", {hook}}}}}));
  ASSERT_EQ(s.hooks.create_runtime.size(), 1u);
  EXPECT_EQ(s.hooks.create_runtime[0].path, "/bin/true");
  EXPECT_EQ(s.hooks.create_runtime[0].timeout, std::optional<int>(5));

  hook["timeout"] = 0;
  EXPECT_EQ(error_of(with({{"hooks", {{"poststop", {hook}}}}})),
            "hooks.poststop[0].timeout: must be greater than zero");
  hook["timeout"] = 1;
  hook["path"] = "true";
  EXPECT_EQ(error_of(with({{"hooks", {{"prestart", {hook}}}}})),
            "hooks.prestart[0].path: must be an absolute path");
}

TEST(SpecErrors, Annotations) {
  Spec s = parse_spec(with({{"annotations", {{"org.example.key", "v"}}}}));
  EXPECT_EQ(s.annotations.at("org.example.key"), "v");
  EXPECT_EQ(error_of(with({{"annotations", {{"org.example.key", 1}}}})),
            "annotations[\"org.example.key\"]: expected a string");
}

TEST(SpecErrors, HostnameRequiresUts) {
  Json doc = default_spec_json();
  doc["linux"]["namespaces"].erase(3);  // uts
  EXPECT_EQ(error_of(doc), "hostname: requires a new uts namespace");
  doc.erase("hostname");
  EXPECT_EQ(error_of(doc), "");
  doc["domainname"] = "example.org";
  EXPECT_EQ(error_of(doc), "domainname: requires a new uts namespace");
}

// ---- linux -----------------------------------------------------------------

TEST(SpecErrors, Namespaces) {
  EXPECT_EQ(error_of(with_at("/linux/namespaces/2/type", "nett")),
            "linux.namespaces[2].type: unknown namespace \"nett\"");
  Json doc = default_spec_json();
  doc["linux"]["namespaces"][3]["type"] = "pid";
  EXPECT_EQ(error_of(doc), "linux.namespaces[3].type: duplicate namespace \"pid\"");
  EXPECT_EQ(error_of(with_at("/linux/namespaces/0/path", "proc/1/ns/pid")),
            "linux.namespaces[0].path: must be an absolute path");
  EXPECT_EQ(error_of(with_at("/linux/namespaces", {{"type", "pid"}})),
            "linux.namespaces: expected an array");

  Spec s = parse_spec(with_at("/linux/namespaces/1/path", "/var/run/netns/x"));
  EXPECT_EQ(s.linux.find_namespace("network")->path, "/var/run/netns/x");
}

TEST(SpecErrors, IdMappings) {
  Json mapping = {{"containerID", 0}, {"hostID", 100000}, {"size", 65536}};
  Spec s = parse_spec(with({{"linux", {{"uidMappings", {mapping}}}}}));
  ASSERT_EQ(s.linux.uid_mappings.size(), 1u);
  EXPECT_EQ(s.linux.uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(s.linux.uid_mappings[0].size, 65536u);
  mapping.erase("hostID");
  EXPECT_EQ(error_of(with({{"linux", {{"gidMappings", {mapping}}}}})),
            "linux.gidMappings[0].hostID: missing");
}

TEST(SpecErrors, Devices) {
  Json dev = {{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10},
              {"minor", 229}, {"fileMode", 0666}, {"uid", 0}, {"gid", 0}};
  Spec s = parse_spec(with({{"linux", {{"devices", {dev}}}}}));
  ASSERT_EQ(s.linux.devices.size(), 1u);
  EXPECT_EQ(s.linux.devices[0].type, 'c');
  EXPECT_EQ(s.linux.devices[0].major, 10);
  EXPECT_EQ(s.linux.devices[0].file_mode, std::optional<mode_t>(0666));

  Json bad = dev;
  bad["type"] = "x";
  EXPECT_EQ(error_of(with({{"linux", {{"devices", {bad}}}}})),
            "linux.devices[0].type: unknown device type \"x\" (expected c, b, u or p)");
  bad = dev;
  bad.erase("minor");
  EXPECT_EQ(error_of(with({{"linux", {{"devices", {bad}}}}})),
            "linux.devices[0].minor: missing");
  bad = dev;
  bad["path"] = "fuse";
  EXPECT_EQ(error_of(with({{"linux", {{"devices", {bad}}}}})),
            "linux.devices[0].path: must be an absolute path");
  Json fifo = {{"path", "/dev/myfifo"}, {"type", "p"}};
  EXPECT_EQ(error_of(with({{"linux", {{"devices", {fifo}}}}})), "");
}

TEST(SpecErrors, LinuxMisc) {
  EXPECT_EQ(error_of(with_at("/linux/maskedPaths/0", "proc/acpi")),
            "linux.maskedPaths[0]: must be an absolute path");
  EXPECT_EQ(error_of(with_at("/linux/rootfsPropagation", "sideways")),
            "linux.rootfsPropagation: unknown propagation \"sideways\"");
  EXPECT_EQ(error_of(with_at("/linux/sysctl", {{"net.ipv4.ip_forward", 1}})),
            "linux.sysctl[\"net.ipv4.ip_forward\"]: expected a string");
  EXPECT_EQ(error_of(with_at("/linux/personality", {{"domain", "LINUX64"}})),
            "linux.personality.domain: unknown domain \"LINUX64\" (expected LINUX or LINUX32)");
  EXPECT_EQ(error_of(with_at("/linux/cgroupsPath", 3)),
            "linux.cgroupsPath: expected a string");
  EXPECT_EQ(error_of(with_at("/linux", "x")), "linux: expected an object");

  Spec s = parse_spec(with({{"linux", {{"rootfsPropagation", "rslave"},
                                       {"personality", {{"domain", "LINUX32"}}},
                                       {"intelRdt", {{"closID", "x"}}},
                                       {"sysctl", {{"kernel.msgmax", "8192"}}},
                                       {"mountLabel", "label"}}}}));
  EXPECT_EQ(s.linux.rootfs_propagation, "rslave");
  EXPECT_EQ(s.linux.personality, std::optional<std::string>("LINUX32"));
  EXPECT_TRUE(s.linux.has_intel_rdt);
  EXPECT_EQ(s.linux.sysctl.at("kernel.msgmax"), "8192");
  EXPECT_EQ(s.linux.mount_label, "label");
}

TEST(SpecErrors, TimeOffsets) {
  Spec s = parse_spec(with_at("/linux/timeOffsets",
                              {{"monotonic", {{"secs", -5}, {"nanosecs", 7}}}}));
  EXPECT_EQ(s.linux.time_offsets.at("monotonic"), std::make_pair(int64_t{-5}, 7u));
  EXPECT_EQ(error_of(with_at("/linux/timeOffsets", {{"realtime", {{"secs", 1}}}})),
            "linux.timeOffsets.realtime: unknown clock \"realtime\" (expected monotonic or boottime)");
  EXPECT_EQ(error_of(with_at("/linux/timeOffsets",
                             {{"boottime", {{"nanosecs", 1000000000}}}})),
            "linux.timeOffsets.boottime.nanosecs: out of range (at most 999999999)");
  Json doc = with_at("/linux/timeOffsets", {{"boottime", {{"secs", 1}}}});
  doc["linux"]["namespaces"].erase(6);  // time
  EXPECT_EQ(error_of(doc), "linux.timeOffsets: requires a time namespace");
}

// ---- linux.resources -----------------------------------------------------------

TEST(SpecResources, Network) {
  Json net = {{"classID", 1048577},
              {"priorities", Json::array({{{"name", "lo"}, {"priority", 1}}, {{"name", "eth0"}, {"priority", 5}}})}};
  Spec s = parse_spec(with_at("/linux/resources", Json{{"network", net}}));
  ASSERT_TRUE(s.linux.resources.has_value());
  EXPECT_EQ(s.linux.resources->net_class_id, 1048577u);
  EXPECT_EQ(s.linux.resources->net_priorities,
            (std::vector<std::pair<std::string, uint32_t>>{{"lo", 1}, {"eth0", 5}}));
  EXPECT_FALSE(s.linux.resources->empty());
  // Each priority is a line of net_prio.ifpriomap: no second line in a name.
  net["priorities"][1]["name"] = "eth0 9\nlo";
  EXPECT_EQ(error_of(with_at("/linux/resources", Json{{"network", net}})),
            "linux.resources.network.priorities[1].name: not an interface name: \"eth0 9\\nlo\"");
}


TEST(SpecResources, RoundTrip) {
  Json res = {
      {"devices", {{{"allow", false}, {"access", "rwm"}},
                   {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3},
                    {"access", "rw"}}}},
      {"memory", {{"limit", 536870912}, {"reservation", 268435456},
                  {"swap", -1}, {"kernel", -1}, {"kernelTCP", 1048576},
                  {"swappiness", 60}, {"disableOOMKiller", true},
                  {"useHierarchy", false}}},
      {"cpu", {{"shares", 1024}, {"quota", 50000}, {"period", 100000},
               {"realtimeRuntime", 950000}, {"realtimePeriod", 1000000},
               {"cpus", "0-3"}, {"mems", "0"}, {"idle", 1}}},
      {"pids", {{"limit", 512}}},
      {"blockIO", {{"weight", 500}, {"leafWeight", 300},
                   {"weightDevice", {{{"major", 8}, {"minor", 0}, {"weight", 600}}}},
                   {"throttleReadBpsDevice", {{{"major", 8}, {"minor", 0}, {"rate", 1048576}}}},
                   {"throttleWriteBpsDevice", {{{"major", 8}, {"minor", 16}, {"rate", 2097152}}}},
                   {"throttleReadIOPSDevice", {{{"major", 8}, {"minor", 0}, {"rate", 100}}}},
                   {"throttleWriteIOPSDevice", {{{"major", 8}, {"minor", 0}, {"rate", 200}}}}}},
      {"hugepageLimits", {{{"pageSize", "2MB"}, {"limit", 209715200}}}},
      {"unified", {{"memory.high", "max"}, {"io.weight", "default 100"}}},
  };
  Spec s = parse_spec(with_at("/linux/resources", res));
  ASSERT_TRUE(s.linux.resources.has_value());
  const Resources& r = *s.linux.resources;
  EXPECT_FALSE(r.empty());

  ASSERT_EQ(r.devices.size(), 2u);
  EXPECT_FALSE(r.devices[0].allow);
  EXPECT_EQ(r.devices[0].type, "a");
  EXPECT_FALSE(r.devices[0].major.has_value());
  EXPECT_TRUE(r.devices[1].allow);
  EXPECT_EQ(r.devices[1].type, "c");
  EXPECT_EQ(r.devices[1].major, std::optional<int64_t>(1));
  EXPECT_EQ(r.devices[1].minor, std::optional<int64_t>(3));
  EXPECT_EQ(r.devices[1].access, "rw");

  EXPECT_EQ(r.memory_limit, std::optional<int64_t>(536870912));
  EXPECT_EQ(r.memory_reservation, std::optional<int64_t>(268435456));
  EXPECT_EQ(r.memory_swap, std::optional<int64_t>(-1));
  EXPECT_EQ(r.memory_kernel, std::optional<int64_t>(-1));
  EXPECT_EQ(r.memory_kernel_tcp, std::optional<int64_t>(1048576));
  EXPECT_EQ(r.memory_swappiness, std::optional<uint64_t>(60));
  EXPECT_EQ(r.disable_oom_killer, std::optional<bool>(true));
  EXPECT_EQ(r.use_hierarchy, std::optional<bool>(false));

  EXPECT_EQ(r.cpu_shares, std::optional<uint64_t>(1024));
  EXPECT_EQ(r.cpu_quota, std::optional<int64_t>(50000));
  EXPECT_EQ(r.cpu_period, std::optional<uint64_t>(100000));
  EXPECT_EQ(r.cpu_realtime_runtime, std::optional<int64_t>(950000));
  EXPECT_EQ(r.cpu_realtime_period, std::optional<uint64_t>(1000000));
  EXPECT_EQ(r.cpu_cpus, std::optional<std::string>("0-3"));
  EXPECT_EQ(r.cpu_mems, std::optional<std::string>("0"));
  EXPECT_EQ(r.cpu_idle, std::optional<int64_t>(1));

  EXPECT_EQ(r.pids_limit, std::optional<int64_t>(512));

  EXPECT_EQ(r.blkio_weight, std::optional<uint16_t>(500));
  EXPECT_EQ(r.blkio_leaf_weight, std::optional<uint16_t>(300));
  ASSERT_EQ(r.blkio_weight_device.size(), 1u);
  EXPECT_EQ(r.blkio_weight_device[0].major, 8);
  EXPECT_EQ(r.blkio_weight_device[0].weight, std::optional<uint16_t>(600));
  EXPECT_FALSE(r.blkio_weight_device[0].leaf_weight.has_value());
  ASSERT_EQ(r.throttle_read_bps.size(), 1u);
  EXPECT_EQ(r.throttle_read_bps[0].rate, 1048576u);
  ASSERT_EQ(r.throttle_write_bps.size(), 1u);
  EXPECT_EQ(r.throttle_write_bps[0].minor, 16);
  EXPECT_EQ(r.throttle_write_bps[0].rate, 2097152u);
  ASSERT_EQ(r.throttle_read_iops.size(), 1u);
  EXPECT_EQ(r.throttle_read_iops[0].rate, 100u);
  ASSERT_EQ(r.throttle_write_iops.size(), 1u);
  EXPECT_EQ(r.throttle_write_iops[0].rate, 200u);

  EXPECT_EQ(r.hugepage_limits.at("2MB"), 209715200u);
  EXPECT_EQ(r.unified.at("memory.high"), "max");
  EXPECT_EQ(r.unified.at("io.weight"), "default 100");
}

TEST(SpecResources, Empty) {
  Resources r;
  EXPECT_TRUE(r.empty());
  Spec s = parse_spec(with_at("/linux/resources", Json::object()));
  ASSERT_TRUE(s.linux.resources.has_value());
  EXPECT_TRUE(s.linux.resources->empty());
  r.pids_limit = 10;
  EXPECT_FALSE(r.empty());
  Resources u;
  u.unified["cpu.max"] = "max";
  EXPECT_FALSE(u.empty());
  Resources t;
  t.throttle_write_iops.push_back({});
  EXPECT_FALSE(t.empty());
}

TEST(SpecResources, Errors) {
  EXPECT_EQ(error_of(with_at("/linux/resources/memory/limit", -2)),
            "linux.resources.memory.limit: must be at least -1");
  EXPECT_EQ(error_of(with_at("/linux/resources/memory/limit", 18446744073709551615ULL)),
            "linux.resources.memory.limit: out of range (at most 9223372036854775807)");
  EXPECT_EQ(error_of(with_at("/linux/resources/memory/limit", "1G")),
            "linux.resources.memory.limit: expected an integer");
  EXPECT_EQ(error_of(with_at("/linux/resources/memory/swappiness", 101)),
            "linux.resources.memory.swappiness: out of range (at most 100)");
  EXPECT_EQ(error_of(with_at("/linux/resources/memory/disableOOMKiller", "true")),
            "linux.resources.memory.disableOOMKiller: expected a boolean");
  EXPECT_EQ(error_of(with_at("/linux/resources/cpu/shares", -1)),
            "linux.resources.cpu.shares: expected an unsigned integer");
  EXPECT_EQ(error_of(with_at("/linux/resources/cpu/cpus", 3)),
            "linux.resources.cpu.cpus: expected a string");
  EXPECT_EQ(error_of(with_at("/linux/resources/pids", Json::object())),
            "linux.resources.pids.limit: missing");
  EXPECT_EQ(error_of(with_at("/linux/resources/blockIO/weight", 70000)),
            "linux.resources.blockIO.weight: out of range (at most 65535)");
  EXPECT_EQ(error_of(with_at("/linux/resources/blockIO/throttleReadBpsDevice",
                             {{{"major", 8}, {"minor", 0}}})),
            "linux.resources.blockIO.throttleReadBpsDevice[0].rate: missing");
  EXPECT_EQ(error_of(with_at("/linux/resources/hugepageLimits",
                             {{{"pageSize", "2MB"}, {"limit", 1}},
                              {{"pageSize", "2MB"}, {"limit", 2}}})),
            "linux.resources.hugepageLimits[1].pageSize: duplicate page size \"2MB\"");
  EXPECT_EQ(error_of(with_at("/linux/resources/devices", {{{"allow", true}, {"access", "rwx"}}})),
            "linux.resources.devices[0].access: expected a combination of r, w and m, got \"rwx\"");
  EXPECT_EQ(error_of(with_at("/linux/resources/devices", {{{"access", "r"}}})),
            "linux.resources.devices[0].allow: missing");
  EXPECT_EQ(error_of(with_at("/linux/resources/devices", {{{"allow", true}, {"type", "u"}}})),
            "linux.resources.devices[0].type: unknown device type \"u\" (expected a, b or c)");
  EXPECT_EQ(error_of(with_at("/linux/resources/unified", {{"memory.max", 5}})),
            "linux.resources.unified[\"memory.max\"]: expected a string");
}

// ---- linux.seccomp -----------------------------------------------------------

Json seccomp_profile() {
  return {
      {"defaultAction", "SCMP_ACT_ERRNO"},
      {"defaultErrnoRet", 1},
      {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
      {"flags", {"SECCOMP_FILTER_FLAG_LOG"}},
      {"syscalls",
       {{{"names", {"read", "write"}}, {"action", "SCMP_ACT_ALLOW"}},
        {{"names", {"personality"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"args", {{{"index", 0}, {"value", 8}, {"op", "SCMP_CMP_EQ"}},
                   {{"index", 1}, {"value", 255}, {"valueTwo", 4}, {"op", "SCMP_CMP_MASKED_EQ"}}}}},
        {{"names", {"mount"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}}}},
  };
}

TEST(SpecSeccomp, Parses) {
  Spec s = parse_spec(with_at("/linux/seccomp", seccomp_profile()));
  ASSERT_TRUE(s.linux.seccomp.has_value());
  const Seccomp& sc = *s.linux.seccomp;
  EXPECT_EQ(sc.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(sc.default_errno_ret, std::optional<unsigned>(1));
  EXPECT_EQ(sc.architectures.size(), 2u);
  EXPECT_EQ(sc.flags, std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG"});
  ASSERT_EQ(sc.syscalls.size(), 3u);
  EXPECT_EQ(sc.syscalls[0].names, (std::vector<std::string>{"read", "write"}));
  ASSERT_EQ(sc.syscalls[1].args.size(), 2u);
  EXPECT_EQ(sc.syscalls[1].args[1].index, 1u);
  EXPECT_EQ(sc.syscalls[1].args[1].value, 255u);
  EXPECT_EQ(sc.syscalls[1].args[1].value_two, 4u);
  EXPECT_EQ(sc.syscalls[1].args[1].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(sc.syscalls[2].errno_ret, std::optional<unsigned>(38));
}

TEST(SpecSeccomp, Errors) {
  auto err = [](const std::string& ptr, const Json& value) {
    Json sc = seccomp_profile();
    sc[Json::json_pointer(ptr)] = value;
    return error_of(with_at("/linux/seccomp", sc));
  };
  EXPECT_EQ(err("/defaultAction", "SCMP_ACT_FOO"),
            "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_FOO\"");
  EXPECT_EQ(err("/defaultAction", "SCMP_ACT_ALLOW"),
            "linux.seccomp.defaultErrnoRet: not allowed with action SCMP_ACT_ALLOW");
  EXPECT_EQ(err("/architectures/1", "SCMP_ARCH_Z80"),
            "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"");
  EXPECT_EQ(err("/flags/0", "SECCOMP_FILTER_FLAG_NOPE"),
            "linux.seccomp.flags[0]: unknown seccomp flag \"SECCOMP_FILTER_FLAG_NOPE\"");
  EXPECT_EQ(err("/syscalls/0/names", Json::array()),
            "linux.seccomp.syscalls[0].names: expected a non-empty array of strings");
  EXPECT_EQ(err("/syscalls/1/args/0/op", "SCMP_CMP_XOR"),
            "linux.seccomp.syscalls[1].args[0].op: unknown operator \"SCMP_CMP_XOR\"");
  EXPECT_EQ(err("/syscalls/1/args/0/index", 6),
            "linux.seccomp.syscalls[1].args[0].index: out of range (at most 5)");
  EXPECT_EQ(err("/syscalls/1/args/0/value", -1),
            "linux.seccomp.syscalls[1].args[0].value: expected an unsigned integer");
  EXPECT_EQ(err("/syscalls/0/errnoRet", 1),
            "linux.seccomp.syscalls[0].errnoRet: not allowed with action SCMP_ACT_ALLOW");
  EXPECT_EQ(err("/syscalls/0/action", "SCMP_ACT_NOTIFY"),
            "linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used");
  Json sc = seccomp_profile();
  sc.erase("defaultErrnoRet");
  sc["defaultAction"] = "SCMP_ACT_NOTIFY";
  EXPECT_EQ(error_of(with_at("/linux/seccomp", sc)),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
}

// ---- helpers ---------------------------------------------------------------

TEST(SpecHelpers, NamespaceFlag) {
  EXPECT_EQ(namespace_flag("pid"), CLONE_NEWPID);
  EXPECT_EQ(namespace_flag("network"), CLONE_NEWNET);
  EXPECT_EQ(namespace_flag("mount"), CLONE_NEWNS);
  EXPECT_EQ(namespace_flag("ipc"), CLONE_NEWIPC);
  EXPECT_EQ(namespace_flag("uts"), CLONE_NEWUTS);
  EXPECT_EQ(namespace_flag("user"), CLONE_NEWUSER);
  EXPECT_EQ(namespace_flag("cgroup"), CLONE_NEWCGROUP);
  EXPECT_EQ(namespace_flag("time"), 0x80);
  EXPECT_EQ(namespace_flag("net"), 0);
  EXPECT_EQ(namespace_flag(""), 0);
}

// ---- load_spec_file ------------------------------------------------------------

class SpecFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spec_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/config.json";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  void write(const std::string& text) { std::ofstream(path_) << text; }
  std::string load_error() {
    try {
      load_spec_file(path_);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  std::string dir_, path_;
};

TEST_F(SpecFile, LoadsDefault) {
  write(default_spec_json().dump(2));
  Spec s = load_spec_file(path_);
  EXPECT_EQ(s.hostname, "mult");
}

TEST_F(SpecFile, ErrorsNameTheFile) {
  write(with_at("/linux/namespaces/2/type", "nett").dump());
  EXPECT_EQ(load_error(),
            path_ + ": linux.namespaces[2].type: unknown namespace \"nett\"");
}

TEST_F(SpecFile, InvalidJson) {
  write("{\"ociVersion\": ");
  std::string err = load_error();
  EXPECT_EQ(err.rfind(path_ + ": invalid JSON: ", 0), 0u) << err;
  EXPECT_EQ(err.find("[json.exception"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST_F(SpecFile, Missing) {
  std::string err = load_error();
  EXPECT_EQ(err, path_ + ": No such file or directory");
}

}  // namespace
}  // namespace mult
