// Splitting text into fields without iostreams: a stream drags libstdc++'s
// locale machinery in, which costs every mult start hundreds of KiB of
// resident memory and its set-up time.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mult {

// The fields of `text` between `sep`s, as std::getline reads them: an
// empty text gives none, and a trailing `sep` no empty last field.
inline std::vector<std::string> split_fields(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(sep, pos);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace mult
