// run, create, start, stop, restart, rm, exec.
#include <cstdio>
#include <optional>

#include "cli.hh"
#include "error.hh"

namespace mult::cli {

int cmd_run(Engine& e, const Args& a) {
  ArgReader r(a, "run");
  InstanceOptions o;
  RunOptions run;
  std::optional<std::string> name;
  while (r.at_option()) {
    if (read_instance_option(r, o)) continue;
    if (r.is("--name")) name = r.value();
    else if (r.is("--detach", "-d")) run.detach = true;
    else if (r.is("--keep")) run.keep = true;
    else if (r.is("--tty", "-t")) o.tty = true;
    else r.unknown();
  }
  o.command = r.rest();
  if (o.command.empty() && o.init.empty()) throw Error("run: missing command", kExitUsage);
  if (!name) name = Engine::random_name();
  else check_name(*name);  // also an explicitly empty one
  Json spec = build_spec(e.store(), *name, o);
  int status = e.run(*name, spec, run);
  if (run.detach) std::printf("%s\n", name->c_str());
  return status;
}

int cmd_create(Engine& e, const Args& a) {
  ArgReader r(a, "create");
  InstanceOptions o;
  std::optional<std::string> name;
  // jail(8) style: the name comes first, options after it.
  if (!r.at_option()) name = r.next_word("instance name");
  while (r.at_option()) {
    if (!read_instance_option(r, o)) r.unknown();
  }
  if (!name) name = r.next_word("instance name");
  check_name(*name);
  o.command = r.rest();
  e.create(*name, build_spec(e.store(), *name, o));
  return kExitOk;
}

static std::string only_name(ArgReader& r) {
  std::string name = r.next_word("instance name");
  if (!r.done()) throw Error("unexpected argument \"" + r.peek() + "\"", kExitUsage);
  return name;
}

int cmd_start(Engine& e, const Args& a) {
  ArgReader r(a, "start");
  while (r.at_option()) r.unknown();
  e.start(only_name(r));
  return kExitOk;
}

static std::optional<int> read_timeout(ArgReader& r) {
  std::optional<int> timeout;
  while (r.at_option()) {
    if (r.is("--time", "-t")) timeout = r.int_value();
    else r.unknown();
  }
  return timeout;
}

int cmd_stop(Engine& e, const Args& a) {
  ArgReader r(a, "stop");
  auto timeout = read_timeout(r);
  e.stop(only_name(r), timeout);
  return kExitOk;
}

int cmd_restart(Engine& e, const Args& a) {
  ArgReader r(a, "restart");
  auto timeout = read_timeout(r);
  std::string name = only_name(r);
  try {
    e.stop(name, timeout);
  } catch (const Error& err) {
    // Restarting a stopped instance starts it.
    if (std::string(err.what()).find("not running") == std::string::npos) throw;
  }
  e.start(name);
  return kExitOk;
}

int cmd_rm(Engine& e, const Args& a) {
  ArgReader r(a, "rm");
  bool force = false;
  while (r.at_option()) {
    if (r.is("--force", "-f")) force = true;
    else r.unknown();
  }
  Args names = r.rest();
  if (names.empty()) throw Error("rm: missing instance name", kExitUsage);
  // All killed first, then removed one by one: the kernel tears their
  // namespaces down together meanwhile (a network namespace's devices go
  // after an RCU barrier: one for many instead of one each, some 20 ms).
  if (force && names.size() > 1)
    for (const auto& n : names) {
      try {
        e.kill(n);
      } catch (const Error&) {
        // remove() below reports it
      }
    }
  int status = kExitOk;
  for (const auto& n : names) {
    try {
      e.remove(n, force);
    } catch (const Error& err) {
      if (names.size() == 1) throw;
      std::fprintf(stderr, "mult: %s\n", err.what());
      status = err.code();
    }
  }
  return status;
}

int cmd_exec(Engine& e, const Args& a) {
  ArgReader r(a, "exec");
  ExecRequest req;
  std::optional<std::string> name;
  if (!r.at_option()) name = r.next_word("instance name");
  while (r.at_option()) {
    if (r.is("--user", "-u")) req.user = r.value();
    else if (r.is("--workdir", "-w")) req.cwd = r.value();
    else if (r.is("--env", "-e")) req.env.push_back(r.value());
    else if (r.is("--tty", "-t")) req.tty = true;
    else r.unknown();
  }
  if (!name) name = r.next_word("instance name");
  req.args = r.rest();
  if (req.args.empty()) throw Error("exec: missing command", kExitUsage);
  for (const auto& kv : req.env)
    if (kv.find('=') == std::string::npos || kv[0] == '=')
      throw Error("exec: --env \"" + kv + "\": expected KEY=VALUE", kExitUsage);
  return e.exec(*name, req);
}

}  // namespace mult::cli
