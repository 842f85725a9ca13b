// nftables through libnftables: commands in nft's own language, run as one
// transaction each, in the calling process's network namespace.
//
// mult keeps its rules in tables of its own, `table ip mult` and
// `table ip6 mult`, each with three nat chains (prerouting, output,
// postrouting). Every rule carries a comment naming its instance,
//   "mult:NAME publish 8080/tcp"   "mult:NAME hairpin 8080/tcp"   "mult:NAME nat"
// so that it can be found again and deleted by handle.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

struct nft_ctx;

namespace mult {

// The library Nft loads on first use (dlopen), with its dependencies.
inline constexpr const char* kNftLibrary = "libnftables.so.1";
struct NftApi;

class Nft {
 public:
  // Loads libnftables on first use. Throws Error("nftables is not
  // available: <reason>") when it cannot be loaded (not installed) or cannot
  // make a context.
  Nft();
  Nft(const Nft&) = delete;
  Nft& operator=(const Nft&) = delete;
  ~Nft();

  // Runs `commands` (one transaction: all or nothing) and returns what nft
  // printed. Throws Error("nft: <the first line of nft's complaint>").
  std::string run(const std::string& commands, bool with_handles = false);
  // The same without throwing: false and the complaint in `error`.
  bool try_run(const std::string& commands, std::string& output, std::string& error,
               bool with_handles = false);

 private:
  const NftApi* api_ = nullptr;
  nft_ctx* ctx_ = nullptr;
};

// Why `soname` cannot serve as libnftables: "cannot load X (dlerror)" or
// "X lacks the functions mult uses"; "" when it can. (For tests: Nft uses
// kNftLibrary.)
std::string nft_load_error(const char* soname);

struct NftRule {
  std::string family;  // "ip", "ip6"
  std::string table;
  std::string chain;
  uint64_t handle = 0;
  std::string comment;  // "" when none
  std::string text;     // the rule as nft prints it, without the handle
};

// The rules of one table, with their handles; empty when the table does
// not exist.
std::vector<NftRule> nft_list_rules(Nft& nft, const std::string& family, const std::string& table);

// ---- mult's tables ------------------------------------------------------------

inline constexpr const char* kNftTable = "mult";

// Makes `table FAMILY mult` and its nat chains unless present. `family` is
// "ip" or "ip6". Throws Error("nftables is not available: <reason>") when
// the kernel refuses (no nf_tables, no permission).
void nft_ensure_mult_table(Nft& nft, const std::string& family);
// The comment prefix that marks the rules of `instance`: "mult:NAME".
std::string nft_instance_tag(const std::string& instance);
// Whether a rule's comment names `instance`.
bool nft_comment_names(const std::string& comment, const std::string& instance);
// Every rule of mult's tables (both families) whose comment names
// `instance`.
std::vector<NftRule> nft_instance_rules(Nft& nft, const std::string& instance);
// Deletes these rules by handle, in one transaction. Rules already gone are
// fine.
void nft_delete_rules(Nft& nft, const std::vector<NftRule>& rules);

}  // namespace mult
