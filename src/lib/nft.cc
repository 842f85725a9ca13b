// nftables through libnftables, with output and errors buffered.
//
// libnftables is loaded with dlopen on first use, not linked: only
// networking needs it, and a link-time dependency makes the loader map and
// relocate it and its chain (libnftnl, libxtables, libjansson, libgmp) on
// every start of mult and mult-oci.
#include "nft.hh"

#include <nftables/libnftables.h>

#include <string>

#include "dl.hh"
#include "error.hh"

namespace mult {

// The few functions of libnftables mult calls; the types come from its header.
struct NftApi {
  decltype(&::nft_ctx_new) ctx_new;
  decltype(&::nft_ctx_free) ctx_free;
  decltype(&::nft_ctx_buffer_output) buffer_output;
  decltype(&::nft_ctx_buffer_error) buffer_error;
  decltype(&::nft_ctx_output_set_flags) output_set_flags;
  decltype(&::nft_run_cmd_from_buffer) run_cmd_from_buffer;
  decltype(&::nft_ctx_get_output_buffer) get_output_buffer;
  decltype(&::nft_ctx_get_error_buffer) get_error_buffer;
};

namespace {

// Fills `api` from `soname`; "" or why not.
std::string load_nft_api(const char* soname, NftApi& api) {
  return load_library(soname, std::pair{&api.ctx_new, "nft_ctx_new"},
                      std::pair{&api.ctx_free, "nft_ctx_free"},
                      std::pair{&api.buffer_output, "nft_ctx_buffer_output"},
                      std::pair{&api.buffer_error, "nft_ctx_buffer_error"},
                      std::pair{&api.output_set_flags, "nft_ctx_output_set_flags"},
                      std::pair{&api.run_cmd_from_buffer, "nft_run_cmd_from_buffer"},
                      std::pair{&api.get_output_buffer, "nft_ctx_get_output_buffer"},
                      std::pair{&api.get_error_buffer, "nft_ctx_get_error_buffer"});
}

// libnftables, loaded once per process; throws Error("nftables is not
// available: cannot load libnftables.so.1 (...)") when it cannot be.
std::string load_installed_nft(NftApi& api) { return load_nft_api(kNftLibrary, api); }

const NftApi& nft_api() { return loaded_once<NftApi, load_installed_nft>("nftables is not available: "); }

// nft's complaint, down to its first line: "Could not process rule: ...".
std::string first_line(const char* text) {
  std::string s = text ? text : "";
  size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  if (s.rfind("Error: ", 0) == 0) s.erase(0, 7);
  if (s.empty()) s = "failed";
  return s;
}

}  // namespace

Nft::Nft() : api_(&nft_api()) {
  ctx_ = api_->ctx_new(NFT_CTX_DEFAULT);
  if (!ctx_) throw Error("nftables is not available: cannot make a libnftables context");
  if (api_->buffer_output(ctx_) != 0 || api_->buffer_error(ctx_) != 0) {
    api_->ctx_free(ctx_);
    ctx_ = nullptr;
    throw Error("nftables is not available: cannot buffer libnftables output");
  }
}

Nft::~Nft() {
  if (ctx_) api_->ctx_free(ctx_);
}

bool Nft::try_run(const std::string& commands, std::string& output, std::string& error,
                  bool with_handles) {
  api_->output_set_flags(ctx_, with_handles ? NFT_CTX_OUTPUT_HANDLE : 0);
  int r = api_->run_cmd_from_buffer(ctx_, commands.c_str());
  const char* out = api_->get_output_buffer(ctx_);
  const char* err = api_->get_error_buffer(ctx_);
  output = out ? out : "";
  error.clear();
  if (r == 0) return true;
  error = first_line(err);
  return false;
}

std::string Nft::run(const std::string& commands, bool with_handles) {
  std::string out, err;
  if (!try_run(commands, out, err, with_handles)) throw Error("nft: " + err);
  return out;
}

std::string nft_load_error(const char* soname) {
  NftApi api;
  return load_nft_api(soname, api);
}

std::vector<NftRule> nft_list_rules(Nft& nft, const std::string& family,
                                    const std::string& table) {
  std::string out, err;
  std::vector<NftRule> rules;
  if (!nft.try_run("list table " + family + " " + table, out, err, true)) {
    if (err.find("No such file or directory") != std::string::npos) return rules;
    throw Error("nft: list table " + family + " " + table + ": " + err);
  }
  // table ip mult { # handle 1
  // 	chain prerouting { # handle 1
  // 		type nat hook prerouting priority dstnat; policy accept;
  // 		tcp dport 8080 dnat to 10.77.0.2:80 comment "mult:a publish 8080/tcp" # handle 4
  // 	}
  std::string line, chain;
  for (size_t pos = 0; pos < out.size();) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    line.assign(out, pos, end - pos);
    pos = end + 1;
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos) continue;
    line.erase(0, start);
    if (line.rfind("table ", 0) == 0 || line == "}") continue;
    if (line.rfind("chain ", 0) == 0) {
      size_t end = line.find(' ', 6);
      chain = line.substr(6, end == std::string::npos ? std::string::npos : end - 6);
      continue;
    }
    size_t h = line.rfind(" # handle ");
    if (h == std::string::npos || chain.empty()) continue;  // chain type line, sets, ...
    NftRule r;
    r.family = family;
    r.table = table;
    r.chain = chain;
    try {
      r.handle = std::stoull(line.substr(h + 10));
    } catch (...) {
      continue;
    }
    r.text = line.substr(0, h);
    size_t c = r.text.rfind("comment \"");
    if (c != std::string::npos) {
      size_t q = r.text.find('"', c + 9);
      if (q != std::string::npos) r.comment = r.text.substr(c + 9, q - c - 9);
    }
    rules.push_back(std::move(r));
  }
  return rules;
}

void nft_ensure_mult_table(Nft& nft, const std::string& family) {
  std::string t = family + " " + kNftTable;
  std::string cmds =
      "add table " + t + "\n"
      "add chain " + t + " prerouting { type nat hook prerouting priority dstnat; policy accept; }\n"
      "add chain " + t + " output { type nat hook output priority -100; policy accept; }\n"
      "add chain " + t + " postrouting { type nat hook postrouting priority srcnat; policy accept; }\n";
  std::string out, err;
  if (!nft.try_run(cmds, out, err)) throw Error("nftables is not available: " + err);
}

std::string nft_instance_tag(const std::string& instance) { return "mult:" + instance; }

bool nft_comment_names(const std::string& comment, const std::string& instance) {
  std::string tag = nft_instance_tag(instance);
  if (comment.rfind(tag, 0) != 0) return false;
  return comment.size() == tag.size() || comment[tag.size()] == ' ';
}

std::vector<NftRule> nft_instance_rules(Nft& nft, const std::string& instance) {
  std::vector<NftRule> mine;
  for (const char* family : {"ip", "ip6"})
    for (auto& r : nft_list_rules(nft, family, kNftTable))
      if (nft_comment_names(r.comment, instance)) mine.push_back(std::move(r));
  return mine;
}

void nft_delete_rules(Nft& nft, const std::vector<NftRule>& rules) {
  if (rules.empty()) return;
  std::string cmds;
  for (const auto& r : rules)
    cmds += "delete rule " + r.family + " " + r.table + " " + r.chain + " handle " +
            std::to_string(r.handle) + "\n";
  std::string out, err;
  if (nft.try_run(cmds, out, err)) return;
  // One gone rule fails the whole transaction: go one by one, skipping the
  // gone ones.
  for (const auto& r : rules) {
    std::string one = "delete rule " + r.family + " " + r.table + " " + r.chain + " handle " +
                      std::to_string(r.handle) + "\n";
    if (!nft.try_run(one, out, err) && err.find("No such file or directory") == std::string::npos)
      throw Error("nft: delete rule " + r.family + " " + r.table + " " + r.chain + " handle " +
                  std::to_string(r.handle) + ": " + err);
  }
}

}  // namespace mult
