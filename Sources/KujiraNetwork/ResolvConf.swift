/// The parts of a `resolv.conf` Kujira reads and writes.
public struct ResolvConf: Hashable, Sendable {
    /// `nameserver` lines, in order.
    public var nameservers: [IPAddress]
    /// `search` domains.
    public var search: [String]
    /// `options` values (`ndots:2`, `edns0`, …).
    public var options: [String]

    /// Creates a configuration.
    public init(nameservers: [IPAddress] = [], search: [String] = [], options: [String] = []) {
        self.nameservers = nameservers
        self.search = search
        self.options = options
    }

    /// Parses resolv.conf text; unknown lines are ignored, later `search` lines win.
    public init(parsing text: String) {
        self.init()
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = words.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            let rest = words.dropFirst().map(String.init)
            switch keyword {
            case "nameserver": if let first = rest.first, let ip = IPAddress(first) { nameservers.append(ip) }
            case "search", "domain": search = rest
            case "options": options += rest
            default: continue
            }
        }
    }

    /// The file's text.
    public var text: String {
        var s = ""
        for ns in nameservers { s += "nameserver \(ns)\n" }
        if !search.isEmpty { s += "search \(search.joined(separator: " "))\n" }
        if !options.isEmpty { s += "options \(options.joined(separator: " "))\n" }
        return s
    }

    /// The host's configuration as a container on a network without embedded DNS sees it:
    /// loopback nameservers (systemd-resolved's 127.0.0.53, a local dnsmasq) are
    /// unreachable from the container, so they are replaced by the real upstreams in
    /// `systemdResolved` (`/run/systemd/resolve/resolv.conf`) when that file has them, or
    /// dropped; with nothing left, Docker's fallback of Google's public resolvers is used.
    public static func forContainer(host: ResolvConf, systemdResolved: ResolvConf?, ipv6: Bool) -> ResolvConf {
        var result = host
        result.nameservers = host.nameservers.filter { !$0.isLoopback }
        if result.nameservers.isEmpty, let upstream = systemdResolved {
            result.nameservers = upstream.nameservers.filter { !$0.isLoopback }
        }
        if !ipv6 { result.nameservers.removeAll { !$0.isV4 } }
        if result.nameservers.isEmpty {
            result.nameservers = ["8.8.8.8", "8.8.4.4"].compactMap { IPAddress($0) }
            if ipv6 { result.nameservers += ["2001:4860:4860::8888", "2001:4860:4860::8844"].compactMap { IPAddress($0) } }
        }
        return result
    }

    /// Reads `/etc/resolv.conf` (or `path`); an unreadable file is an empty configuration.
    public static func read(_ path: String = "/etc/resolv.conf") -> ResolvConf {
        (try? readTextFile(path)).map { ResolvConf(parsing: $0) } ?? ResolvConf()
    }
}
