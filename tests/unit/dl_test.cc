// The glibc release check a static mult makes before dlopen (dl.cc).
#include "dl.hh"

#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "test_files.hh"

namespace mult {
namespace {

TEST(Dl, ReleaseFromTheBannerOfACLibraryFile) {
  test::TempDir dir("mult-dl");
  std::string path = dir.path() + "/libc.so.6";
  std::ofstream(path) << std::string("\x7f" "ELF\0\0junk", 10)
                      << "GNU C Library (Debian GLIBC 2.41-12) stable release version 2.41.\n"
                      << "Copyright (C) 2025 Free Software Foundation, Inc.\n";
  EXPECT_EQ(glibc_release_of(path), "2.41");
}

TEST(Dl, NoReleaseWithoutABannerOrAFile) {
  test::TempDir dir("mult-dl");
  std::string path = dir.path() + "/libc.so.6";
  std::ofstream(path) << "not a C library\n";
  EXPECT_EQ(glibc_release_of(path), "");
  EXPECT_EQ(glibc_release_of(dir.path() + "/missing"), "");
}

TEST(Dl, TheRunningCLibraryNamesItsOwnRelease) {
  // This test program is dynamic: its libc.so.6 is the one it runs on.
  Dl_info info{};
  ASSERT_NE(::dladdr(reinterpret_cast<void*>(&::gnu_get_libc_version), &info), 0);
  EXPECT_EQ(glibc_release_of(info.dli_fname), ::gnu_get_libc_version()) << info.dli_fname;
  EXPECT_EQ(static_dlopen_refusal(), "") << "a dynamic program opens libraries with its own loader";
}

}  // namespace
}  // namespace mult
