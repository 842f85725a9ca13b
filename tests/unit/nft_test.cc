// Loading libnftables on demand (dlopen) and running commands through it,
// in a network namespace made for each test.
#include "nft.hh"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "error.hh"

namespace mult {
namespace {

// Runs `body` in a child in a new network namespace; its exit status (0 on
// success), or -1 when it could not run.
int in_new_netns(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(100);
    int code = 101;
    try {
      code = body();
    } catch (...) {
    }
    ::_exit(code);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(NftLoad, TheInstalledLibraryServes) { EXPECT_EQ(nft_load_error(kNftLibrary), ""); }

TEST(NftLoad, AMissingLibraryIsNamedWithTheLoadersReason) {
  std::string err = nft_load_error("libmult-no-such-library.so.0");
  EXPECT_EQ(err.rfind("cannot load libmult-no-such-library.so.0 (", 0), 0u) << err;
  EXPECT_NE(err.find("No such file"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST(NftLoad, ALibraryWithoutTheFunctionsIsRefused) {
  std::string err = nft_load_error("libc.so.6");
  EXPECT_EQ(err, "libc.so.6 lacks the functions mult uses (too old?)");
}

TEST(Nft, RunsATransactionAndReportsItsOutput) {
  int code = in_new_netns([] {
    Nft nft;
    nft.run("add table ip t\nadd chain ip t c\nadd rule ip t c counter comment \"x\"\n");
    auto rules = nft_list_rules(nft, "ip", "t");
    if (rules.size() != 1) return 1;
    if (rules[0].chain != "c" || rules[0].comment != "x" || rules[0].handle == 0) return 2;
    if (nft.run("list tables").find("table ip t") == std::string::npos) return 3;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(Nft, ACommandNftRefusesThrowsItsFirstLine) {
  int code = in_new_netns([] {
    Nft nft;
    std::string out, err;
    if (nft.try_run("bogus", out, err)) return 1;
    if (err.find("syntax error") == std::string::npos || err.find('\n') != std::string::npos)
      return 2;
    try {
      nft.run("delete table ip nosuchtable");
      return 3;
    } catch (const Error& e) {
      if (std::string(e.what()).rfind("nft: ", 0) != 0) return 4;
    }
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(Nft, AMissingTableListsNoRules) {
  int code = in_new_netns([] {
    Nft nft;
    return nft_list_rules(nft, "ip6", "mult").empty() ? 0 : 1;
  });
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace mult
