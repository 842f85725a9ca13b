#include "net_addr.hh"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>

namespace mult {

static_assert(AF_INET == 2, "IpAddress::v4 assumes AF_INET == 2");

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.family = AF_INET;
  } else {
    if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.family = AF_INET6;
  }
  return a;
}

std::string IpAddress::str() const {
  if (family == 0) return "";
  char buf[INET6_ADDRSTRLEN];
  if (!::inet_ntop(family, bytes.data(), buf, sizeof buf)) return "";
  return buf;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  std::string_view p = text.substr(slash + 1);
  int prefix = -1;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size()) return std::nullopt;
  if (prefix < 0 || prefix > int(addr->size()) * 8) return std::nullopt;
  return Cidr{*addr, prefix};
}

std::string Cidr::str() const { return address.str() + "/" + std::to_string(prefix); }

IpAddress Cidr::network() const {
  IpAddress n = address;
  for (size_t i = 0; i < address.size(); ++i) {
    int keep = prefix - int(i) * 8;  // bits of this byte inside the prefix
    if (keep >= 8) continue;
    n.bytes[i] &= keep <= 0 ? 0 : uint8_t(0xff << (8 - keep));
  }
  return n;
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  return Cidr{a, prefix}.network() == network();
}

bool Cidr::overlaps(const Cidr& other) const {
  if (other.address.family != address.family) return false;
  // Two aligned blocks overlap iff the larger contains the other's network.
  return prefix <= other.prefix ? contains(other.network()) : other.contains(network());
}

IpAddress Cidr::host(uint64_t n) const {
  IpAddress a = network();
  // Add n to the low 64 bits (IPv4: all 32), carrying upwards.
  int i = int(a.size()) - 1;
  unsigned carry = 0;
  for (; i >= 0 && (n != 0 || carry != 0); --i) {
    unsigned sum = unsigned(a.bytes[size_t(i)]) + unsigned(n & 0xff) + carry;
    a.bytes[size_t(i)] = uint8_t(sum & 0xff);
    carry = sum >> 8;
    n >>= 8;
  }
  return a;
}

uint64_t Cidr::host_number(const IpAddress& a) const {
  uint64_t n = 0;
  size_t start = a.size() > 8 ? a.size() - 8 : 0;
  for (size_t i = start; i < a.size(); ++i) n = (n << 8) | a.bytes[i];
  uint64_t base = 0;
  IpAddress net = network();
  for (size_t i = start; i < a.size(); ++i) base = (base << 8) | net.bytes[i];
  return n - base;
}

uint64_t Cidr::host_count() const {
  int host_bits = bits() - prefix;
  if (host_bits >= 63) return uint64_t(1) << 63;
  return uint64_t(1) << host_bits;
}

}  // namespace mult

namespace mult {

std::string short_hash(std::string_view text, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  static const char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[size_t(i)] = digits[h & 0xf];
  out.resize(n < 16 ? n : 16);
  return out;
}

}  // namespace mult
