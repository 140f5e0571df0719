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
            try runInstruction(run, evaluated: evaluated, image: &image, context: context)
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

    func runInstruction(_ run: RunInstruction, evaluated: EvaluatedInstruction, image: inout StageImage, context: StepContext) throws {
        if !run.mounts.isEmpty {
            throw context.error(.unsupported, "RUN --mount is not supported yet")
        }
        if let network = run.network, network != "default", network != "none" {
            throw context.error(.unsupported, "RUN --network=\(network) is not supported yet (builds run with loopback only)")
        }
        if let security = run.security, security != "sandbox" {
            throw context.error(.unsupported, "RUN --security=\(security) is not supported")
        }
        guard let command = run.command, run.heredocs.isEmpty else {
            throw context.error(.unsupported, "RUN with a heredoc is not supported yet; write the script to a file and COPY it")
        }
        let argv = image.wrap(command)
        let history = evaluated.historyArgs.compactMap { name in evaluated.buildArgs[name].map { "\(name)=\($0)" } }
        let prefix = history.isEmpty ? "" : "|\(history.count) " + history.joined(separator: " ") + " "
        let createdBy = "RUN " + prefix + argv.joined(separator: " ") + " # buildkit"
        let argsText = evaluated.buildArgs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{0}")
        let key = BuildCache.key(parent: image.key, text: createdBy + "\u{0}" + argsText)
        let current = image
        let layer = try cachedLayer(key, context: context) {
            try runStep(argv, image: current, extraEnvironment: evaluated.buildArgs, context: context)
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
        if copy.parents { throw context.error(.unsupported, "\(keyword) --parents is not supported yet") }
        if !copy.excludes.isEmpty { throw context.error(.unsupported, "\(keyword) --exclude is not supported yet") }
        if copy.checksum != nil { throw context.error(.unsupported, "ADD --checksum is not supported yet (ADD of URLs is not supported yet)") }
        var chmod: UInt32?
        if let text = copy.chmod {
            guard let value = UInt32(text, radix: 8), value <= 0o7777 else {
                throw context.error(.unsupported, "\(keyword) --chmod=\(text): only octal modes are supported yet")
            }
            chmod = value
        }
        // Where the files come from.
        var tree: SourceTree
        var sourceKey: String
        var sourceRootfs: WorkingRootfs?
        defer { try? sourceRootfs?.remove() }
        if let from = copy.from {
            let source: StageImage
            if let stage = dockerfile.stage(named: from) {
                guard let done = finished[stage.index] else {
                    throw context.error(.unknownStage, "\(keyword) --from=\(from): stage \(from) is not built before this one")
                }
                source = done
            } else if from.contains("/") || from.contains(":") || (try? store.lookup(from)) != nil {
                let details = try baseImage(from, file: context.file, line: context.line)
                source = StageImage(configuration: details.configuration, layers: details.manifest.layers,
                                    key: Digest.sha256(of: Array("image \(details.manifestDescriptor.digest)".utf8)))
            } else {
                let names = dockerfile.stages.compactMap(\.name)
                throw context.error(.unknownStage, "\(keyword) --from=\(from): no stage named \(from)" +
                                    (names.isEmpty ? "" : " (stages: \(names.joined(separator: ", ")))") + ", and no local image of that name")
            }
            let id = "\(buildID)-\(context.number)-from"
            let rootfs = try WorkingRootfs(image: source, id: id, target: "\(temporaryDirectory)/\(id)", snapshots: snapshots)
            sourceRootfs = rootfs
            tree = SourceTree(root: rootfs.target, ignore: nil, keepOwners: true, name: "stage \(from)")
            sourceKey = source.key.description
        } else {
            tree = SourceTree(root: contextDirectory, ignore: try contextIgnore(), keepOwners: false, name: "build context")
            sourceKey = "context"
        }
        if keyword == "ADD" {
            for source in copy.sources where source.contains("://") || source.hasPrefix("git@") {
                throw context.error(.unsupported, "ADD of URLs is not supported yet (\(source)); download the file into the build context")
            }
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
        let plan: CopyPlan
        do {
            plan = try CopyPlan.make(copy, keyword: keyword, from: tree, destinationRoot: rootfs.target,
                                     workdir: image.config.workingDir ?? "/", owner: owner, chmod: chmod)
        } catch {
            throw context.error(error.code, error.message, cause: error.cause)
        }
        if keyword == "ADD" {
            for item in plan.items { if case .file(let path) = item.content, Self.isArchive(path) {
                throw context.error(.unsupported, "ADD of a local archive (\(path.dropFirst(contextDirectory.count + 1))) would unpack it; that is not supported yet: COPY it and unpack it with RUN tar")
            } }
        }
        var flags = ""
        if let from = copy.from { flags += "--from=\(from) " }
        if let chown = copy.chown { flags += "--chown=\(chown) " }
        if let chmod = copy.chmod { flags += "--chmod=\(chmod) " }
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

    /// Whether the file starts like a tar (ustar magic), gzip, bzip2, xz or zstd stream.
    static func isArchive(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 512)
        let n = header.withUnsafeMutableBytes { read(fd, $0.baseAddress, 512) }
        guard n >= 4 else { return false }
        if header[0] == 0x1f && header[1] == 0x8b { return true }
        if header[0] == 0x42 && header[1] == 0x5a && header[2] == 0x68 { return true }
        if header[0] == 0xfd && header[1] == 0x37 && header[2] == 0x7a && header[3] == 0x58 { return true }
        if header[0] == 0x28 && header[1] == 0xb5 && header[2] == 0x2f && header[3] == 0xfd { return true }
        return n >= 262 && Array(header[257..<262]) == Array("ustar".utf8)
    }
}
