import KujiraOCI

/// Where an image comes from or goes to, named like skopeo's transports.
enum ImageLocation: Equatable {
    /// `oci:DIR[:TAG]`: an OCI image layout directory.
    case ociLayout(directory: String, tag: String?)
    /// `oci-archive:FILE[:TAG]`: an OCI image layout in a tar file.
    case ociArchive(file: String, tag: String?)
    /// `docker-archive:FILE[:REF]`: a `docker save` tarball.
    case dockerArchive(file: String, reference: String?)
    /// `docker://REF` or a plain reference: an image in a registry.
    case registry(Reference)

    /// The transports named before the first colon.
    static let transports: Set<String> = ["oci", "oci-archive", "docker-archive", "docker"]

    /// Parses `TRANSPORT:PATH[:SUFFIX]`; as with skopeo, the path ends at the next colon.
    init(parsing text: String) throws {
        if text.hasPrefix("docker://") {
            self = .registry(try Reference(parsing: String(text.dropFirst("docker://".count))))
            return
        }
        if let scheme = text.range(of: "://") {
            throw CLIError("\"\(text)\": unknown transport \"\(text[..<scheme.lowerBound])\" (use docker://, oci:, oci-archive: or docker-archive:)")
        }
        guard let colon = text.firstIndex(of: ":"), ImageLocation.transports.contains(String(text[..<colon])) else {
            // No transport: a registry reference, as with docker (`busybox`, `localhost:5000/a:1`).
            self = .registry(try Reference(parsing: text))
            return
        }
        let transport = String(text[..<colon])
        let rest = text[text.index(after: colon)...]
        let path: String
        let suffix: String?
        if let second = rest.firstIndex(of: ":") {
            path = String(rest[..<second])
            let tail = String(rest[rest.index(after: second)...])
            suffix = tail.isEmpty ? nil : tail
        } else {
            path = String(rest)
            suffix = nil
        }
        guard !path.isEmpty else {
            throw CLIError("\"\(text)\": the \(transport) transport needs a path")
        }
        switch transport {
        case "oci": self = .ociLayout(directory: path, tag: suffix)
        case "oci-archive": self = .ociArchive(file: path, tag: suffix)
        case "docker-archive": self = .dockerArchive(file: path, reference: suffix)
        default:
            throw CLIError("\"\(text)\": write registry images as docker://REF or as a plain reference")
        }
    }
}
