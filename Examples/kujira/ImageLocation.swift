/// Where an image comes from or goes to, named like skopeo's transports.
enum ImageLocation: Equatable {
    /// `oci:DIR[:TAG]`: an OCI image layout directory.
    case ociLayout(directory: String, tag: String?)
    /// `oci-archive:FILE[:TAG]`: an OCI image layout in a tar file.
    case ociArchive(file: String, tag: String?)
    /// `docker-archive:FILE[:REF]`: a `docker save` tarball.
    case dockerArchive(file: String, reference: String?)

    /// Parses `TRANSPORT:PATH[:SUFFIX]`; as with skopeo, the path ends at the next colon.
    init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":") else {
            throw CLIError("\"\(text)\" names no transport: use oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF] (registries come with the registry client)")
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
        case "docker":
            throw CLIError("\"\(text)\": registry transfers are not implemented yet; use oci:, oci-archive: or docker-archive:")
        default:
            throw CLIError("\"\(text)\": unknown transport \"\(transport)\" (use oci:, oci-archive: or docker-archive:)")
        }
    }
}
