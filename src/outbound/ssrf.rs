//! The SSRF guard (SPEC §6.4): outbound requests may not reach loopback, private, link-local,
//! CGNAT, multicast, unspecified or otherwise non-public addresses, nor IPv6 encodings of them,
//! unless the configuration allows it. Cloud metadata addresses are refused even when private
//! networks are allowed. Names are resolved once, by [`GuardedResolver`], and the connection goes
//! to the addresses that were checked: no second lookup can change them.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use ipnet::IpNet;
use url::{Host, Url};

use crate::config::OutboundConfig;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsrfError {
    #[error("{host} cannot be resolved: {reason}")]
    Unresolvable { host: String, reason: String },
    #[error(
        "{host} resolves to {address}, a non-public address; allow it with outbound.allowed_cidrs"
    )]
    Refused { host: String, address: IpAddr },
    #[error(
        "{host} resolves to {address}, a cloud metadata address (it hands out this machine's \
         credentials), refused even with outbound.allow_private_networks"
    )]
    CloudMetadata { host: String, address: IpAddr },
}

/// The instance metadata services of AWS (also GCP, Azure, OpenStack: `169.254.169.254`), AWS
/// over IPv6 (`fd00:ec2::254`) and Alibaba Cloud (`100.100.100.200`). Whoever can make the
/// gateway call them gets the machine's cloud credentials.
const CLOUD_METADATA: [IpAddr; 3] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
];

/// Which destinations are allowed, from `outbound.allow_private_networks` and `allowed_cidrs`.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    allow_private: bool,
    allowed: Vec<IpNet>,
}

impl NetworkPolicy {
    pub fn new(config: &OutboundConfig) -> Self {
        Self {
            allow_private: config.allow_private_networks,
            allowed: config.allowed_cidrs.clone(),
        }
    }

    /// Whether `host` may be reached at `address`, and if not, why.
    fn judge(&self, host: &str, address: IpAddr) -> Result<(), SsrfError> {
        let canonical = canonical(address);
        let refusal = if CLOUD_METADATA.contains(&canonical) {
            // Opening private networks is about reaching one's own services, not the machine's
            // credentials: only a range that names the address opens it.
            (!self.lists_explicitly(canonical)).then(|| SsrfError::CloudMetadata {
                host: host.to_owned(),
                address,
            })
        } else {
            let permitted = self.allow_private
                || is_public(canonical)
                || self.allowed.iter().any(|net| net.contains(&canonical));
            (!permitted).then(|| SsrfError::Refused {
                host: host.to_owned(),
                address,
            })
        };
        refusal.map_or(Ok(()), Err)
    }

    /// Whether a range of `allowed_cidrs` names the address on purpose. A catch-all
    /// (`0.0.0.0/0`, `::/0`) only says "everything", as `allow_private_networks` does, so it
    /// does not count.
    fn lists_explicitly(&self, address: IpAddr) -> bool {
        self.allowed
            .iter()
            .any(|net| net.prefix_len() > 0 && net.contains(&address))
    }

    fn check_all(&self, host: &str, addresses: &[SocketAddr]) -> Result<(), SsrfError> {
        if addresses.is_empty() {
            return Err(SsrfError::Unresolvable {
                host: host.to_owned(),
                reason: "no addresses".into(),
            });
        }
        addresses
            .iter()
            .try_for_each(|address| self.judge(host, address.ip()))
    }

    /// Checks a URL's host: an address literal directly, a name by resolving it. Every
    /// resolved address must be permitted.
    pub async fn check_url(&self, url: &Url) -> Result<(), SsrfError> {
        match url.host() {
            Some(Host::Ipv4(v4)) => self.check_literal(url, IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => self.check_literal(url, IpAddr::V6(v6)),
            Some(Host::Domain(name)) => {
                let addresses = resolve(name).await?;
                self.check_all(name, &addresses)
            }
            None => Err(SsrfError::Unresolvable {
                host: String::new(),
                reason: "the URL has no host".into(),
            }),
        }
    }

    /// The check for hosts given as addresses, which never reach the resolver.
    pub fn check_literal(&self, url: &Url, address: IpAddr) -> Result<(), SsrfError> {
        self.judge(url.host_str().unwrap_or_default(), address)
    }
}

async fn resolve(host: &str) -> Result<Vec<SocketAddr>, SsrfError> {
    tokio::net::lookup_host((host, 0))
        .await
        .map(Iterator::collect)
        .map_err(|error| SsrfError::Unresolvable {
            host: host.to_owned(),
            reason: error.to_string(),
        })
}

/// The resolver of outbound HTTP clients: it refuses a name if any of its addresses is not
/// permitted, and hands the connector exactly the addresses it checked.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<NetworkPolicy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<NetworkPolicy>) -> Self {
        Self { policy }
    }
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, SsrfError>> + Send>>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = SsrfError;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str();
            let addresses = resolve(host).await?;
            policy.check_all(host, &addresses)?;
            Ok(addresses.into_iter())
        })
    }
}

/// The IPv4 address an IPv6 address stands for, where it embeds one (IPv4-mapped,
/// IPv4-compatible, NAT64, 6to4), so that `::ffff:127.0.0.1` is judged as `127.0.0.1`.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = v6.segments();
    let octets = v6.octets();
    let tail = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    match segments {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible; :: and ::1 are themselves)
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        // ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765)
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail),
        // 64:ff9b::/96, the NAT64 well-known prefix
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        // 2002:AABB:CCDD::/48, 6to4
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
    }
}

/// Whether an address (already canonical) is a public unicast address.
fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    let cgnat = a == 100 && (64..128).contains(&b);
    let ietf_protocol = a == 192 && b == 0 && c == 0;
    let benchmarking = a == 198 && (b == 18 || b == 19);
    let reserved = a >= 240;
    !(v4.is_unspecified()
        || a == 0
        || v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_multicast()
        || v4.is_broadcast()
        || v4.is_documentation()
        || cgnat
        || ietf_protocol
        || benchmarking
        || reserved)
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let first = v6.segments()[0];
    let unique_local = (first & 0xfe00) == 0xfc00;
    let link_local = (first & 0xffc0) == 0xfe80;
    let site_local = (first & 0xffc0) == 0xfec0;
    let documentation = first == 0x2001 && v6.segments()[1] == 0x0db8;
    !(v6.is_unspecified()
        || v6.is_loopback()
        || v6.is_multicast()
        || unique_local
        || link_local
        || site_local
        || documentation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow_private: bool, allowed: &[&str]) -> NetworkPolicy {
        NetworkPolicy {
            allow_private,
            allowed: allowed.iter().map(|net| net.parse().unwrap()).collect(),
        }
    }

    impl NetworkPolicy {
        fn permits(&self, address: &str) -> bool {
            self.judge("host", address.parse().unwrap()).is_ok()
        }
    }

    #[test]
    fn non_public_addresses_and_their_ipv6_disguises_are_refused() {
        let strict = policy(false, &[]);
        for refused in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::",
            "::ffff:0:7f00:1",
        ] {
            assert!(!strict.permits(refused), "{refused} was permitted");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::101:101",
        ] {
            assert!(strict.permits(public), "{public} was refused");
        }
    }

    #[test]
    fn the_configuration_can_open_ranges_or_everything() {
        let allow_loopback = policy(false, &["127.0.0.1/32"]);
        assert!(allow_loopback.permits("127.0.0.1"));
        assert!(allow_loopback.permits("::ffff:127.0.0.1"));
        assert!(!allow_loopback.permits("127.0.0.2"));
        assert!(policy(true, &[]).permits("10.1.2.3"));
    }

    #[test]
    fn cloud_metadata_addresses_open_only_to_a_range_that_names_them() {
        let metadata = [
            "169.254.169.254",
            "fd00:ec2::254",
            "100.100.100.200",
            "::ffff:169.254.169.254",
        ];
        let refusing = [
            policy(false, &[]),
            policy(true, &[]),
            policy(true, &["0.0.0.0/0", "::/0"]),
            policy(false, &["10.0.0.0/8", "fd12::/16", "169.254.1.0/24"]),
        ];
        for (policy, address) in refusing.iter().flat_map(|p| metadata.map(|a| (p, a))) {
            let refused = policy.judge("meta", address.parse().unwrap());
            assert!(
                matches!(refused, Err(SsrfError::CloudMetadata { .. })),
                "{address} under {policy:?}: {refused:?}"
            );
        }
        let listing = policy(
            false,
            &["169.254.0.0/16", "fd00:ec2::/32", "100.100.100.200/32"],
        );
        for address in metadata {
            assert!(listing.permits(address), "{address} was refused");
        }
        let open = policy(true, &[]);
        assert!(open.permits("169.254.169.253") && open.permits("100.100.100.201"));
    }

    #[test]
    fn the_metadata_refusal_says_what_the_address_is() {
        let refused = policy(true, &[])
            .judge(
                "metadata.google.internal",
                "169.254.169.254".parse().unwrap(),
            )
            .unwrap_err()
            .to_string();
        assert!(refused.contains("cloud metadata address"), "{refused}");
        assert!(!refused.contains("allowed_cidrs"), "{refused}");
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to() {
        let strict = policy(false, &[]);
        let url = Url::parse("http://localhost:9/x").unwrap();
        assert!(matches!(
            strict.check_url(&url).await,
            Err(SsrfError::Refused { .. })
        ));
        let literal = Url::parse("http://[::ffff:127.0.0.1]/").unwrap();
        assert!(matches!(
            strict.check_url(&literal).await,
            Err(SsrfError::Refused { .. })
        ));
        let unknown = Url::parse("http://no-such-host.invalid/").unwrap();
        assert!(matches!(
            strict.check_url(&unknown).await,
            Err(SsrfError::Unresolvable { .. })
        ));
    }
}
