// What a build is asked to do, and the events it reports.

/// Options of ``Builder/build(dockerfile:contextDirectory:options:)``, the flags of
/// `docker build`.
public struct BuildOptions: Sendable {
    /// `-t`: names to tag the result with. Without any, the image is recorded under its
    /// manifest digest (`sha256:…`) so that garbage collection keeps it.
    public var tags: [String]
    /// `--build-arg KEY=VALUE`.
    public var buildArgs: [String: String]
    /// `--target`: the stage to build (name or index); the last stage when nil.
    public var target: String?
    /// `--no-cache`: run every step, ignoring (but refreshing) the build cache.
    public var noCache: Bool
    /// `--label`: labels added to the image config after the Dockerfile's.
    public var labels: [String: String]
    /// The Dockerfile name shown in messages (`-f`).
    public var fileName: String
    /// Clamp layer mtimes and the config and history times to this many seconds since the
    /// epoch (`SOURCE_DATE_EPOCH`); identical inputs then give byte-identical images.
    public var sourceDateEpoch: Int64?
    /// Receives progress events, in order, on the building thread.
    public var progress: @Sendable (BuildEvent) -> Void
    /// `--secret id=…,src=…|env=…`: the secrets `RUN --mount=type=secret` can use, by id.
    /// They never reach the image, its history or the cache key.
    public var secrets: [String: BuildSecret] = [:]
    /// `--network`: the network of RUN steps without `--network` (`default` — the host's
    /// network namespace, as BuildKit's OCI worker without CNI —, `host` or `none`).
    public var network: String = "default"
    /// Fetches an image a FROM, `COPY --from` or `RUN --mount from=` names that is not in the
    /// store (a registry pull, typically); the builder then looks it up again. Nil: a
    /// missing base image is an error.
    public var pullImage: (@Sendable (String) throws -> Void)?
    /// `--platform`: the platform to build for (`os/arch[/variant]`); nil or the host's.
    /// Another platform is refused with a clear error (Kujira runs no emulated RUN steps).
    public var platform: String?
    /// `--pull`: fetch every base image with ``pullImage`` even when the store has it.
    public var alwaysPull = false

    /// Creates options.
    public init(tags: [String] = [], buildArgs: [String: String] = [:], target: String? = nil, noCache: Bool = false,
                labels: [String: String] = [:], fileName: String = "Dockerfile", sourceDateEpoch: Int64? = nil,
                progress: @escaping @Sendable (BuildEvent) -> Void = { _ in }) {
        self.tags = tags
        self.buildArgs = buildArgs
        self.target = target
        self.noCache = noCache
        self.labels = labels
        self.fileName = fileName
        self.sourceDateEpoch = sourceDateEpoch
        self.progress = progress
    }
}

/// A build secret (`docker build --secret`).
public enum BuildSecret: Sendable, Hashable {
    /// `src=PATH`: the content of a file, read when a step mounts it.
    case file(String)
    /// `env=NAME` (read by the caller) or a value given directly.
    case value([UInt8])
}

/// A progress event of a build.
public enum BuildEvent: Sendable, Hashable {
    /// A step starts: its 1-based number in the build, its place in its stage
    /// (`[stage name] n/total`) and its text (`RUN echo hi`).
    case step(number: Int, position: String, text: String)
    /// The step's result came from the build cache (nothing ran).
    case cached(number: Int)
    /// A RUN step is executing (the process starts now).
    case running(number: Int)
    /// A line of a RUN step's output (stdout and stderr, merged).
    case output(number: Int, line: String)
    /// The step finished.
    case done(number: Int)
    /// A Dockerfile lint warning.
    case warning(String)
}

/// The outcome of a build.
public struct BuildResult: Sendable {
    /// The image ID: the digest of the image config.
    public var imageID: String
    /// The manifest written for the image.
    public var manifestDigest: String
    /// The image records the tags (or the untagged digest name) point to.
    public var names: [String]
}
