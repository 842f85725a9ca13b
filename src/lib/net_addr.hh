// IP addresses and subnets (CIDR), IPv4 and IPv6, without the resolver:
// parsing, printing, containment, overlap and host arithmetic for IPAM.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mult {

struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6; 0: none
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4

  // "10.77.0.2", "fd77::2"; nullopt when not an address.
  static std::optional<IpAddress> parse(std::string_view text);
  size_t size() const { return family == 0 ? 0 : family == 2 /*AF_INET*/ ? 4 : 16; }
  bool v4() const { return family == 2; }
  std::string str() const;
  bool operator==(const IpAddress&) const = default;
};

struct Cidr {
  IpAddress address;  // as written (may have host bits)
  int prefix = 0;

  // "10.77.0.0/16", "fd77::/64"; nullopt when malformed.
  static std::optional<Cidr> parse(std::string_view text);
  std::string str() const;  // "10.77.0.0/16"
  int bits() const { return int(address.size()) * 8; }
  // The address with the host bits cleared.
  IpAddress network() const;
  bool has_host_bits() const { return !(network() == address); }
  bool contains(const IpAddress& a) const;
  bool overlaps(const Cidr& other) const;
  // Host number `n` of the subnet: network() + n (n counts from 0). The
  // caller keeps n below host_count().
  IpAddress host(uint64_t n) const;
  // The host number of `a` (a must be inside).
  uint64_t host_number(const IpAddress& a) const;
  // Number of addresses in the subnet, saturated at 2^63.
  uint64_t host_count() const;
};

}  // namespace mult

namespace mult {

// A short stable hash of `text` as `n` lowercase hex digits (n <= 16), for
// names that must fit in 15 characters (interfaces).
std::string short_hash(std::string_view text, size_t n);

}  // namespace mult
