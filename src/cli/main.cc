// mult: instances rooted at their own init, from the command line.
#include <cstdio>
#include <cstring>
#include <map>

#include "cli.hh"
#include "error.hh"

namespace mult::cli {

void print_usage(FILE* to) {
  std::fputs(
      "usage: mult [--root DIR] COMMAND [OPTIONS] [ARGS]\n"
      "\n"
      "Commands:\n"
      "  run [OPTIONS] [--] CMD [ARG...]   run CMD in a new instance, then remove it\n"
      "      --name NAME                   name it (default: a random name)\n"
      "      -d, --detach                  start it and print its name\n"
      "      --keep                        keep its definition after it ends\n"
      "      -t, --tty                     give CMD a terminal (made inside the instance)\n"
      "  create NAME [OPTIONS] [-- CMD...] define a persistent instance\n"
      "                                    (no CMD: boot it, running /etc/rc)\n"
      "  start NAME                        start a defined instance\n"
      "  stop [-t SECONDS] NAME            stop it: stop command, SIGTERM, SIGKILL\n"
      "  restart [-t SECONDS] NAME         stop and start it\n"
      "  rm [-f] NAME...                   remove instances (-f: kill a running one)\n"
      "  exec NAME [-u USER] [-w DIR] [-e K=V] [-t] [--] CMD [ARG...]\n"
      "                                    run CMD inside a running instance\n"
      "  ls [--format table|json]          list instances\n"
      "  inspect NAME                       spec and state as JSON\n"
      "  gc                                clean up instances that ended on their own\n"
      "  stats [--no-stream] [--format table|json] [NAME...]\n"
      "                                    live CPU, memory, pids, block and network I/O\n"
      "  update NAME [LIMITS]              change the limits of a running instance\n"
      "  net ls [--format table|json]      list networks\n"
      "  net create NAME --subnet CIDR [--subnet6 CIDR]  make a bridged network\n"
      "  net rm NAME...                    remove networks (not while in use)\n"
      "  image ls [--format table|json]    list images\n"
      "  image rm NAME...                  remove images\n"
      "\n"
      "Instance options (run, create):\n"
      "  --rootfs DIR           root file system (default: the busybox image)\n"
      "  --image NAME           root file system from image NAME\n"
      "  --hostname NAME        host name (default: the instance name)\n"
      "  --bind SRC:DST[:ro]    bind mount a host path\n"
      "  --tmpfs DST            mount a tmpfs\n"
      "  -e, --env K=V          set an environment variable\n"
      "  -u, --user UID[:GID]   run as this user (or a name from the image)\n"
      "  -w, --workdir DIR      working directory\n"
      "  --read-only            mount the root file system read-only\n"
      "  --init CMD             run CMD as PID 1 instead of mult-init\n"
      "  --stop-timeout SECONDS grace between SIGTERM and SIGKILL (default 10)\n"
      "  --stop-command CMD     shell command run first when stopping\n"
      "  --cap-add CAP|ALL      grant a capability beyond the default set\n"
      "  --cap-drop CAP|ALL     take a capability away\n"
      "  --privileged           every capability, no seccomp filter, no masked paths\n"
      "  --allow-new-privs      let set-uid programs gain privileges (no no_new_privs)\n"
      "  --seccomp FILE|unconfined  an OCI seccomp profile instead of the default\n"
      "  --userns[=auto|HOSTID[:SIZE]]  a user namespace: root inside is an\n"
      "                         unprivileged ID outside (/etc/subuid, a leased\n"
      "                         range of its own, or the range given)\n"
      "\n"
      "Network (run, create):\n"
      "  --net MODE             none (default: loopback only), bridge[:NET] (a veth\n"
      "                         on the network's bridge, default mult0), host (the\n"
      "                         host's own stack), ns:PATH, instance:NAME (share it)\n"
      "  --ip ADDR              a static address on the bridge's subnet\n"
      "  --mac MAC, --mtu N     eth0's hardware address and MTU\n"
      "  --dns SERVER           name server for /etc/resolv.conf\n"
      "  --add-host NAME:ADDR   an /etc/hosts entry\n"
      "  --link NAME            an /etc/hosts entry for another bridged instance\n"
      "  -p, --publish HOSTPORT:PORT[/tcp|/udp]  forward a host port (nftables DNAT)\n"
      "  --nat                  masquerade its outbound traffic\n"
      "\n"
      "Limits (run, create, update):\n"
      "  -m, --memory SIZE      memory limit (256M, 1G)\n"
      "  --memory-swap SIZE     memory plus swap limit (-1: unlimited)\n"
      "  --memory-reservation SIZE  soft limit (memory.low)\n"
      "  --cpus N               CPU time, in CPUs (0.5: half of one)\n"
      "  --cpu-shares N         relative weight (2..262144, as cgroup v1 shares)\n"
      "  --cpuset-cpus LIST     CPUs it may run on (0-1,3)\n"
      "  --cpuset-mems LIST     memory nodes it may use\n"
      "  --pids-limit N         most processes at once\n"
      "  --io-weight N          block I/O weight (10..1000)\n"
      "  --device-read-bps DEV:RATE   read rate limit on a block device (and\n"
      "  --device-write-bps, --device-read-iops, --device-write-iops)\n"
      "  --hugetlb PAGESIZE:LIMIT     huge page limit (2MB:64M)\n"
      "\n"
      "Global options:\n"
      "  --root DIR             keep all state under DIR (default /var/lib/mult, /run/mult)\n"
      "  -h, --help             this help\n"
      "  -V, --version          version\n"
      "\n"
      "See mult(8).\n",
      to);
}

}  // namespace mult::cli

int main(int argc, char** argv) {
  using namespace mult;
  using namespace mult::cli;
  Args args(argv + 1, argv + argc);
  std::string root;
  size_t i = 0;
  for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      print_usage(stdout);
      return kExitOk;
    } else if (a == "-V" || a == "--version") {
      std::printf("mult version %s\nspec: %s\n", MULT_VERSION, kOciVersion);
      return kExitOk;
    } else if (a == "--root" && i + 1 < args.size()) {
      root = args[++i];
    } else if (a.rfind("--root=", 0) == 0) {
      root = a.substr(7);
    } else {
      std::fprintf(stderr, "mult: unknown option %s (see mult --help)\n", a.c_str());
      return kExitUsage;
    }
  }
  if (i >= args.size()) {
    print_usage(stderr);
    return kExitUsage;
  }
  static const std::map<std::string, int (*)(Engine&, const Args&)> commands = {
      {"run", cmd_run},       {"create", cmd_create}, {"start", cmd_start},
      {"stop", cmd_stop},     {"restart", cmd_restart}, {"rm", cmd_rm},
      {"exec", cmd_exec},     {"ls", cmd_ls},         {"inspect", cmd_inspect},
      {"gc", cmd_gc},         {"image", cmd_image},   {"stats", cmd_stats},
      {"update", cmd_update}, {"net", cmd_net},
  };
  std::string command = args[i];
  if (command == "help") {
    print_usage(stdout);
    return kExitOk;
  }
  auto it = commands.find(command);
  if (it == commands.end()) {
    std::fprintf(stderr, "mult: unknown command \"%s\" (see mult --help)\n", command.c_str());
    return kExitUsage;
  }
  Args rest(args.begin() + long(i) + 1, args.end());
  for (size_t k = 0; k < rest.size(); ++k)
    if (rest[k] == "--help" || rest[k] == "-h") {
      // After run's or exec's first word it may belong to CMD (`mult run
      // -- ls --help`), so there only `mult run --help` asks for help.
      if (k > 0 && (command == "exec" || command == "run")) break;
      print_usage(stdout);
      return kExitOk;
    }
  try {
    Engine engine{Store(root)};
    return it->second(engine, rest);
  } catch (const Error& e) {
    std::fprintf(stderr, "mult: %s\n", e.what());
    return e.code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mult: %s\n", e.what());
    return kExitFailure;
  }
}
