//! What kind of network an IP address belongs to, for deciding whether a bot may connect to it.
//!
//! Addresses that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64) are judged by the embedded
//! address: `::ffff:127.0.0.1` is loopback, whatever the outer family says.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The classes the policy tells apart. Only `Public` is allowed by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpClass {
    Public,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, CGNAT 100.64.0.0/10, IPv6 unique local fc00::/7.
    Private,
    /// 169.254.0.0/16 (cloud metadata services live at 169.254.169.254), fe80::/10.
    LinkLocal,
    /// Unspecified, multicast, broadcast, documentation, benchmarking, reserved and other ranges no meeting
    /// server can be on; never allowed.
    Special,
}

impl IpClass {
    pub fn describe(self) -> &'static str {
        match self {
            IpClass::Public => "a public address",
            IpClass::Loopback => "a loopback address",
            IpClass::Private => "a private-network address",
            IpClass::LinkLocal => "a link-local address (cloud metadata services live here)",
            IpClass::Special => "a special-purpose address",
        }
    }
}

/// The address to judge: an IPv6 address carrying an IPv4 one is unwrapped first.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub fn classify(ip: IpAddr) -> IpClass {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::ffff:a.b.c.d (mapped): what a dual-stack socket shows for an IPv4 peer.
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        // 64:ff9b::a.b.c.d (NAT64 well-known prefix): the gateway connects to the IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        // ::a.b.c.d (deprecated IPv4-compatible); :: and ::1 are not IPv4 addresses.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => Some(tail),
        _ => None,
    }
}

fn classify_v4(ip: Ipv4Addr) -> IpClass {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (127, _, _) => IpClass::Loopback,
        (10, _, _) | (192, 168, _) => IpClass::Private,
        (172, b, _) if (16..32).contains(&b) => IpClass::Private,
        (100, b, _) if (64..128).contains(&b) => IpClass::Private,
        (169, 254, _) => IpClass::LinkLocal,
        // 0/8 "this network" (0.0.0.0 reaches the local host on Linux), 192.0.0/24 protocol assignments,
        // documentation ranges, 224/4 multicast, 240/4 reserved and broadcast.
        (0, _, _) | (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (192, 88, 99) => {
            IpClass::Special
        }
        // 198.18/15 (RFC 2544) is for test networks, like a lab's private range: private, not
        // refused outright, so a media server on a lab network can be allowed with allow_private.
        (198, b, _) if b == 18 || b == 19 => IpClass::Private,
        (a, _, _) if a >= 224 => IpClass::Special,
        _ => IpClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> IpClass {
    let s = ip.segments();
    if ip.is_loopback() {
        IpClass::Loopback
    } else if ip.is_unspecified() {
        IpClass::Special
    } else if s[0] & 0xfe00 == 0xfc00 {
        IpClass::Private
    } else if s[0] & 0xffc0 == 0xfe80 {
        IpClass::LinkLocal
    } else if s[0] & 0xffc0 == 0xfec0 // deprecated site-local: private in practice
        || s[0] & 0xff00 == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo: tunnels to an address we cannot see
        || s[0] == 0x2002 // 6to4: likewise
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
        || s[0] & 0xe000 != 0x2000
    // outside 2000::/3, the only range assigned for global unicast
    {
        IpClass::Special
    } else {
        IpClass::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> IpClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges() {
        for (ip, want) in [
            ("8.8.8.8", IpClass::Public),
            ("93.184.216.34", IpClass::Public),
            ("127.0.0.1", IpClass::Loopback),
            ("127.255.0.9", IpClass::Loopback),
            ("10.1.2.3", IpClass::Private),
            ("172.16.0.1", IpClass::Private),
            ("172.31.255.255", IpClass::Private),
            ("172.32.0.1", IpClass::Public),
            ("192.168.1.1", IpClass::Private),
            ("100.64.0.1", IpClass::Private),
            ("100.127.255.255", IpClass::Private),
            ("100.128.0.1", IpClass::Public),
            ("169.254.169.254", IpClass::LinkLocal),
            ("0.0.0.0", IpClass::Special),
            ("224.0.0.1", IpClass::Special),
            ("255.255.255.255", IpClass::Special),
            ("192.0.2.7", IpClass::Special),
            ("198.18.0.1", IpClass::Private),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn ipv6_ranges() {
        for (ip, want) in [
            ("2606:4700::1111", IpClass::Public),
            ("::1", IpClass::Loopback),
            ("::", IpClass::Special),
            ("fc00::1", IpClass::Private),
            ("fd12:3456::1", IpClass::Private),
            ("fe80::1", IpClass::LinkLocal),
            ("ff02::1", IpClass::Special),
            ("2001:db8::1", IpClass::Special),
            ("2002:7f00:1::1", IpClass::Special),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn embedded_ipv4_is_unwrapped_first() {
        assert_eq!(class("::ffff:127.0.0.1"), IpClass::Loopback);
        assert_eq!(class("::ffff:169.254.169.254"), IpClass::LinkLocal);
        assert_eq!(class("::ffff:10.0.0.1"), IpClass::Private);
        assert_eq!(class("::ffff:8.8.8.8"), IpClass::Public);
        assert_eq!(class("64:ff9b::a9fe:a9fe"), IpClass::LinkLocal);
        assert_eq!(class("64:ff9b::808:808"), IpClass::Public);
        assert_eq!(class("::127.0.0.1"), IpClass::Loopback);
        assert_eq!(
            canonical("::ffff:1.2.3.4".parse().unwrap()),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
    }
}
