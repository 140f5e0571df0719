/// An `--add-host` entry: `name:ip` (or `name=ip`); `host-gateway` as the address means the
/// gateway of the container's first network, as Docker's `host-gateway` does.
public struct ExtraHost: Hashable, Sendable {
    /// The hostname.
    public var name: String
    /// The address; nil stands for `host-gateway`.
    public var address: IPAddress?

    /// Creates an entry.
    public init(name: String, address: IPAddress?) {
        self.name = name
        self.address = address
    }

    /// Parses `--add-host` text.
    public init(parsing text: String) throws {
        guard let separator = text.firstIndex(where: { $0 == ":" || $0 == "=" }) else {
            throw NetworkError(.invalidArgument, "invalid --add-host \"\(text)\"; expected NAME:IP or NAME=IP")
        }
        let name = String(text[..<separator])
        var value = String(text[text.index(after: separator)...])
        if value.hasPrefix("[") && value.hasSuffix("]") { value = String(value.dropFirst().dropLast()) }
        guard !name.isEmpty, !name.contains(where: \.isWhitespace) else {
            throw NetworkError(.invalidArgument, "invalid --add-host \"\(text)\": empty or blank hostname")
        }
        if value == "host-gateway" {
            self.init(name: name, address: nil)
            return
        }
        guard let ip = IPAddress(value) else {
            throw NetworkError(.invalidArgument, "invalid --add-host \"\(text)\": \"\(value)\" is not an IP address or host-gateway")
        }
        self.init(name: name, address: ip)
    }
}

/// The three files every container gets in `/etc`: `hosts`, `resolv.conf`, `hostname`.
///
/// ```swift
/// let files = ContainerFiles.generate(hostname: "web", attachments: attachments,
///                                     hostResolvConf: .read(), systemdResolved: nil)
/// ```
public struct ContainerFiles: Hashable, Sendable {
    /// `/etc/hosts`.
    public var hosts: String
    /// `/etc/resolv.conf`.
    public var resolvConf: String
    /// `/etc/hostname`.
    public var hostname: String

    /// The address of the embedded DNS server inside each container on a user network.
    public static let embeddedDNSAddress = IPAddress.v4(0x7f00_000b)  // 127.0.0.11

    /// Generates the files for a container on `attachments` (empty for `--network none`).
    ///
    /// - On a user network, resolv.conf names the embedded server 127.0.0.11 (which
    ///   forwards to `dns`, or to the host's servers) with the host's search domains.
    /// - Otherwise it lists `dns`, or the host's servers with loopback ones replaced by
    ///   real upstreams (``ResolvConf/forContainer(host:systemdResolved:ipv6:)``).
    /// - `/etc/hosts` has the loopback entries, the container's own addresses (one line per
    ///   network) under its hostname — followed on user networks by its name and that
    ///   network's aliases — and `extraHosts`.
    public static func generate(hostname: String, domainname: String? = nil, attachments: [Attachment],
                                extraHosts: [ExtraHost] = [], dns: [IPAddress] = [], dnsSearch: [String]? = nil,
                                dnsOptions: [String] = [], hostResolvConf: ResolvConf,
                                systemdResolved: ResolvConf? = nil) -> ContainerFiles {
        var hosts = """
            127.0.0.1\tlocalhost
            ::1\tlocalhost ip6-localhost ip6-loopback
            fe00::0\tip6-localnet
            ff00::0\tip6-mcastprefix
            ff02::1\tip6-allnodes
            ff02::2\tip6-allrouters

            """
        for attachment in attachments {
            for line in hostsLines(for: attachment, hostname: hostname, domainname: domainname) { hosts += line + "\n" }
        }
        let gateway = attachments.first?.gateways.first { $0.isV4 }
        for extra in extraHosts {
            guard let address = extra.address ?? gateway else { continue }
            hosts += "\(address)\t\(extra.name)\n"
        }

        let embedded = attachments.contains { $0.usesEmbeddedDNS }
        var resolv: ResolvConf
        if embedded {
            resolv = ResolvConf(nameservers: [embeddedDNSAddress], search: hostResolvConf.search,
                                options: hostResolvConf.options.filter { !$0.hasPrefix("ndots") } + ["ndots:0"])
        } else if !dns.isEmpty {
            resolv = ResolvConf(nameservers: dns, search: hostResolvConf.search, options: hostResolvConf.options)
        } else {
            let ipv6 = attachments.contains { $0.ipv6 != nil }
            resolv = ResolvConf.forContainer(host: hostResolvConf, systemdResolved: systemdResolved, ipv6: ipv6)
        }
        if let dnsSearch { resolv.search = dnsSearch }
        if !dnsOptions.isEmpty { resolv.options = dnsOptions }
        return ContainerFiles(hosts: hosts, resolvConf: resolv.text, hostname: hostname + "\n")
    }

    /// The `/etc/hosts` lines of the container's own addresses on one network: each address
    /// under its hostname — followed on a user network by its name and that network's
    /// aliases (what the embedded DNS server answers for it too); the default network has
    /// names of neither kind.
    public static func hostsLines(for attachment: Attachment, hostname: String, domainname: String? = nil) -> [String] {
        var names = [domainname.map { "\(hostname).\($0) \(hostname)" } ?? hostname]
        if attachment.usesEmbeddedDNS {
            for name in [attachment.containerName].compactMap({ $0 }) + attachment.aliases
            where !name.isEmpty && name != hostname && !names.contains(name) {
                names.append(name)
            }
        }
        return attachment.addresses.map { "\($0.address)\t\(names.joined(separator: " "))" }
    }

    /// A running container's `/etc/hosts` after `network connect` (`adding`) or `disconnect`
    /// (`removing`), as Docker edits it: the lines of a removed network's addresses under
    /// the container's hostname go, the lines of an added network are appended, and every
    /// other line — entries the container's processes wrote included — stays as it is.
    public static func updateHosts(_ current: String, hostname: String, domainname: String? = nil,
                                   adding: [Attachment] = [], removing: [Attachment] = []) -> String {
        let firstName = domainname.map { "\(hostname).\($0)" } ?? hostname
        let removed = Set(removing.flatMap { $0.addresses.map { "\($0.address)" } })
        var lines = current.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        lines.removeAll { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.count > 1 && removed.contains(String(fields[0])) && fields[1] == firstName
        }
        let existing = Set(lines)
        for attachment in adding {
            for line in hostsLines(for: attachment, hostname: hostname, domainname: domainname) where !existing.contains(line) {
                lines.append(line)
            }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// The servers the embedded DNS server forwards to for a container: `--dns` when
    /// given, else the host's own servers — loopback ones included, because forwarding
    /// happens from the host's namespace, where 127.0.0.53 is reachable.
    public static func upstreams(dns: [IPAddress], hostResolvConf: ResolvConf) -> [IPAddress] {
        dns.isEmpty ? hostResolvConf.nameservers : dns
    }
}
