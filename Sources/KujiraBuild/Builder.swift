// Dockerfile → image: the stages the target needs, in order, each instruction applied to the
// stage's image; RUN through KujiraRuntime (Builder+Run), COPY/ADD written directly
// (Builder+Copy), everything else a config change with an `empty_layer` history entry.
// The image is tagged only once every step succeeded.

public import KujiraImage
import KujiraOCI
import KujiraArchive
import KujiraDockerfile
import KujiraRuntime
import Foundation
import Synchronization
import Glibc

/// Builds images from Dockerfiles into an ``ImageStore``, as `docker build` (BuildKit) does.
///
/// ```swift
/// let store = try ImageStore(root: "/var/lib/kujira")
/// let builder = Builder(store: store)
/// let result = try builder.build(dockerfile: text, contextDirectory: "/src/app",
///                                options: BuildOptions(tags: ["localhost/app:latest"]))
/// print(result.imageID)
/// ```
///
/// `build` blocks (RUN steps wait for their containers); call it from a thread that may
/// block. It needs root: RUN steps run containers and every step mounts an overlay.
public struct Builder: Sendable {
    /// The image store the bases come from and the result goes to.
    public let store: ImageStore
    /// The state directory of the RUN containers (the runtime's `--root`).
    public let runtimeRoot: String
    /// The kujira-init executable; nil finds it next to the running executable or through
    /// `$KUJIRA_INIT_PATH`.
    public let initPath: String?

    /// Creates a builder over `store`; RUN containers keep their state in `runtimeRoot`
    /// (default `<store root>/build-state`).
    public init(store: ImageStore, runtimeRoot: String? = nil, initPath: String? = nil) {
        self.store = store
        self.runtimeRoot = runtimeRoot ?? "\(store.root)/build-state"
        self.initPath = initPath
    }

    /// Builds `dockerfile` (its text) with the files of `contextDirectory` and tags the
    /// result with `options.tags`.
    /// - Throws: ``BuildError``; nothing is tagged then, and every container and mount the
    ///   build made is gone.
    @discardableResult
    public func build(dockerfile: String, contextDirectory: String, options: BuildOptions = BuildOptions()) throws -> BuildResult {
        let run = try BuildRun(builder: self, options: options, contextDirectory: contextDirectory)
        defer { run.cleanUp() }
        return try store.withWriteLease { try run.build(dockerfile) }
    }
}

/// Where a step is, for events and errors.
struct StepContext {
    var number: Int
    var text: String
    var file: String
    var line: Int

    func error(_ code: BuildError.Code, _ message: String, cause: (any Error)? = nil) -> BuildError {
        BuildError(code, message, file: file, line: line, cause: cause)
    }
}

/// The state of one build.
/// The outcomes of the stages of one wave, set from their threads.
final class StageResults: Sendable {
    private let values = Mutex<[Int: Result<StageImage, any Error>]>([:])
    func set(_ index: Int, _ result: Result<StageImage, any Error>) { values.withLock { $0[index] = result } }
    var all: [Int: Result<StageImage, any Error>] { values.withLock { $0 } }
}

/// One build. Stages of a wave run on several threads at once (``buildStages``); what they
/// share is behind `shared` and `pullLock`, the rest is immutable or per stage.
final class BuildRun: @unchecked Sendable {
    let store: ImageStore
    let options: BuildOptions
    let contextDirectory: String
    let buildID: String
    let temporaryDirectory: String
    /// Holds `<temporaryDirectory>.lock` while the build runs (see ``BuildRecovery``).
    let lockFD: Int32
    let snapshots: SnapshotStore
    let runtime: ContainerRuntime
    let cache: BuildCache
    let created: String
    /// What stages running in parallel share: step numbers, finished stages, pulled images.
    private struct Shared {
        var stepNumber = 0
        var finished: [Int: StageImage] = [:]
        var pulled: Set<String> = []
    }
    private let shared = Mutex(Shared())
    /// Pulls one image at a time, so two stages never fetch the same base at once.
    private let pullLock = Mutex(())

    /// The next step's 1-based number in the build.
    func nextStep() -> Int { shared.withLock { $0.stepNumber += 1; return $0.stepNumber } }
    /// The image of a stage built earlier, or nil.
    func finishedStage(_ index: Int) -> StageImage? { shared.withLock { $0.finished[index] } }
    private func setFinished(_ index: Int, _ image: StageImage) { shared.withLock { $0.finished[index] = image } }

    init(builder: Builder, options: BuildOptions, contextDirectory: String) throws {
        store = builder.store
        self.options = options
        self.contextDirectory = contextDirectory
        buildID = "build-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let base = "\(builder.store.root)/build-tmp"
        if mkdir(base, 0o700) != 0 && errno != EEXIST {
            throw BuildError(.io, "cannot create \(base): \(String(cString: strerror(errno)))")
        }
        temporaryDirectory = "\(base)/\(buildID)"
        snapshots = try builder.store.snapshotStore()
        runtime = ContainerRuntime(root: builder.runtimeRoot, initPath: builder.initPath)
        // What builds killed earlier left behind goes first; this build's lock says it lives.
        BuildRecovery.recoverAbandoned(base: base, snapshots: snapshots, runtime: runtime)
        lockFD = try BuildRecovery.lock(buildID, base: base)
        guard mkdir(temporaryDirectory, 0o700) == 0 else {
            close(lockFD)
            throw BuildError(.io, "cannot create \(temporaryDirectory): \(String(cString: strerror(errno)))")
        }
        cache = try BuildCache(root: builder.store.root, content: builder.store.content)
        let seconds = options.sourceDateEpoch ?? Int64(Date().timeIntervalSince1970)
        created = Timestamp(secondsSinceEpoch: seconds).rfc3339
    }

    func cleanUp() {
        try? RootfsWriter.removeTree(at: temporaryDirectory)
        unlink("\(temporaryDirectory).lock")
        close(lockFD)
    }

    /// Writes a layer through `body` and commits it to the content store.
    func commitLayer(_ body: (TarWriter) throws -> Void) throws -> (Descriptor, Digest) {
        let layer = try LayerWriter(store: store.content, compression: .gzip)
        do {
            let tar = TarWriter(layer.sink)
            try body(tar)
            try tar.finish()
            return try layer.commit()
        } catch {
            layer.abort()
            throw error
        }
    }

    // MARK: - Stages

    func build(_ text: String) throws -> BuildResult {
        let file = options.fileName
        var dockerfile: Dockerfile
        do {
            dockerfile = try DockerfileParser.parse(text, fileName: file)
        } catch {
            throw BuildError(.dockerfile, error.description, cause: error)
        }
        for warning in dockerfile.warnings { options.progress(.warning(warning.description)) }
        var evaluation = EvaluationOptions()
        evaluation.buildArgs = options.buildArgs
        evaluation.target = options.target
        let host = Platform.host
        let platform = "\(host.os)/\(host.architecture)" + (host.variant.map { "/\($0)" } ?? "")
        if let requested = options.platform {
            try Self.checkPlatform(requested, what: "--platform=\(requested)", file: nil, line: nil)
        }
        evaluation.targetPlatform = platform
        evaluation.buildPlatform = platform
        var first = try evaluate(dockerfile, evaluation)
        // Bases from the store: their ENV takes part in the expansion, so evaluate again.
        var bases: [String: ImageDetails] = [:]
        for stage in first.stages {
            if let requested = stage.platform {
                try Self.checkPlatform(requested, what: "FROM --platform=\(requested)", file: file,
                                       line: dockerfile.stages[stage.index].location.line)
            }
        }
        for stage in first.stages where stage.baseStage == nil && stage.base.lowercased() != "scratch" {
            if bases[stage.base] != nil { continue }
            let details = try baseImage(stage.base, file: file, line: dockerfile.stages[stage.index].location.line)
            bases[stage.base] = details
            var env: [String: String] = [:]
            for entry in details.configuration.config?.env ?? [] {
                let kv = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                env[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            evaluation.imageEnvironment[stage.base] = env
        }
        first = try evaluate(dockerfile, evaluation)
        // ONBUILD triggers of the bases run first in their stages.
        let withTriggers = try insertingTriggers(dockerfile, stages: first.stages, bases: bases)
        if withTriggers != dockerfile {
            dockerfile = withTriggers
            first = try evaluate(dockerfile, evaluation)
        }

        try buildStages(first.stages, dockerfile: dockerfile, bases: bases)
        guard var image = finishedStage(first.target) else {
            throw BuildError(.unknownStage, "target stage \(options.target ?? "") was not built")
        }
        if !options.labels.isEmpty {
            var config = image.config
            var labels = config.labels ?? [:]
            for (k, v) in options.labels { labels[k] = v }
            config.labels = labels
            image.config = config
        }
        return try commit(image)
    }

    /// Builds `stages` in waves: every stage whose dependencies (its base stage, `COPY --from`
    /// and `RUN --mount from=` stages) are built runs at once, on its own thread. The first
    /// error, in stage order, is thrown once its wave has ended.
    func buildStages(_ stages: [EvaluatedStage], dockerfile: Dockerfile, bases: [String: ImageDetails]) throws {
        let needed = Set(stages.map(\.index))
        var dependencies: [Int: Set<Int>] = [:]
        for stage in stages {
            var deps = Set<Int>()
            if let base = stage.baseStage { deps.insert(base) }
            for evaluated in stage.instructions {
                var names: [String] = []
                switch evaluated.instruction {
                case .copy(let copy), .add(let copy): if let from = copy.from { names.append(from) }
                case .run(let run): names += run.mounts.compactMap(\.from)
                default: break
                }
                for name in names {
                    if let index = dockerfile.stage(named: name)?.index, index != stage.index, needed.contains(index) { deps.insert(index) }
                }
            }
            dependencies[stage.index] = deps
        }
        var pending = stages
        var done = Set<Int>()
        while !pending.isEmpty {
            var wave = pending.filter { dependencies[$0.index, default: []].isSubset(of: done) }
            if wave.isEmpty { wave = [pending[0]] }  // a cycle the evaluator let through: in order
            pending.removeAll { stage in wave.contains { $0.index == stage.index } }
            let results = StageResults()
            let waveStages = wave
            let work: @Sendable (EvaluatedStage) -> Void = { stage in
                let result = Result { try self.buildStage(stage, dockerfile: dockerfile, base: bases[stage.base]) }
                results.set(stage.index, result)
            }
            if waveStages.count == 1 {
                work(waveStages[0])
            } else {
                DispatchQueue.concurrentPerform(iterations: waveStages.count) { work(waveStages[$0]) }
            }
            let outcome = results.all
            for stage in wave {
                switch outcome[stage.index] {
                case .success(let image)?: setFinished(stage.index, image)
                case .failure(let error)?: throw error
                case nil: throw BuildError(.io, "stage \(stage.name ?? String(stage.index)) was not built")
                }
                done.insert(stage.index)
            }
        }
    }

    /// Refuses a platform other than the host's: RUN steps would need emulation.
    static func checkPlatform(_ text: String, what: String, file: String?, line: Int?) throws {
        let requested: Platform
        do { requested = try Platform(parsing: text) } catch {
            throw BuildError(.invalidArgument, "\(what): \(error)", file: file, line: line)
        }
        let host = Platform.host
        let sameVariant = requested.variant == nil || requested.variant == host.variant || (requested.architecture == "arm64" && requested.variant == "v8")
        guard requested.os == host.os && requested.architecture == host.architecture && sameVariant else {
            throw BuildError(.unsupported, "\(what): this host builds \(host) only; building for \(requested) needs emulation of its RUN steps, which Kujira does not do — build on a \(requested) host",
                             file: file, line: line)
        }
    }

    func evaluate(_ dockerfile: Dockerfile, _ evaluation: EvaluationOptions) throws -> EvaluatedBuild {
        switch DockerfileEvaluator.evaluate(dockerfile, options: evaluation) {
        case .success(let build): return build
        case .failure(let error):
            let unknownTarget = error.errors.contains { $0.message.hasPrefix("target stage") }
            throw BuildError(unknownTarget ? .unknownStage : .dockerfile, error.description, cause: error)
        }
    }

    /// The store image a FROM or `COPY --from` names, pulled with ``BuildOptions/pullImage``
    /// when the store lacks it (or always, with ``BuildOptions/alwaysPull``).
    func baseImage(_ name: String, file: String, line: Int) throws -> ImageDetails {
        try pullLock.withLock { _ in
            if options.alwaysPull, let pull = options.pullImage, !wasPulled(name) {
                try pullBase(name, with: pull, file: file, line: line)
            }
            if let details = try localImage(name, file: file, line: line) { return details }
            if let pull = options.pullImage, !wasPulled(name) {
                try pullBase(name, with: pull, file: file, line: line)
                if let details = try localImage(name, file: file, line: line) { return details }
            }
            throw BuildError(.baseImageNotFound, "image \(name) not found locally: pull it first", file: file, line: line)
        }
    }

    private func wasPulled(_ name: String) -> Bool { shared.withLock { $0.pulled.contains(name) } }

    private func pullBase(_ name: String, with pull: @Sendable (String) throws -> Void, file: String, line: Int) throws {
        shared.withLock { _ = $0.pulled.insert(name) }
        do {
            try pull(name)
        } catch {
            throw BuildError(.baseImageNotFound, "image \(name) is not in the store and could not be pulled: \(error)",
                             file: file, line: line, cause: error)
        }
    }

    private func localImage(_ name: String, file: String, line: Int) throws -> ImageDetails? {
        var candidates = [name]
        let lastComponent = name.split(separator: "/").last ?? ""
        if !lastComponent.contains(":") && !name.contains("@") { candidates.append(name + ":latest") }
        if !name.contains("/") { candidates += candidates.map { "docker.io/library/" + $0 } }
        for candidate in candidates {
            if let record = try? store.lookup(candidate) {
                do {
                    return try store.details(of: record)
                } catch {
                    throw BuildError(.io, "cannot read image \(name): \(error)", file: file, line: line, cause: error)
                }
            }
        }
        return nil
    }

    /// Runs one stage's instructions; returns its image.
    func buildStage(_ stage: EvaluatedStage, dockerfile: Dockerfile, base: ImageDetails?) throws -> StageImage {
        let file = options.fileName
        let source = dockerfile.stages[stage.index]
        let total = stage.instructions.count + 1
        let label = { (i: Int) in "[\(stage.name.map { "\($0) " } ?? "")\(i)/\(total)]" }
        let fromStep = nextStep()
        options.progress(.step(number: fromStep, position: label(1), text: "FROM \(stage.base)"))
        var image: StageImage
        if let baseIndex = stage.baseStage, let done = finishedStage(baseIndex) {
            image = done
            image.cmdSetInStage = false
            image.clearTriggers()
        } else if let base {
            image = StageImage(configuration: base.configuration, layers: base.manifest.layers,
                               key: Digest.sha256(of: Array("image \(base.manifestDescriptor.digest)".utf8)))
            image.clearTriggers()
        } else {
            let host = Platform.host
            var config = ImageConfig()
            config.env = [BundleSpec.defaultPath]
            image = StageImage(configuration: ImageConfiguration(architecture: host.architecture, os: host.os, variant: host.variant,
                                                                 config: config, rootfs: RootFS(), history: []),
                               layers: [], key: Digest.sha256(of: Array("scratch".utf8)))
        }
        options.progress(.done(number: fromStep))
        for (i, instruction) in stage.instructions.enumerated() {
            let stepNumber = nextStep()
            let original = i < source.instructions.count ? source.instructions[i].original : instruction.instruction.keyword
            let context = StepContext(number: stepNumber, text: original.trimmingCharacters(in: .whitespaces), file: file, line: instruction.location.line)
            options.progress(.step(number: stepNumber, position: label(i + 2), text: context.text))
            try apply(instruction, to: &image, context: context, dockerfile: dockerfile)
            options.progress(.done(number: stepNumber))
        }
        return image
    }

    /// Writes the config and manifest of `image` and tags it.
    func commit(_ final: StageImage) throws -> BuildResult {
        var image = final
        image.configuration.created = created
        let configDescriptor = try store.content.write(CanonicalJSON.encode(image.configuration), mediaType: MediaType.imageConfig)
        let manifest = Manifest(config: configDescriptor, layers: image.layers)
        let target = try store.content.write(CanonicalJSON.encode(manifest), mediaType: MediaType.imageManifest)
        let names = options.tags.isEmpty ? [target.digest.description] : options.tags
        for name in names { try store.put(name: name, target: target) }
        return BuildResult(imageID: configDescriptor.digest.description, manifestDigest: target.digest.description, names: names)
    }
}
