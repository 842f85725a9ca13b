// Libraries opened when first needed (dlopen) instead of by the loader at
// every start: libnftables for networks, libseccomp to compile a filter.
#pragma once
#include <dlfcn.h>

#include <string>
#include <utility>

#include "error.hh"

namespace mult {

// A statically linked mult opens a library with its own copy of glibc's
// dynamic loader, which brings the host's libc.so.6 along: the two must be
// of one glibc release, as for any static program that calls dlopen. ""
// where they are (or mult is dynamic), else why not, naming both.
std::string static_dlopen_refusal();
// "2.36" from the banner of a C library file ("GNU C Library (Debian GLIBC
// 2.36-9+deb12u14) stable release version 2.36."); "" where there is none.
std::string glibc_release_of(const std::string& libc_so);

// dlopen(soname) for good; nullptr and *why ("cannot load X (reason)") when
// it cannot be.
inline void* open_library(const char* soname, std::string* why) {
  if (std::string refusal = static_dlopen_refusal(); !refusal.empty()) {
    *why = std::string("cannot load ") + soname + ": " + refusal;
    return nullptr;
  }
  void* lib = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* reason = ::dlerror();
    *why = std::string("cannot load ") + soname + (reason ? std::string(" (") + reason + ")" : "");
  }
  return lib;
}

// Points `fn` at `lib`'s function `name`; false when the library lacks it.
template <typename Fn>
bool find_function(void* lib, Fn& fn, const char* name) {
  fn = reinterpret_cast<Fn>(::dlsym(lib, name));
  return fn != nullptr;
}

// Opens `soname` and points each function pointer of `fns` (pairs of a
// pointer's address and the function's name) at it: "" or why not. The
// library stays loaded.
template <typename... Fns>
std::string load_library(const char* soname, std::pair<Fns*, const char*>... fns) {
  std::string why;
  void* lib = open_library(soname, &why);
  if (!lib) return why;
  if (!(find_function(lib, *fns.first, fns.second) && ...)) {
    ::dlclose(lib);
    return std::string(soname) + " lacks the functions mult uses (too old?)";
  }
  return "";
}

// The functions `Load` fills in an `Api` (with load_library), loaded the
// first time; throws Error(context + why) where they cannot be, each time
// they are asked for.
template <typename Api, std::string (*Load)(Api&)>
const Api& loaded_once(const char* context) {
  static Api api;
  static const std::string failure = Load(api);
  if (!failure.empty()) throw Error(context + failure);
  return api;
}

}  // namespace mult
