// One instruction applied to a stage's image: the cache lookup, then RUN, COPY/ADD, WORKDIR
// or a metadata change, each with its history entry.

import KujiraOCI
import KujiraImage
import KujiraDockerfile
import Glibc

extension BuildRun {
    func apply(_ evaluated: EvaluatedInstruction, to image: inout StageImage, context: StepContext, dockerfile: Dockerfile) throws {
        switch evaluated.instruction {
        case .run(let run):
            try runInstruction(run, evaluated: evaluated, image: &image, context: context, dockerfile: dockerfile)
        case .copy(let copy):
            try copyInstruction(copy, keyword: "COPY", image: &image, context: context, dockerfile: dockerfile)
        case .add(let copy):
            try copyInstruction(copy, keyword: "ADD", image: &image, context: context, dockerfile: dockerfile)
        case .workdir(let path):
            try workdirInstruction(path, image: &image, context: context)
        case .from:
            break
        default:
            let previous = image.config.workingDir ?? "/"
            guard let createdBy = image.applyMetadata(evaluated.instruction, workdir: { Self.join(previous, $0) }) else { return }
            image.recordEmpty(createdBy, created: created)
            image.key = BuildCache.key(parent: image.key, text: createdBy)
        }
    }

    /// `/a` + `b` → `/a/b`; an absolute path stays.
    static func join(_ base: String, _ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : (base.hasSuffix("/") ? base : base + "/") + path
        let parts = RootPath.components(joined).reduce(into: [String]()) { out, part in
            if part == ".." { _ = out.popLast() } else { out.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Reuses a cached layer for `key`, or makes one with `body` and caches it.
    func cachedLayer(_ key: Digest, context: StepContext, _ body: () throws -> (Descriptor, Digest)?) throws -> (Descriptor, Digest)? {
        if !options.noCache, let entry = cache.lookup(key) {
            options.progress(.cached(number: context.number))
            if let layer = entry.layer, let diffID = entry.diffID { return (layer, diffID) }
            return nil
        }
        let result = try body()
        try cache.store(key, BuildCacheEntry(layer: result?.0, diffID: result?.1))
        return result
    }

    // MARK: - RUN

    func runInstruction(_ run: RunInstruction, evaluated: EvaluatedInstruction, image: inout StageImage, context: StepContext,
                        dockerfile: Dockerfile) throws {
        if let security = run.security, security != "sandbox" {
            throw context.error(.unsupported, "RUN --security=\(security) is not supported: Kujira runs build steps sandboxed only")
        }
        let (argv, pipes) = try runCommand(run, image: image, context: context)
        let history = evaluated.historyArgs.compactMap { name in evaluated.buildArgs[name].map { "\(name)=\($0)" } }
        let prefix = history.isEmpty ? "" : "|\(history.count) " + history.joined(separator: " ") + " "
        let createdBy = "RUN " + prefix + argv.joined(separator: " ") + " # buildkit"
        let argsText = evaluated.buildArgs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{0}")
        let keySetup = try runSetup(run, pipes: pipes, keyOnly: true, stepDirectory: "", dockerfile: dockerfile, context: context)
        let key = BuildCache.key(parent: image.key, text: createdBy + "\u{0}" + argsText
                                 + (keySetup.keyText == "network=none" ? "" : "\u{0}" + keySetup.keyText))
        let current = image
        let layer = try cachedLayer(key, context: context) {
            let id = "\(buildID)-\(context.number)"
            let directory = "\(temporaryDirectory)/\(id)"
            guard mkdir(directory, 0o700) == 0 else { throw BuildError(.io, "cannot create \(directory): \(String(cString: strerror(errno)))") }
            defer { try? RootfsWriter.removeTree(at: directory) }
            let setup = try runSetup(run, pipes: pipes, keyOnly: false, stepDirectory: directory, dockerfile: dockerfile, context: context)
            defer { setup.release() }
            return try runStep(argv, image: current, directory: directory, setup: setup, extraEnvironment: evaluated.buildArgs, context: context)
        }
        if let (descriptor, diffID) = layer {
            image.recordLayer(descriptor, diffID: diffID, createdBy: createdBy, created: created)
        }
        image.key = key
    }

    // MARK: - WORKDIR

    func workdirInstruction(_ path: String, image: inout StageImage, context: StepContext) throws {
        let previous = image.config.workingDir ?? "/"
        guard let createdBy = image.applyMetadata(.workdir(path), workdir: { Self.join(previous, $0) }) else { return }
        let directory = image.config.workingDir ?? "/"
        let key = BuildCache.key(parent: image.key, text: createdBy)
        let current = image
        let layer = try cachedLayer(key, context: context) { () throws -> (Descriptor, Digest)? in
            let id = "\(buildID)-\(context.number)"
            let rootfs = try WorkingRootfs(image: current, id: id, target: "\(temporaryDirectory)/\(id)", snapshots: snapshots)
            defer { try? rootfs.remove() }
            if RootPath.stat(directory, in: rootfs.target) != nil { return nil }
            // BuildKit creates the directory owned by the USER in effect.
            let owner = current.config.user.flatMap { user -> (uid: UInt32, gid: UInt32)? in
                if user.isEmpty { return nil }
                if case .success(let ids) = ChownResolver.resolve(user, root: rootfs.target) { return ids }
                return nil
            }
            try ensureDirectory(directory, in: rootfs.target, owner: owner)
            return try commitLayer { tar in try rootfs.diff(to: tar, clampMtime: options.sourceDateEpoch) }
        }
        if let (descriptor, diffID) = layer {
            image.recordLayer(descriptor, diffID: diffID, createdBy: createdBy, created: created)
        } else {
            image.recordEmpty(createdBy, created: created)
        }
        image.key = key
    }

    // MARK: - COPY / ADD

    func copyInstruction(_ copy: CopyInstruction, keyword: String, image: inout StageImage, context: StepContext, dockerfile: Dockerfile) throws {
        var chmod: FileModeChange?
        if let text = copy.chmod {
            guard let change = FileModeChange(text) else {
                throw context.error(.invalidArgument, "\(keyword) --chmod=\(text): give an octal mode (0755) or a symbolic one (u=rwx,go=rx)")
            }
            chmod = change
        }
        // Where the files come from.
        var tree: SourceTree
        var sourceKey: String
        var sourceRootfs: WorkingRootfs?
        defer { try? sourceRootfs?.remove() }
        if let from = copy.from {
            let source = try imageOrStage(from, dockerfile: dockerfile, context: context, what: "\(keyword) --from=\(from)")
            let id = "\(buildID)-\(context.number)-from"
            let rootfs = try WorkingRootfs(image: source, id: id, target: "\(temporaryDirectory)/\(id)", snapshots: snapshots)
            sourceRootfs = rootfs
            tree = SourceTree(root: rootfs.target, ignore: nil, keepOwners: true, name: "stage \(from)")
            sourceKey = source.key.description
        } else {
            tree = SourceTree(root: contextDirectory, ignore: try contextIgnore(), keepOwners: false, name: "build context")
            sourceKey = "context"
        }
        // ADD's remote sources are downloaded first; the rest is planned from the tree.
        var remotes: [RemoteFile] = []
        var repositories: [(GitCheckout, subdir: String, source: String)] = []
        var local = copy
        if keyword == "ADD" {
            local.sources = []
            for source in copy.sources {
                if Self.isGit(source) {
                    let directory = "\(temporaryDirectory)/\(buildID)-\(context.number)-git\(repositories.count)"
                    let (checkout, subdir) = try fetchGit(source, into: directory, context: context)
                    repositories.append((checkout, subdir, source))
                } else if Self.isRemote(source) {
                    let directory = "\(temporaryDirectory)/\(buildID)-\(context.number)-url\(remotes.count)"
                    remotes.append(try download(source, into: directory, checksum: copy.checksum, context: context))
                } else {
                    local.sources.append(source)
                }
            }
            if copy.checksum != nil && (remotes.isEmpty || !local.sources.isEmpty || !repositories.isEmpty) {
                throw context.error(.invalidArgument, "ADD --checksum needs HTTP(S) sources only")
            }
        } else if let source = copy.sources.first(where: { $0.contains("://") }) {
            throw context.error(.invalidArgument, "COPY does not take URLs (\(source)); use ADD")
        }

        let id = "\(buildID)-\(context.number)"
        let rootfs = try WorkingRootfs(image: image, id: id, target: "\(temporaryDirectory)/\(id)", snapshots: snapshots)
        defer { try? rootfs.remove() }
        var owner: (uid: UInt32, gid: UInt32)?
        if let chown = copy.chown {
            switch ChownResolver.resolve(chown, root: rootfs.target) {
            case .success(let ids): owner = ids
            case .failure(let error): throw context.error(.unknownUser, "\(keyword) --chown=\(chown): \(error.message)")
            }
        }
        var plan: CopyPlan
        do {
            if local.sources.isEmpty && local.heredocSources.isEmpty {
                plan = CopyPlan()
                plan.owner = owner
            } else {
                plan = try CopyPlan.make(local, keyword: keyword, from: tree, destinationRoot: rootfs.target,
                                         workdir: image.config.workingDir ?? "/", owner: owner, chmod: chmod)
            }
            try plan.addRemote(remotes, copy: copy, destinationRoot: rootfs.target, workdir: image.config.workingDir ?? "/",
                               owner: owner, chmod: chmod)
            for (checkout, subdir, source) in repositories {
                try plan.addGit(checkout, subdir: subdir, keepGitDir: copy.keepGitDir, source: source, copy: copy,
                                workdir: image.config.workingDir ?? "/", owner: owner, chmod: chmod)
            }
        } catch {
            throw context.error(error.code, error.message, cause: error.cause)
        }
        for item in plan.items {
            if case .archive(let path) = item.content, let kind = ArchiveKind.detect(path), !kind.isSupported {
                throw context.error(.unsupported, "ADD \(path.dropFirst(contextDirectory.count + 1)): \(kind.rawValue) archives cannot be unpacked yet (gzip, zstd and plain tar can); recompress it or COPY it and unpack it with RUN")
            }
        }
        var flags = ""
        if let from = copy.from { flags += "--from=\(from) " }
        if let chown = copy.chown { flags += "--chown=\(chown) " }
        if let chmod = copy.chmod { flags += "--chmod=\(chmod) " }
        if copy.parents { flags += "--parents " }
        for pattern in copy.excludes { flags += "--exclude=\(pattern) " }
        let createdBy = "\(keyword) \(flags)" + (copy.sources + copy.heredocSources.map { "<<\($0.name)" }).joined(separator: " ") + " \(copy.destination) # buildkit"
        let key = BuildCache.key(parent: image.key, text: createdBy + "\u{0}" + sourceKey + "\u{0}" + (image.config.workingDir ?? "/"),
                                 inputs: try plan.inputsDigest())
        let current = image
        let layer = try cachedLayer(key, context: context) {
            try copyStep(plan, image: current, rootfs: rootfs, context: context)
        }
        if let (descriptor, diffID) = layer {
            image.recordLayer(descriptor, diffID: diffID, createdBy: createdBy, created: created)
        }
        image.key = key
    }

    /// The context's .dockerignore, or nil.
    func contextIgnore() throws -> DockerIgnore? {
        guard let data = RootPath.read(".dockerignore", in: contextDirectory) else { return nil }
        do {
            return try DockerIgnore(String(decoding: data, as: UTF8.self))
        } catch {
            throw BuildError(.invalidArgument, "\(contextDirectory)/\(error.description)", cause: error)
        }
    }

}

/// The archive formats ADD recognises by their first bytes.
enum ArchiveKind: String {
    case tar, gzip, zstd, bzip2, xz

    /// Whether ADD can unpack it.
    var isSupported: Bool { self == .tar || self == .gzip || self == .zstd }

    /// The kind of archive the file at `path` starts like, or nil.
    static func detect(_ path: String) -> ArchiveKind? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 512)
        let n = header.withUnsafeMutableBytes { read(fd, $0.baseAddress, 512) }
        guard n >= 4 else { return nil }
        if header[0] == 0x1f && header[1] == 0x8b { return .gzip }
        if header[0] == 0x42 && header[1] == 0x5a && header[2] == 0x68 { return .bzip2 }
        if header[0] == 0xfd && header[1] == 0x37 && header[2] == 0x7a && header[3] == 0x58 { return .xz }
        if header[0] == 0x28 && header[1] == 0xb5 && header[2] == 0x2f && header[3] == 0xfd { return .zstd }
        return n >= 262 && Array(header[257..<262]) == Array("ustar".utf8) ? .tar : nil
    }
}
