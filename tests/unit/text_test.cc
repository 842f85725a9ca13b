// Field splitting (text.hh) and the colon-separated files read with it:
// passwd and group (resolve_user), subuid (subordinate_ids).
#include "text.hh"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "error.hh"
#include "process.hh"
#include "test_files.hh"
#include "userns.hh"

namespace mult {
namespace {

using Fields = std::vector<std::string>;

TEST(SplitFields, ReadsFieldsAsGetlineDoes) {
  EXPECT_EQ(split_fields("a:b:c", ':'), (Fields{"a", "b", "c"}));
  EXPECT_EQ(split_fields("a::c", ':'), (Fields{"a", "", "c"}));
  EXPECT_EQ(split_fields(":a", ':'), (Fields{"", "a"}));
  EXPECT_EQ(split_fields("a:", ':'), (Fields{"a"}));
  EXPECT_EQ(split_fields("a::", ':'), (Fields{"a", ""}));
  EXPECT_EQ(split_fields(":", ':'), (Fields{""}));
  EXPECT_EQ(split_fields("", ':'), Fields{});
  EXPECT_EQ(split_fields("one\ntwo\n", '\n'), (Fields{"one", "two"}));
}

class ColonFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.empty()) << "no temporary directory";
    std::filesystem::create_directories(dir_ + "/etc");
    test::spit(dir_ + "/etc/passwd",
               "root:x:0:0:root:/root:/bin/sh\n"
               "web:x:1000:1001::/home/web:\n"
               "bad:x:abc:1\n");
    test::spit(dir_ + "/etc/group",
               "root:x:0:\n"
               "web:x:1001:\n"
               "audio:x:29:web,other\n"
               "video:x:44:other\n"
               "disk:x:6:web");
  }
  test::TempDir tmp_{"mult-text"};
  std::string dir_ = tmp_.path();
};

TEST_F(ColonFiles, ResolvesANameWithItsGroups) {
  User u = resolve_user("web", dir_);
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 1001u);
  EXPECT_EQ(u.additional_gids, (std::vector<gid_t>{29, 6}));
}

TEST_F(ColonFiles, ResolvesNumbersAndGroupNames) {
  User u = resolve_user("1000:video", dir_);
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 44u);
  u = resolve_user("4242", dir_);  // not in passwd: gid 0
  EXPECT_EQ(u.uid, 4242u);
  EXPECT_EQ(u.gid, 0u);
}

TEST_F(ColonFiles, UnknownNamesAreRefused) {
  EXPECT_THROW(resolve_user("nobody-here", dir_), Error);
  EXPECT_THROW(resolve_user("bad", dir_), Error);  // a uid that is no number
  EXPECT_THROW(resolve_user("web:nogroup", dir_), Error);
  EXPECT_THROW(resolve_user("web", dir_ + "/missing"), Error);
}

TEST_F(ColonFiles, SubordinateIdsOfANameOrId) {
  std::string f = dir_ + "/subuid";
  test::spit(f, "web:100000:65536\n"
                "other:200000:65536\n"
                "1000:300000:1000\n"
                "web:x:5\n"
                "web:400000\n"
                "web:500000:10:extra\n");
  auto ranges = subordinate_ids(f, "web", 1000);
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0].host_id, 100000u);
  EXPECT_EQ(ranges[0].size, 65536u);
  EXPECT_EQ(ranges[1].host_id, 300000u);
  EXPECT_EQ(ranges[1].size, 1000u);
  EXPECT_EQ(ranges[2].host_id, 500000u);
  EXPECT_EQ(ranges[2].size, 10u);
  EXPECT_TRUE(subordinate_ids(dir_ + "/none", "web", 1000).empty());
}

}  // namespace
}  // namespace mult
