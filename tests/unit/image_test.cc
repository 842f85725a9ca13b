// The busybox image and the image store.
#include "image.hh"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <fstream>
#include <sstream>
#include <string>

#include "error.hh"

namespace {

bool have_static_busybox() { return access("/bin/busybox", X_OK) == 0; }

class Image : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_static_busybox()) GTEST_SKIP() << "no /bin/busybox";
    char tmpl[] = "/tmp/mult-image-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::string cmd = "rm -rf '" + dir_ + "'";
      (void)system(cmd.c_str());
    }
  }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string dir_;
};

TEST_F(Image, BuildsBusyboxRootfs) {
  std::string rootfs = dir_ + "/rootfs";
  auto start = std::chrono::steady_clock::now();
  mult::build_busybox_rootfs(rootfs);
  double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(took, 1.0);

  struct stat st;
  ASSERT_EQ(stat((rootfs + "/bin/busybox").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0755u);

  char target[PATH_MAX] = {0};
  ASSERT_GT(readlink((rootfs + "/bin/sh").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "/bin/busybox");
  ASSERT_EQ(lstat((rootfs + "/usr/bin/wget").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(lstat((rootfs + "/bin/busybox").c_str(), &st), 0);
  EXPECT_FALSE(S_ISLNK(st.st_mode));

  EXPECT_NE(slurp(rootfs + "/etc/passwd").find("root:x:0:0:root:/root:/bin/sh\n"),
            std::string::npos);
  EXPECT_NE(slurp(rootfs + "/etc/group").find("nogroup:x:65534:"), std::string::npos);
  EXPECT_NE(slurp(rootfs + "/etc/os-release").find("NAME=\"mult busybox\""),
            std::string::npos);
  ASSERT_EQ(stat((rootfs + "/etc/rc").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  EXPECT_EQ(slurp(rootfs + "/etc/rc").rfind("#!/bin/sh\n", 0), 0u);

  ASSERT_EQ(stat((rootfs + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  ASSERT_EQ(stat((rootfs + "/root").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  for (const char* d : {"sbin", "usr/sbin", "dev", "proc", "sys", "var/tmp", "home", "run"}) {
    ASSERT_EQ(stat((rootfs + "/" + d).c_str(), &st), 0) << d;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
  }
}

TEST_F(Image, RcRunsUnderBusybox) {
  // The image's rc is valid shell for the image's own sh.
  std::string rootfs = dir_ + "/rootfs";
  mult::build_busybox_rootfs(rootfs);
  std::string cmd = "/bin/busybox sh -n '" + rootfs + "/etc/rc'";
  EXPECT_EQ(system(cmd.c_str()), 0);
}

TEST_F(Image, RejectsMissingOrDynamicBusybox) {
  try {
    mult::build_busybox_rootfs(dir_ + "/r1", dir_ + "/nope");
    FAIL() << "no error";
  } catch (const mult::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "busybox \"" + dir_ + "/nope\": not found (install busybox-static)");
  }
  try {
    mult::build_busybox_rootfs(dir_ + "/r2", "/bin/true");  // dynamically linked
    FAIL() << "no error";
  } catch (const mult::Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not statically linked (install busybox-static)"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(Image, StoreBuildsOnceListsAndRemoves) {
  mult::Store store(dir_);
  std::string a = mult::image_rootfs(store, "busybox");
  EXPECT_EQ(a, store.images_dir() + "/busybox/rootfs");
  struct stat st1, st2;
  ASSERT_EQ(stat((a + "/bin/busybox").c_str(), &st1), 0);
  std::string b = mult::image_rootfs(store, "busybox");
  EXPECT_EQ(a, b);
  ASSERT_EQ(stat((b + "/bin/busybox").c_str(), &st2), 0);
  EXPECT_EQ(st1.st_ino, st2.st_ino) << "built twice";
  EXPECT_EQ(access((store.images_dir() + "/busybox/image.json").c_str(), R_OK), 0);

  auto images = mult::list_images(store);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].name, "busybox");
  EXPECT_EQ(images[0].rootfs, a);
  EXPECT_GE(images[0].size_bytes, static_cast<uint64_t>(st1.st_size));
  EXPECT_LT(images[0].size_bytes, static_cast<uint64_t>(st1.st_size) + 65536);
  EXPECT_GT(images[0].created, 0);

  mult::remove_image(store, "busybox");
  EXPECT_NE(access((store.images_dir() + "/busybox").c_str(), F_OK), 0);
  EXPECT_TRUE(mult::list_images(store).empty());
  EXPECT_THROW(mult::remove_image(store, "busybox"), mult::Error);
}

TEST_F(Image, UnknownAndInvalidNames) {
  mult::Store store(dir_);
  try {
    mult::image_rootfs(store, "alpine");
    FAIL() << "no error";
  } catch (const mult::Error& e) {
    EXPECT_STREQ(e.what(), "image \"alpine\": not found");
  }
  try {
    mult::remove_image(store, "alpine");
    FAIL() << "no error";
  } catch (const mult::Error& e) {
    EXPECT_STREQ(e.what(), "image \"alpine\": not found");
  }
  EXPECT_THROW(mult::image_rootfs(store, "../etc"), mult::Error);
  EXPECT_THROW(mult::image_rootfs(store, ""), mult::Error);
  EXPECT_THROW(mult::remove_image(store, "a/b"), mult::Error);
  EXPECT_TRUE(mult::list_images(store).empty());
}

TEST_F(Image, ListSkipsDotNamesAndDirsWithoutRootfs) {
  mult::Store store(dir_);
  std::string images = store.images_dir();
  ASSERT_EQ(system(("mkdir -p '" + images + "/.hidden/rootfs' '" + images +
                    "/empty' '" + images + "/mine/rootfs/x' && echo hello > '" +
                    images + "/mine/rootfs/x/f'")
                       .c_str()),
            0);
  auto images_list = mult::list_images(store);
  ASSERT_EQ(images_list.size(), 1u);
  EXPECT_EQ(images_list[0].name, "mine");
  EXPECT_EQ(images_list[0].size_bytes, 6u);
  EXPECT_EQ(mult::image_rootfs(store, "mine"), images + "/mine/rootfs");
}

}  // namespace
