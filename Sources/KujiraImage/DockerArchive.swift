public import KujiraOCI

/// One image in a docker-archive's `manifest.json` (the `docker save` / `docker load`
/// tarball format, moby `image/tarexport`): a JSON array of these.
///
/// ```json
/// [{"Config":"2dad….json","RepoTags":["busybox:latest"],"Layers":["638c…/layer.tar"]}]
/// ```
///
/// Paths are member names inside the tar. Docker before 25 writes `<v1 id>/layer.tar` and
/// `<config hex>.json`; Docker 25 and later write `blobs/sha256/<hex>` for both (and an OCI
/// `index.json` beside them); skopeo writes `<diff_id hex>.tar` and symlinks
/// `<v1 id>/layer.tar` to it.
public struct DockerArchiveManifestEntry: Codable, Hashable, Sendable {
    /// `Config`: the member holding the image config JSON.
    public var config: String
    /// `RepoTags`: the names to tag the image with on load (`busybox:latest`); nil or empty
    /// for an untagged image.
    public var repoTags: [String]?
    /// `Layers`: the members holding the layers' tar streams, base first. Usually
    /// uncompressed, so that a layer's digest is its diff_id.
    public var layers: [String]
    /// `Parent`: the legacy parent image ID (ignored on load, never written).
    public var parent: String?
    /// `LayerSources`: descriptors of foreign layers, by diff_id (Windows base layers).
    public var layerSources: [String: Descriptor]?

    /// Creates an entry.
    public init(config: String, repoTags: [String]?, layers: [String], parent: String? = nil, layerSources: [String: Descriptor]? = nil) {
        self.config = config
        self.repoTags = repoTags
        self.layers = layers
        self.parent = parent
        self.layerSources = layerSources
    }

    enum CodingKeys: String, CodingKey {
        case config = "Config"
        case repoTags = "RepoTags"
        case layers = "Layers"
        case parent = "Parent"
        case layerSources = "LayerSources"
    }
}

extension ImageStoreError.Code {
    /// An image archive (docker-archive, oci-archive, or a rootfs tarball given to
    /// ``ImageStore/importRootfs(from:name:config:)``) that is truncated, not a tar stream,
    /// or whose metadata does not fit its members.
    public static let invalidArchive = ImageStoreError.Code("invalidArchive")
}

/// How archive loads name what they store, kept in one place so that every format names
/// images the same way.
enum ArchiveNaming {
    /// The annotation containerd (and Docker 25+) put on `index.json` entries with the full
    /// image name.
    static let containerdNameAnnotation = "io.containerd.image.name"

    /// The name of an image that came without one (a docker-archive entry without
    /// `RepoTags`; `docker load` lists it as `<none>:<none>`): `localhost/untagged:<first 12
    /// hex digits of the config digest>`. A valid reference, so every command accepts it,
    /// and short-ID lookup by the image ID finds it too.
    static func untaggedName(config: Digest) -> String {
        "localhost/untagged:\(config.encoded.prefix(12))"
    }

    /// A docker-archive RepoTag normalised through ``Reference`` (`busybox:latest` →
    /// `docker.io/library/busybox:latest`).
    static func normalisedTag(_ tag: String, file: String) throws -> String {
        do {
            return try Reference(parsing: tag).description
        } catch {
            throw ImageStoreError(.invalidArchive, "archive \(file): RepoTag \"\(tag)\" in manifest.json is not a valid image reference", cause: error)
        }
    }

    /// The name for an entry of an OCI `index.json` loaded without an explicit name, as the
    /// CLI derives it for `oci:` directories: the `io.containerd.image.name` annotation, or a
    /// `ref.name` that is a full reference (`docker.io/library/busybox:1.36`), else
    /// `localhost/<file name without .tar>:<tag>` (tag: `tag`, else the `ref.name`, else
    /// `latest`).
    static func ociName(for descriptor: Descriptor, file: String, tag: String?) -> String {
        let annotations = descriptor.annotations ?? [:]
        if let name = annotations[containerdNameAnnotation], let reference = try? Reference(parsing: name) {
            return reference.description
        }
        let refName = annotations[Descriptor.refNameAnnotation]
        for candidate in [tag, refName].compactMap({ $0 }) where isFullReference(candidate) {
            if let reference = try? Reference(parsing: candidate) { return reference.description }
        }
        var chosen = tag ?? refName ?? "latest"
        if !Reference.isValidTag(chosen) { chosen = "latest" }
        return "localhost/\(repositoryName(fromFile: file)):\(chosen)"
    }

    /// Whether `string` names a repository, not just a tag: it has a `/`, `:` or `@`.
    static func isFullReference(_ string: String) -> Bool {
        string.contains("/") || string.contains(":") || string.contains("@")
    }

    /// A repository path component made from a file name: the base name without `.tar`
    /// (or `.tar.gz`, `.tgz`, `.tar.zst`), lower-cased, with every run of characters a
    /// reference does not allow turned into one `-`; `image` when nothing is left.
    static func repositoryName(fromFile file: String) -> String {
        var base = FileSystem.baseName(of: file).lowercased()
        for suffix in [".tar.gz", ".tgz", ".tar.zst", ".tar"] where base.hasSuffix(suffix) {
            base.removeLast(suffix.count)
            break
        }
        var out = ""
        var pendingSeparator = false
        for scalar in base.unicodeScalars {
            let isAlphanumeric = (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9")
            if isAlphanumeric {
                if pendingSeparator && !out.isEmpty { out += "-" }
                pendingSeparator = false
                out.unicodeScalars.append(scalar)
            } else {
                pendingSeparator = true
            }
        }
        return out.isEmpty ? "image" : String(out.prefix(128))
    }

    /// Splits a name as written in a docker-archive (`busybox:latest`,
    /// `localhost:5000/app:1`) into repository and tag; the tag is nil when there is none.
    static func splitRepositoryTag(_ name: String) -> (repository: String, tag: String?) {
        let withoutDigest = name.split(separator: "@", maxSplits: 1).first.map(String.init) ?? name
        guard let colon = withoutDigest.lastIndex(of: ":") else { return (withoutDigest, nil) }
        if let slash = withoutDigest.lastIndex(of: "/"), slash > colon { return (withoutDigest, nil) }
        return (String(withoutDigest[..<colon]), String(withoutDigest[withoutDigest.index(after: colon)...]))
    }
}
