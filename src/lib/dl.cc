// The glibc release check of a statically linked mult before it opens a
// library (dl.hh).
#include "dl.hh"

#include <fcntl.h>
#include <gnu/libc-version.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <string>
#include <string_view>

#include "fd.hh"

namespace mult {

std::string glibc_release_of(const std::string& libc_so) {
  // Mapped, not read: the banner is somewhere in 2 MB of library.
  Fd fd(::open(libc_so.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_size <= 0) return "";
  const size_t size = size_t(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (map == MAP_FAILED) return "";
  std::string_view text(static_cast<const char*>(map), size);
  size_t at = text.find("GNU C Library ");
  size_t end = at == std::string_view::npos ? at : text.find('\n', at);
  std::string banner = end == std::string_view::npos ? "" : std::string(text.substr(at, end - at));
  ::munmap(map, size);
  if (banner.empty()) return "";
  size_t v = banner.rfind(" version ");
  if (v == std::string::npos) return "";
  std::string release = banner.substr(v + 9);
  while (!release.empty() && (release.back() == '.' || release.back() == ' ')) release.pop_back();
  return release;
}

std::string static_dlopen_refusal() {
  // A dynamic mult: the host's own loader opens the library.
  if (::getauxval(AT_BASE) != 0) return "";
  static const std::string refusal = []() -> std::string {
    const std::string own = ::gnu_get_libc_version();
    const std::string host = glibc_release_of(MULT_LIBC_SO);
    if (host.empty() || host == own) return "";
    return std::string("mult is linked statically with glibc ") + own + " and " + MULT_LIBC_SO +
           " is glibc " + host + ": rebuild mult for this host, or build it with -DMULT_STATIC=OFF";
  }();
  return refusal;
}

}  // namespace mult
