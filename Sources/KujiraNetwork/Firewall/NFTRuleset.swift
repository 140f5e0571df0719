/// The nftables ruleset of one Kujira root, generated whole from the database.
///
/// Kujira owns one table (`inet kujira`, or the name given) and nothing else. Every change
/// replaces that table in a single `nft -f` transaction (create-if-missing, delete, define),
/// so the kernel moves from the old ruleset to the new one atomically, removal is exact by
/// construction, and a table left over from a crash is simply overwritten. Other tables —
/// the host's firewall, Docker's, libvirt's — are never listed, flushed or touched.
///
/// What the table does:
/// - `published` (jumped to from NAT prerouting and output for local destinations): one
///   DNAT rule per published port. Output is needed for connections the host itself makes,
///   including to 127.0.0.1, which also needs `route_localnet=1` on the bridge and the
///   loopback-source masquerade below (Docker's `--userland-proxy=false` design).
/// - `postrouting`: masquerade container traffic leaving its bridge (not for internal
///   networks); masquerade DNAT-ed traffic going back into the bridge it came from
///   (hairpin: a container reaching a sibling through a published port sees replies from
///   the right address); masquerade loopback-sourced traffic entering a bridge.
/// - `forward`: isolation — traffic from one Kujira bridge to another is dropped unless it
///   is a published port (DNAT); internal networks drop everything that leaves or enters.
/// - `guard`: packets arriving on a bridge for 127.0.0.0/8 are dropped, so `route_localnet`
///   never lets a neighbour reach ports published on loopback (CVE-2020-8558).
struct NFTRuleset: Equatable {
    /// One network's part of the ruleset.
    struct NetworkRules: Equatable {
        var bridge: String
        var subnets: [IPSubnet]
        var isInternal: Bool
    }

    /// One published port, resolved to the container's address.
    struct PortRule: Equatable {
        var port: PublishedPort
        var containerIP: IPAddress
        var containerID: String
    }

    var table: String
    var networks: [NetworkRules]
    var ports: [PortRule]

    /// Whether there is anything to install; an empty ruleset means "no table".
    var isEmpty: Bool { networks.isEmpty && ports.isEmpty }

    /// The `nft -f` script that replaces the table with this ruleset (or removes it).
    var script: String {
        var s = "table inet \(table)\ndelete table inet \(table)\n"
        guard !isEmpty else { return s }
        s += "table inet \(table) {\n"
        let bridges = networks.map { quote($0.bridge) }
        s += "  set bridges {\n    type ifname\n"
        if !bridges.isEmpty { s += "    elements = { \(bridges.joined(separator: ", ")) }\n" }
        s += "  }\n"

        s += "  chain guard {\n    type filter hook prerouting priority raw; policy accept;\n"
        s += "    iifname @bridges ip daddr 127.0.0.0/8 drop\n  }\n"

        s += "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n"
        s += "    fib daddr type local jump published\n  }\n"
        s += "  chain output {\n    type nat hook output priority -100; policy accept;\n"
        s += "    fib daddr type local jump published\n  }\n"
        s += "  chain published {\n"
        for rule in ports { s += "    " + dnat(rule) + "\n" }
        s += "  }\n"

        s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n"
        for network in networks {
            let br = quote(network.bridge)
            for subnet in network.subnets {
                let family = subnet.isV4 ? "ip" : "ip6"
                if !network.isInternal {
                    s += "    \(family) saddr \(subnet) oifname != \(br) masquerade\n"
                }
                s += "    oifname \(br) ct status dnat \(family) saddr \(subnet) masquerade\n"
            }
            s += "    oifname \(br) ip saddr 127.0.0.0/8 masquerade\n"
        }
        s += "  }\n"

        s += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n"
        for network in networks where network.isInternal {
            let br = quote(network.bridge)
            s += "    iifname \(br) oifname != \(br) drop\n"
            s += "    oifname \(br) iifname != \(br) drop\n"
        }
        s += "    ct status dnat accept\n"
        for network in networks where !network.isInternal {
            let br = quote(network.bridge)
            s += "    iifname \(br) oifname != \(br) oifname @bridges drop\n"
        }
        s += "  }\n}\n"
        return s
    }

    private func dnat(_ rule: PortRule) -> String {
        let p = rule.port
        let proto = p.proto.rawValue
        let comment = " comment \(quote(String(rule.containerID.prefix(12))))"
        let target = rule.containerIP.isV4
            ? "dnat ip to \(rule.containerIP):\(p.containerPort)"
            : "dnat ip6 to [\(rule.containerIP)]:\(p.containerPort)"
        let match: String
        if let hostIP = p.hostIP, !hostIP.isUnspecified {
            match = "\(hostIP.isV4 ? "ip" : "ip6") daddr \(hostIP)"
        } else {
            match = "meta nfproto \(rule.containerIP.isV4 ? "ipv4" : "ipv6")"
        }
        return "\(match) \(proto) dport \(p.hostPort) \(target)\(comment)"
    }

    private func quote(_ s: String) -> String {
        "\"" + s.filter { $0 != "\"" && $0 != "\\" && $0 != "\n" } + "\""
    }
}
