//! The IP classifier: tells public unicast addresses from the ones a skill must not reach
//! unless granted literally (loopback, private, link-local incl. cloud metadata, CGNAT, ...),
//! looking through IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 forms.

//! [`classify`]: is an address public, and if not, which kind of special address is it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not public. The text of each kind is used in denial messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restricted {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, fc00::/7 (and deprecated site-local fec0::/10).
    Private,
    /// 169.254/16 (including the 169.254.169.254 cloud-metadata service), fe80::/10.
    LinkLocal,
    /// 0.0.0.0/8, ::.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// Carrier-grade NAT, 100.64/10.
    SharedCgnat,
    /// 224/4, ff00::/8.
    Multicast,
    /// Documentation, benchmarking, IETF-reserved and future-use ranges, Teredo, discard-only.
    Reserved,
}

impl Restricted {
    /// A short human description, for log lines and errors.
    pub fn describe(self) -> &'static str {
        match self {
            Restricted::Loopback => "loopback",
            Restricted::Private => "private network",
            Restricted::LinkLocal => "link-local (includes cloud metadata 169.254.169.254)",
            Restricted::Unspecified => "unspecified",
            Restricted::Broadcast => "broadcast",
            Restricted::SharedCgnat => "carrier-grade NAT 100.64.0.0/10",
            Restricted::Multicast => "multicast",
            Restricted::Reserved => "reserved or documentation range",
        }
    }
}

/// `None` for a public unicast address; otherwise why it is restricted. IPv6 addresses that
/// embed an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64
/// `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address.
pub fn classify(ip: IpAddr) -> Option<Restricted> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Classifies an IPv4 address.
fn classify_v4(ip: Ipv4Addr) -> Option<Restricted> {
    let [a, b, c, _] = ip.octets();
    let kind = match (a, b, c) {
        _ if ip.is_broadcast() => Restricted::Broadcast,
        (0, _, _) => Restricted::Unspecified,
        (127, _, _) => Restricted::Loopback,
        (10, _, _) => Restricted::Private,
        (172, 16..=31, _) => Restricted::Private,
        (192, 168, _) => Restricted::Private,
        (169, 254, _) => Restricted::LinkLocal,
        (100, 64..=127, _) => Restricted::SharedCgnat,
        (224..=239, _, _) => Restricted::Multicast,
        (240..=255, _, _) => Restricted::Reserved,
        // IETF protocol assignments, TEST-NET-1/2/3, benchmarking.
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (198, 18..=19, _) => {
            Restricted::Reserved
        }
        _ => return None,
    };
    Some(kind)
}

/// Classifies an IPv6 address, looking through the forms that carry an IPv4 address.
fn classify_v6(ip: Ipv6Addr) -> Option<Restricted> {
    if ip.is_unspecified() {
        return Some(Restricted::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Restricted::Loopback);
    }
    if let Some(v4) = embedded_v4(ip) {
        // An embedded public IPv4 is still only reachable through a translator; judge the
        // IPv4 address, which is what the packets end up addressed to.
        return classify_v4(v4);
    }
    let s = ip.segments();
    let kind = match s[0] {
        0xfc00..=0xfdff => Restricted::Private,
        0xfec0..=0xfeff => Restricted::Private, // deprecated site-local
        0xfe80..=0xfebf => Restricted::LinkLocal,
        0xff00..=0xffff => Restricted::Multicast,
        // Anything else starting with 0: the rest of ::/8 (IPv4-compatible handled above).
        0x0000 => Restricted::Reserved,
        // 100::/64 discard-only.
        0x0100 if s[1..4] == [0, 0, 0] => Restricted::Reserved,
        // 64:ff9b:1::/48 local-use NAT64.
        0x0064 if s[1] == 0xff9b && s[2] == 1 => Restricted::Private,
        // 2001::/32 Teredo, 2001:db8::/32 documentation, 2001:2::/48 benchmarking.
        0x2001 if s[1] == 0 || s[1] == 0x0db8 || (s[1] == 2 && s[2] == 0) => Restricted::Reserved,
        // 3fff::/20 documentation.
        0x3fff if s[1] < 0x1000 => Restricted::Reserved,
        _ => return None,
    };
    Some(kind)
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) or 6to4
/// (2002::/16) IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0; 6] {
        return Some(low); // ::a.b.c.d (deprecated IPv4-compatible); ::/:: handled by caller
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use Restricted::*;
        let cases: &[(&str, Option<Restricted>)] = &[
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.216.34", None),
            ("172.15.255.255", None),
            ("172.32.0.1", None),
            ("100.63.255.255", None),
            ("100.128.0.1", None),
            ("169.253.1.1", None),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("10.255.255.255", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("169.254.169.254", Some(LinkLocal)),
            ("169.254.0.1", Some(LinkLocal)),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("255.255.255.255", Some(Broadcast)),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("224.0.0.1", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.2.1", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            ("2606:4700:4700::1111", None),
            ("2001:4860:4860::8888", None),
            ("::1", Some(Loopback)),
            ("::", Some(Unspecified)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(Private)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", Some(Reserved)),
            ("2001:0:4136:e378::1", Some(Reserved)),
            // IPv4-mapped forms take the class of their IPv4 address.
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::ffff:192.168.0.1", Some(Private)),
            ("::ffff:100.64.0.1", Some(SharedCgnat)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::ffff:8.8.8.8", None),
            // IPv4-compatible, NAT64 and 6to4 forms too.
            ("::127.0.0.1", Some(Loopback)),
            ("64:ff9b::10.0.0.1", Some(Private)),
            ("64:ff9b::8.8.8.8", None),
            ("64:ff9b:1::1", Some(Private)),
            ("2002:7f00:1::1", Some(Loopback)),
            ("2002:a9fe:a9fe::1", Some(LinkLocal)),
            ("2002:808:808::1", None),
        ];
        for (text, want) in cases {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(classify(ip), *want, "{text}");
        }
    }
}
