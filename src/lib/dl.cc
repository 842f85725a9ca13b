// The glibc release check of a statically linked mult before it opens a
// library (dl.hh).
#include "dl.hh"

#include <gnu/libc-version.h>
#include <sys/auxv.h>

#include <string>

#include "store.hh"

namespace mult {

std::string glibc_release_of(const std::string& libc_so) {
  std::string text;
  if (try_read_file(libc_so, text) != 0) return "";
  size_t at = text.find("GNU C Library ");
  size_t end = at == std::string::npos ? at : text.find('\n', at);
  if (end == std::string::npos) return "";
  std::string banner = text.substr(at, end - at);
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
