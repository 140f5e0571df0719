public import KujiraOCI
public import struct Foundation.Date

/// A named image in the ``ImageStore``: a name (normally a reference such as
/// `docker.io/library/busybox:latest`) pointing to the descriptor of a manifest or index
/// in the content store.
public struct ImageRecord: Hashable, Sendable {
    /// The name, exactly as given to ``ImageStore/put(name:target:labels:)``.
    public var name: String
    /// The manifest or index the name points to.
    public var target: Descriptor
    /// The digest of the image config (for an index, the host platform's manifest's
    /// config), or nil when no config applies to this host. Docker shows it as the image ID.
    public var configDigest: Digest?
    /// When the name was first tagged.
    public var created: Date
    /// When the name was last pointed at a target.
    public var updated: Date
    /// Arbitrary key-value metadata.
    public var labels: [String: String]

    /// Creates a record.
    public init(name: String, target: Descriptor, configDigest: Digest?, created: Date, updated: Date, labels: [String: String] = [:]) {
        self.name = name
        self.target = target
        self.configDigest = configDigest
        self.created = created
        self.updated = updated
        self.labels = labels
    }

    /// The image ID as `docker images` shows it: the config digest when known, else the
    /// target's digest.
    public var id: Digest { configDigest ?? target.digest }
}
