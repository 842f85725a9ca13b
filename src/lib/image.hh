// Images: root file systems that instances are made from, kept in
// <lib>/images/NAME/rootfs. The default image, "busybox", is assembled offline
// from the host's static busybox.
#pragma once
#include <string>
#include <vector>

#include "store.hh"

namespace mult {

inline constexpr const char* kDefaultImage = "busybox";

struct ImageInfo {
  std::string name;
  std::string rootfs;
  uint64_t size_bytes = 0;
  long long created = 0;  // unix time
};

// Returns the rootfs of image `name`; assembles "busybox" on first use.
// Throws Error "image "x": not found" for any other missing image.
std::string image_rootfs(const Store& store, const std::string& name);
// Assembles the busybox image into `rootfs` (a new, empty or missing dir),
// from `busybox` (default: /bin/busybox, which must be statically linked).
void build_busybox_rootfs(const std::string& rootfs,
                          const std::string& busybox = "/bin/busybox");
std::vector<ImageInfo> list_images(const Store& store);
void remove_image(const Store& store, const std::string& name);

}  // namespace mult
