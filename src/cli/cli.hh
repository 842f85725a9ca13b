// The command-line face: argument parsing and one function per command.
// Everything about instances is in the library; this only reads words and
// prints results.
#pragma once
#include <string>
#include <vector>

#include "engine.hh"
#include "spec_builder.hh"

namespace mult::cli {

using Args = std::vector<std::string>;

// Walks a command's arguments. Options come first; "--" or the first word
// that is not an option ends them.
class ArgReader {
 public:
  ArgReader(const Args& args, std::string command) : args_(args), command_(std::move(command)) {}
  bool done() const { return i_ >= args_.size(); }
  // True while the next word is an option (and consumes a lone "--").
  bool at_option();
  const std::string& peek() const { return args_[i_]; }
  // Matches the current option against its names; --opt=value accepted.
  bool is(const char* long_name, const char* short_name = nullptr);
  // The current option's value (from --opt=value or the next word).
  std::string value();
  // The value after "=" of an option whose value is optional ("" if none).
  std::string inline_value() const;
  int int_value();
  std::string next_word(const char* what);  // a required positional
  Args rest();
  [[noreturn]] void unknown() const;

 private:
  const Args& args_;
  std::string command_;
  size_t i_ = 0;
  std::string current_, inline_value_;
  bool has_inline_ = false;
};

// --memory, --cpus ... (run, create, update); false if `r` is not at one.
bool read_limit_option(ArgReader& r, LimitOptions& l);
// Instance options shared by run and create; false if `r` is not at one.
bool read_instance_option(ArgReader& r, InstanceOptions& o);

int cmd_run(Engine& e, const Args& a);
int cmd_create(Engine& e, const Args& a);
int cmd_start(Engine& e, const Args& a);
int cmd_stop(Engine& e, const Args& a);
int cmd_restart(Engine& e, const Args& a);
int cmd_rm(Engine& e, const Args& a);
int cmd_exec(Engine& e, const Args& a);
int cmd_ls(Engine& e, const Args& a);
int cmd_inspect(Engine& e, const Args& a);
int cmd_gc(Engine& e, const Args& a);
int cmd_stats(Engine& e, const Args& a);
int cmd_net(Engine& e, const Args& a);
int cmd_update(Engine& e, const Args& a);
int cmd_image(Engine& e, const Args& a);

void print_usage(FILE* to);

}  // namespace mult::cli
