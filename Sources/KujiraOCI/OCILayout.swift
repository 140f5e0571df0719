/// The `oci-layout` file of an OCI image layout (image-spec image-layout.md,
/// "oci-layout file"): `{"imageLayoutVersion":"1.0.0"}`. The layout's `index.json` is an
/// ``Index``; blobs live under `blobs/<alg>/<encoded>`.
public struct OCILayoutHeader: Codable, Hashable, Sendable {
    /// `imageLayoutVersion`: the version of the layout, `1.0.0`.
    public var imageLayoutVersion: String

    /// The layout version Kujira writes and reads.
    public static let currentVersion = "1.0.0"
    /// The name of the header file at the root of a layout.
    public static let fileName = "oci-layout"
    /// The name of the layout's index file.
    public static let indexFileName = "index.json"
    /// The name of the directory holding blobs.
    public static let blobsDirectory = "blobs"

    /// Creates a header, by default for the current layout version.
    public init(imageLayoutVersion: String = OCILayoutHeader.currentVersion) {
        self.imageLayoutVersion = imageLayoutVersion
    }

    /// The path of the blob with `digest`, relative to the layout root:
    /// `blobs/sha256/<hex>`.
    public static func blobPath(for digest: Digest) -> String {
        "\(blobsDirectory)/\(digest.algorithm.rawValue)/\(digest.encoded)"
    }
}
