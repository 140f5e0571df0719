import CKujiraNetlink
import Glibc

/// A network interface as `RTM_GETLINK` reports it.
struct LinkInfo: Sendable, Hashable {
    var index: Int32
    var name: String
    var master: Int32?
    var alias: String?
    var mtu: UInt32?
    var isUp: Bool
}

/// A route as `RTM_GETROUTE` reports it (only the fields pool carving needs).
struct RouteInfo: Sendable, Hashable {
    var destination: IPSubnet
    var table: UInt32
    var type: UInt8
}

/// The rtnetlink operations of the native driver: links (bridge, veth), addresses, routes.
/// Each is one request; none shells out to `ip`.
extension NetlinkSocket {
    private static let createFlags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL

    /// Creates a bridge `name` with `mtu`, down.
    func createBridge(name: String, mtu: UInt32?) throws {
        var request = NetlinkRequest(type: UInt16(RTM_NEWLINK), flags: Self.createFlags, header: NetlinkHeader.ifinfomsg())
        request.attribute(Int32(IFLA_IFNAME), string: name)
        if let mtu { request.attribute(Int32(IFLA_MTU), u32: mtu) }
        request.nested(Int32(IFLA_LINKINFO)) {
            $0.attribute(Int32(IFLA_INFO_KIND), string: "bridge")
        }
        try perform(request)
    }

    /// Creates a veth pair: `hostName` in this namespace, enslaved to `master`, and its peer
    /// `peerName` created directly inside the namespace `peerNamespaceFD` (IFLA_NET_NS_FD in
    /// the peer's ifinfomsg), so nothing ever has to be moved or renamed.
    func createVethPair(hostName: String, master: Int32?, mtu: UInt32?, peerName: String,
                        peerNamespaceFD: Int32, peerMAC: [UInt8]?) throws {
        var request = NetlinkRequest(type: UInt16(RTM_NEWLINK), flags: Self.createFlags, header: NetlinkHeader.ifinfomsg())
        request.attribute(Int32(IFLA_IFNAME), string: hostName)
        if let mtu { request.attribute(Int32(IFLA_MTU), u32: mtu) }
        if let master { request.attribute(Int32(IFLA_MASTER), u32: UInt32(bitPattern: master)) }
        request.nested(Int32(IFLA_LINKINFO)) { info in
            info.attribute(Int32(IFLA_INFO_KIND), string: "veth")
            info.nested(Int32(IFLA_INFO_DATA)) { data in
                data.nested(Int32(VETH_INFO_PEER)) { peer in
                    peer.raw(NetlinkHeader.ifinfomsg())
                    peer.attribute(Int32(IFLA_IFNAME), string: peerName)
                    peer.attribute(Int32(IFLA_NET_NS_FD), u32: UInt32(bitPattern: peerNamespaceFD))
                    if let mtu { peer.attribute(Int32(IFLA_MTU), u32: mtu) }
                    if let peerMAC { peer.attribute(Int32(IFLA_ADDRESS), peerMAC) }
                }
            }
        }
        try perform(request)
    }

    /// Changes an existing link: brings it up (or down), sets its alias.
    func setLink(index: Int32, up: Bool? = nil, alias: String? = nil) throws {
        let flags: UInt32 = up == true ? UInt32(IFF_UP) : 0
        let change: UInt32 = up == nil ? 0 : UInt32(IFF_UP)
        var request = NetlinkRequest(type: UInt16(RTM_NEWLINK), flags: NLM_F_ACK,
                                     header: NetlinkHeader.ifinfomsg(index: index, flags: flags, change: change))
        if let alias { request.attribute(Int32(IFLA_IFALIAS), string: alias) }
        try perform(request)
    }

    /// Deletes link `name`; returns false when it did not exist.
    @discardableResult
    func deleteLink(name: String) throws -> Bool {
        var request = NetlinkRequest(type: UInt16(RTM_DELLINK), flags: NLM_F_ACK, header: NetlinkHeader.ifinfomsg())
        request.attribute(Int32(IFLA_IFNAME), string: name)
        do {
            try perform(request)
            return true
        } catch let error as NetworkError where (error.cause as? NetlinkFailure)?.errno == ENODEV {
            return false
        }
    }

    /// The link called `name`, or nil.
    func link(named name: String) throws -> LinkInfo? {
        var request = NetlinkRequest(type: UInt16(RTM_GETLINK), flags: 0, header: NetlinkHeader.ifinfomsg())
        request.attribute(Int32(IFLA_IFNAME), string: name)
        request.attribute(Int32(IFLA_EXT_MASK), u32: UInt32(RTEXT_FILTER_SKIP_STATS))
        do {
            return try query(request, dump: false).compactMap(Self.parseLink).first
        } catch let error as NetworkError where (error.cause as? NetlinkFailure)?.errno == ENODEV {
            return nil
        }
    }

    /// Every link in the namespace.
    func links() throws -> [LinkInfo] {
        var request = NetlinkRequest(type: UInt16(RTM_GETLINK), flags: NLM_F_DUMP, header: NetlinkHeader.ifinfomsg())
        request.attribute(Int32(IFLA_EXT_MASK), u32: UInt32(RTEXT_FILTER_SKIP_STATS))
        return try query(request, dump: true).compactMap(Self.parseLink)
    }

    private static func parseLink(_ message: NetlinkMessage) -> LinkInfo? {
        guard message.type == UInt16(RTM_NEWLINK), message.payload.count >= 16 else { return nil }
        let start = message.payload.startIndex
        let attributes = message.attributes(after: 16)
        guard let name = attributes[Int(IFLA_IFNAME)]?.netlinkString else { return nil }
        let flags = message.payload.readLE(UInt32.self, at: start + 8)
        return LinkInfo(
            index: Int32(bitPattern: message.payload.readLE(UInt32.self, at: start + 4)),
            name: name,
            master: attributes[Int(IFLA_MASTER)].map { Int32(bitPattern: $0.readLE(UInt32.self, at: $0.startIndex)) },
            alias: attributes[Int(IFLA_IFALIAS)]?.netlinkString,
            mtu: attributes[Int(IFLA_MTU)].map { $0.readLE(UInt32.self, at: $0.startIndex) },
            isUp: flags & UInt32(IFF_UP) != 0)
    }

    /// Adds `address/prefixLength` to link `index`. IPv6 addresses skip duplicate address
    /// detection (IFA_F_NODAD): the address is unique by allocation, and DAD would delay
    /// reachability by a second or more.
    func addAddress(_ address: IPAddress, prefixLength: Int, index: Int32) throws {
        let family = UInt8(address.isV4 ? AF_INET : AF_INET6)
        var request = NetlinkRequest(type: UInt16(RTM_NEWADDR), flags: Self.createFlags,
                                     header: NetlinkHeader.ifaddrmsg(family: family, prefixLength: UInt8(prefixLength), index: index))
        request.attribute(Int32(IFA_LOCAL), address.bytes)
        request.attribute(Int32(IFA_ADDRESS), address.bytes)
        if address.isV4, let subnet = IPSubnet(address: address, prefixLength: prefixLength), prefixLength < 31 {
            request.attribute(Int32(IFA_BROADCAST), subnet.last.bytes)
        }
        if !address.isV4 { request.attribute(Int32(IFA_FLAGS), u32: UInt32(IFA_F_NODAD)) }
        do {
            try perform(request)
        } catch let error as NetworkError where (error.cause as? NetlinkFailure)?.errno == EEXIST {
            return  // already configured (a bridge shared by a recreated network)
        }
    }

    /// Adds a route to `destination` (the default route when nil) via `gateway` on `index`.
    func addRoute(destination: IPSubnet?, gateway: IPAddress?, index: Int32, ipv6: Bool) throws {
        let family = UInt8(ipv6 ? AF_INET6 : AF_INET)
        let scope = UInt8(gateway == nil ? RT_SCOPE_LINK.rawValue : RT_SCOPE_UNIVERSE.rawValue)
        var request = NetlinkRequest(
            type: UInt16(RTM_NEWROUTE), flags: Self.createFlags,
            header: NetlinkHeader.rtmsg(family: family, destinationLength: UInt8(destination?.prefixLength ?? 0),
                                        table: UInt8(RT_TABLE_MAIN.rawValue), protocol: UInt8(RTPROT_STATIC),
                                        scope: scope, type: UInt8(RTN_UNICAST)))
        if let destination { request.attribute(Int32(RTA_DST.rawValue), destination.address.bytes) }
        if let gateway { request.attribute(Int32(RTA_GATEWAY.rawValue), gateway.bytes) }
        request.attribute(Int32(RTA_OIF.rawValue), u32: UInt32(bitPattern: index))
        try perform(request)
    }

    /// Every route with a destination prefix (default routes excluded) in every table.
    func routes() throws -> [RouteInfo] {
        var result: [RouteInfo] = []
        for family in [AF_INET, AF_INET6] {
            let request = NetlinkRequest(
                type: UInt16(RTM_GETROUTE), flags: NLM_F_DUMP,
                header: NetlinkHeader.rtmsg(family: UInt8(family), destinationLength: 0, table: 0, protocol: 0, scope: 0, type: 0))
            for message in try query(request, dump: true) where message.payload.count >= 12 {
                let start = message.payload.startIndex
                let length = Int(message.payload[start + 1])
                guard length > 0 else { continue }
                let attributes = message.attributes(after: 12)
                guard let dst = attributes[Int(RTA_DST.rawValue)], let address = IPAddress(bytes: dst),
                      let subnet = IPSubnet(address: address, prefixLength: length) else { continue }
                let table = attributes[Int(RTA_TABLE.rawValue)].map { $0.readLE(UInt32.self, at: $0.startIndex) }
                    ?? UInt32(message.payload[start + 4])
                result.append(RouteInfo(destination: subnet, table: table, type: message.payload[start + 7]))
            }
        }
        return result
    }
}
