/// An image reference such as `busybox`, `ghcr.io/me/app:1.2` or
/// `localhost:5000/a/b@sha256:…`, parsed and normalised like Docker does (the grammar of
/// distribution's `reference/regexp.go` and the rules of `reference/normalize.go`):
///
/// ```
/// reference  := name [ ":" tag ] [ "@" digest ]
/// name       := [ domain "/" ] path            (at most 255 characters in all)
/// domain     := host [ ":" port ]              host: DNS name, IPv4, or [IPv6]
/// path       := component ( "/" component )*
/// component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
/// tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
/// ```
///
/// The first path element is a domain only if it contains `.` or `:`, is `localhost`, or
/// has an upper-case letter; otherwise the domain is `docker.io`, and a one-element path on
/// `docker.io` gets `library/` in front (`busybox` → `docker.io/library/busybox`).
/// `index.docker.io` is spelled `docker.io`.
public struct Reference: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The registry host, with port if any: `docker.io`, `localhost:5000`, `[::1]:5000`.
    public let domain: String
    /// The repository path within the registry: `library/busybox`, `me/app`.
    public let path: String
    /// The tag, if any.
    public let tag: String?
    /// The digest, if any. When both a tag and a digest are present the digest decides what
    /// is pulled; the tag is informative.
    public let digest: Digest?

    /// The registry Docker uses when a reference names none.
    public static let defaultDomain = "docker.io"
    /// The legacy spelling of ``defaultDomain``, normalised to it.
    public static let legacyDefaultDomain = "index.docker.io"
    /// The namespace of official images on ``defaultDomain``.
    public static let officialRepositoryPrefix = "library/"
    /// The longest a name (`domain/path`) may be.
    public static let maximumNameLength = 255

    /// Parses and normalises a reference.
    ///
    /// - Parameters:
    ///   - string: The reference as a user writes it (`busybox`, `me/app:1`, …).
    ///   - defaultTag: The tag given to a reference with neither tag nor digest; `latest` by
    ///     default (`busybox` → `docker.io/library/busybox:latest`). Pass `nil` to keep such
    ///     a reference untagged.
    /// - Throws: ``OCIError`` with code ``OCIError/Code/invalidReference`` and a message
    ///   `invalid reference format: <reason>: "<string>"`.
    public init(parsing string: String, defaultTag: String? = "latest") throws {
        func fail(_ reason: String) -> OCIError {
            OCIError(.invalidReference, "invalid reference format: \(reason): \"\(string)\"")
        }
        guard !string.isEmpty else { throw fail("repository name must have at least one component") }
        if string.utf8.count == 64, string.utf8.allSatisfy(ReferenceGrammar.isLowerHex) {
            throw fail("cannot specify 64-byte hexadecimal strings as a repository name (is it an image ID?)")
        }

        // normalize.go splitDockerDomain: is the first element a domain?
        var domain = Reference.defaultDomain
        var remainder = Substring(string)
        if let slash = string.firstIndex(of: "/") {
            let first = string[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                domain = String(first)
                remainder = string[string.index(after: slash)...]
            }
        }
        if domain == Reference.legacyDefaultDomain { domain = Reference.defaultDomain }

        var digestText: Substring?
        if let at = remainder.firstIndex(of: "@") {
            digestText = remainder[remainder.index(after: at)...]
            remainder = remainder[..<at]
        }
        var tagText: Substring?
        if let colon = remainder.firstIndex(of: ":") {
            tagText = remainder[remainder.index(after: colon)...]
            remainder = remainder[..<colon]
        }
        guard !remainder.isEmpty else { throw fail("repository name must have at least one component") }
        guard remainder.lowercased() == remainder else { throw fail("repository name must be lowercase") }

        var path = String(remainder)
        if domain == Reference.defaultDomain && !path.contains("/") {
            path = Reference.officialRepositoryPrefix + path
        }
        guard ReferenceGrammar.isValidDomain(domain) else {
            throw fail("invalid domain \"\(domain)\" (a host name, IPv4 address or [IPv6] address, then an optional :port)")
        }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            guard ReferenceGrammar.isValidPathComponent(component) else {
                throw fail("invalid path component \"\(component)\" (lower-case letters and digits, separated by '.', '_', '__' or '-')")
            }
        }
        guard domain.utf8.count + 1 + path.utf8.count <= Reference.maximumNameLength else {
            throw fail("repository name must not be more than \(Reference.maximumNameLength) characters")
        }
        if let tagText, !Reference.isValidTag(String(tagText)) {
            throw fail("invalid tag \"\(tagText)\" (1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-')")
        }
        var digest: Digest?
        if let digestText {
            do {
                digest = try Digest(parsing: String(digestText))
            } catch let error as OCIError {
                throw OCIError(.invalidReference, "invalid reference format: \(error.message): \"\(string)\"", cause: error)
            }
        }
        self.domain = domain
        self.path = path
        self.digest = digest
        self.tag = tagText.map(String.init) ?? (digest == nil ? defaultTag : nil)
    }

    /// Whether `tag` is a valid tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    public static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128, ReferenceGrammar.isWordByte(first) else { return false }
        return bytes.dropFirst().allSatisfy {
            ReferenceGrammar.isWordByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }

    /// The repository name, `domain/path`: `docker.io/library/busybox`.
    public var name: String { "\(domain)/\(path)" }

    /// The full normalised reference: `docker.io/library/busybox:latest`,
    /// `localhost:5000/a/b@sha256:…`.
    public var description: String { Reference.render(name, tag, digest) }

    /// The name as Docker shows it: without `docker.io/`, and without `library/` for
    /// official images (`busybox`, `me/app`, `ghcr.io/me/app`).
    public var familiarName: String {
        guard domain == Reference.defaultDomain else { return name }
        if path.hasPrefix(Reference.officialRepositoryPrefix) {
            let rest = path.dropFirst(Reference.officialRepositoryPrefix.count)
            if !rest.contains("/") { return String(rest) }
        }
        return path
    }

    /// The reference as Docker shows it: `busybox:latest`, `me/app@sha256:…`.
    public var familiarString: String { Reference.render(familiarName, tag, digest) }

    /// This reference with `tag` (and the same digest, if any).
    /// - Throws: ``OCIError`` with code ``OCIError/Code/invalidReference`` for an invalid tag.
    public func withTag(_ tag: String) throws -> Reference {
        guard Reference.isValidTag(tag) else {
            throw OCIError(.invalidReference, "invalid reference format: invalid tag \"\(tag)\" for \(name)")
        }
        return Reference(domain: domain, path: path, tag: tag, digest: digest)
    }

    /// This reference pinned to `digest` (keeping the tag, if any).
    public func withDigest(_ digest: Digest) -> Reference {
        Reference(domain: domain, path: path, tag: tag, digest: digest)
    }

    /// This reference without tag and digest: the bare repository.
    public var repositoryOnly: Reference {
        Reference(domain: domain, path: path, tag: nil, digest: nil)
    }

    /// Decodes the normalised string form, as ``description`` writes it. No default tag is
    /// added.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text, defaultTag: nil)
        } catch let error as OCIError {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.message, underlyingError: error))
        }
    }

    /// Encodes ``description``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private init(domain: String, path: String, tag: String?, digest: Digest?) {
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    private static func render(_ name: String, _ tag: String?, _ digest: Digest?) -> String {
        var text = name
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }
}

/// The character classes and productions of the reference grammar, hand-written.
enum ReferenceGrammar {
    static func isLowerHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)
    }

    static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a)
    }

    static func isAlnum(_ byte: UInt8) -> Bool {
        isLowerAlnum(byte) || (byte >= 0x41 && byte <= 0x5a)
    }

    static func isWordByte(_ byte: UInt8) -> Bool {
        isAlnum(byte) || byte == UInt8(ascii: "_")
    }

    /// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`
    static func isValidPathComponent(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        var index = 0
        func alnumRun() -> Bool {
            let start = index
            while index < bytes.count, isLowerAlnum(bytes[index]) { index += 1 }
            return index > start
        }
        guard alnumRun() else { return false }
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "."):
                index += 1
            case UInt8(ascii: "_"):
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "_") { index += 1 }
            case UInt8(ascii: "-"):
                while index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            default:
                return false
            }
            guard alnumRun() else { return false }
        }
        return true
    }

    /// `host [ ":" port ]` where host is dot-separated DNS labels (`[A-Za-z0-9]` at both
    /// ends, `-` inside) or `[` IPv6 hex and colons `]`, and port is digits.
    ///
    /// Unlike Go's regular expression, which would fall back to reading an invalid domain
    /// such as `my_host.com` as a path component, this rejects it: a first element with a
    /// `.` or `:` is meant as a registry.
    static func isValidDomain(_ domain: String) -> Bool {
        var host = Substring(domain)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inside = host[host.index(after: host.startIndex)..<close]
            guard !inside.isEmpty, inside.utf8.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") }) else { return false }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return false }
                port = after.dropFirst()
            }
            host = ""
        } else if let colon = host.firstIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
            guard !host.isEmpty else { return false }
        }
        if let port {
            guard !port.isEmpty, port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
        }
        guard !host.isEmpty else { return true }
        for label in host.split(separator: ".", omittingEmptySubsequences: false) {
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last),
                  bytes.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") })
            else { return false }
        }
        return true
    }

    static func isHex(_ byte: UInt8) -> Bool {
        isLowerHex(byte) || (byte >= 0x41 && byte <= 0x46)
    }
}
