// RUN's `--mount` and `--network`, and the heredoc forms of RUN, turned into what the step's
// container gets: extra OCI mounts, environment entries, a network mode, and the part of the
// cache key they decide.
//
// - `type=bind`: a directory or file of the build context (after .dockerignore), of a stage
//   or of an image, read-only unless `rw` — and then writes go to a throw-away overlay, as
//   in BuildKit; the source's content is part of the cache key.
// - `type=cache`: a directory under `<root>/build-cache-mounts` that outlives builds, keyed by
//   `id` (default: the target), created with `uid`/`gid`/`mode`; `sharing=locked` and
//   `private` take the directory's lock (private falls back to a fresh directory when another
//   build holds it). Not part of the key, never part of the layer.
// - `type=tmpfs`: a tmpfs of `size` bytes.
// - `type=secret`: the secret from ``BuildOptions/secrets`` as a 0400 file (default
//   `/run/secrets/<id>`) and/or an environment variable (`env=`); `required` makes a missing
//   secret an error. Never part of the key, the layer or the history.
// - `type=ssh`: not supported (a clear error).
//
// Mount points the runtime had to create in the rootfs (they did not exist in the stage) are
// removed again before the diff, when still empty, so a mount never leaves a trace in the image.

import KujiraOCI
import KujiraImage
import KujiraDockerfile
import Foundation
import Glibc

/// What the step's container gets from RUN's flags.
struct RunSetup {
    var mounts: [Mount] = []
    var environment: [String] = []
    /// Share the host's network namespace.
    var hostNetwork = false
    /// Text that joins the cache key (bind sources' digests, mount options).
    var keyText = ""
    /// Every mount target (the ones missing from the rootfs are removed after the run).
    var targets: [String] = []
    /// Locks held for the step (cache mounts with sharing=locked/private).
    var lockFDs: [Int32] = []
    /// Temporary files and directories to remove after the step.
    var scratch: [String] = []
    /// Stage rootfs mounts (bind from=stage) to remove after the step.
    var sourceRootfs: [WorkingRootfs] = []
    /// Overlay mounts (rw binds) to unmount after the step.
    var overlays: [String] = []

    /// Releases everything the setup holds.
    func release() {
        for path in overlays { _ = umount2(path, Int32(MNT_DETACH)) }
        for fd in lockFDs { close(fd) }
        for rootfs in sourceRootfs { try? rootfs.remove() }
        for path in scratch { try? RootfsWriter.removeTree(at: path) }
    }
}

extension BuildRun {
    /// The argv of a RUN and the files it needs at `/dev/pipes` (a heredoc script with a `#!`
    /// line), as BuildKit builds them.
    func runCommand(_ run: RunInstruction, image: StageImage, context: StepContext) throws -> (argv: [String], pipes: [(name: String, content: String)]) {
        guard let command = run.command else {
            throw context.error(.dockerfile, "RUN needs a command")
        }
        guard !run.heredocs.isEmpty else { return (image.wrap(command), []) }
        guard case .shell(let text) = command else {
            throw context.error(.dockerfile, "RUN with a heredoc needs the shell form, not a JSON array")
        }
        if run.heredocs.count == 1, Self.isLoneHeredoc(text) {
            let doc = run.heredocs[0]
            let data = doc.chomp ? Self.chomp(doc.content) : doc.content
            if data.hasPrefix("#!") {
                // A script with an interpreter line: a file, executed.
                return (image.wrap(.shell("/dev/pipes/\(doc.name)")), [(doc.name, data)])
            }
            return (image.wrap(.shell(data)), [])
        }
        // The shell reads the heredocs itself.
        var full = text
        for doc in run.heredocs { full += "\n" + doc.content + doc.name }
        return (image.wrap(.shell(full)), [])
    }

    /// Whether a RUN's command text is nothing but one heredoc marker (`<<EOF`, `<<-"EOF"`).
    static func isLoneHeredoc(_ text: String) -> Bool {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard rest.hasPrefix("<<") else { return false }
        rest = rest.dropFirst(2)
        if rest.hasPrefix("-") { rest = rest.dropFirst() }
        return !rest.isEmpty && !rest.contains(where: { $0 == " " || $0 == "\t" || $0 == "<" || $0 == ">" || $0 == "|" || $0 == ";" || $0 == "&" })
    }

    /// `<<-`: leading tabs removed from every line.
    static func chomp(_ content: String) -> String {
        content.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0.drop(while: { $0 == "\t" })) }
            .joined(separator: "\n")
    }

    /// The mounts, environment and network of a RUN step. The caller releases the result.
    /// With `keyOnly`, only ``RunSetup/keyText`` is computed (and the flags checked): nothing
    /// is mounted, copied or created — what a cache hit needs.
    func runSetup(_ run: RunInstruction, pipes: [(name: String, content: String)], keyOnly: Bool, stepDirectory: String,
                  dockerfile: Dockerfile, context: StepContext) throws -> RunSetup {
        var setup = RunSetup()
        do {
            try fillRunSetup(&setup, run, pipes: pipes, keyOnly: keyOnly, stepDirectory: stepDirectory, dockerfile: dockerfile, context: context)
            return setup
        } catch {
            setup.release()
            throw error
        }
    }

    private func fillRunSetup(_ setup: inout RunSetup, _ run: RunInstruction, pipes: [(name: String, content: String)], keyOnly: Bool,
                              stepDirectory: String, dockerfile: Dockerfile, context: StepContext) throws {
        switch run.network ?? options.network {
        case "default", "host": setup.hostNetwork = true
        case "none": setup.hostNetwork = false
        case let other: throw context.error(.invalidArgument, "RUN --network=\(other): use default, none or host")
        }
        setup.keyText += "network=\(setup.hostNetwork ? "host" : "none")"
        if setup.hostNetwork {
            // The host's resolver and hosts file, as BuildKit gives a host-network step.
            for file in ["/etc/resolv.conf", "/etc/hosts"] where access(file, R_OK) == 0 {
                setup.targets.append(file)
                setup.mounts.append(Mount(destination: file, type: "bind", source: file, options: ["rbind", "ro", "rprivate"]))
            }
        }
        if !pipes.isEmpty {
            setup.keyText += "\u{0}pipes=" + pipes.map { "\($0.name)\u{1}\($0.content)" }.joined(separator: "\u{1}")
        }
        if !pipes.isEmpty && !keyOnly {
            let directory = "\(stepDirectory)/pipes"
            guard mkdir(directory, 0o755) == 0 else { throw BuildError(.io, "cannot create \(directory): \(String(cString: strerror(errno)))") }
            for pipe in pipes {
                try Self.writeFile("\(directory)/\(pipe.name)", Array(pipe.content.utf8), mode: 0o755)
            }
            setup.targets.append("/dev/pipes")
            setup.mounts.append(Mount(destination: "/dev/pipes", type: "bind", source: directory, options: ["rbind", "ro", "rprivate"]))
        }
        for (index, mount) in run.mounts.enumerated() {
            let scratch = "\(stepDirectory)/mount\(index)"
            switch mount.type {
            case .bind:
                try bindMount(mount, scratch: scratch, keyOnly: keyOnly, dockerfile: dockerfile, setup: &setup, context: context)
            case .cache:
                try cacheMount(mount, keyOnly: keyOnly, scratch: scratch, setup: &setup, context: context)
            case .tmpfs:
                guard let target = mount.target else { throw context.error(.dockerfile, "RUN --mount=type=tmpfs needs a target") }
                setup.targets.append(target)
                var opts = ["nosuid", "nodev"]
                if let size = mount.size { opts.append("size=\(size)") }
                setup.mounts.append(Mount(destination: target, type: "tmpfs", source: "tmpfs", options: opts))
                setup.keyText += "\u{0}tmpfs=\(target)"
            case .secret:
                try secretMount(mount, scratch: scratch, keyOnly: keyOnly, setup: &setup, context: context)
            case .ssh:
                throw context.error(.unsupported, "RUN --mount=type=ssh is not supported: Kujira does not forward SSH agents to builds yet")
            }
        }
    }

    /// The mount targets of `targets` and their parents that do not exist in `rootfs`: the
    /// runtime creates them, and ``removeCreatedTargets(_:rootfs:)`` removes them again.
    static func missingPaths(_ targets: [String], rootfs: String) -> [String] {
        var missing: [String] = []
        for target in targets {
            var path = ""
            for part in RootPath.components(target) {
                path += "/" + part
                if !missing.contains(path), RootPath.stat(path, in: rootfs, followLast: false) == nil { missing.append(path) }
            }
        }
        return missing
    }

    private func bindMount(_ mount: RunMount, scratch: String, keyOnly: Bool, dockerfile: Dockerfile, setup: inout RunSetup,
                           context: StepContext) throws {
        guard let target = mount.target else { throw context.error(.dockerfile, "RUN --mount=type=bind needs a target") }
        let sourcePath = mount.source ?? "/"
        var host: String
        var sourceKey: String
        if let from = mount.from {
            let source = try imageOrStage(from, dockerfile: dockerfile, context: context, what: "RUN --mount from=\(from)")
            if keyOnly {
                setup.keyText += "\u{0}bind=\(target)\u{1}\(sourcePath)\u{1}\(mount.readOnly ? "ro" : "rw")\u{1}stage \(source.key)"
                return
            }
            let id = "\(buildID)-\(context.number)-bind\(setup.sourceRootfs.count)"
            let stageRoot = try WorkingRootfs(image: source, id: id, target: "\(temporaryDirectory)/\(id)", snapshots: snapshots)
            setup.sourceRootfs.append(stageRoot)
            guard RootPath.stat(sourcePath, in: stageRoot.target) != nil else {
                throw context.error(.sourceNotFound, "RUN --mount from=\(from): \(sourcePath) does not exist there")
            }
            host = RootPath.resolve(sourcePath, in: stageRoot.target)
            sourceKey = "stage \(source.key)"
        } else {
            guard RootPath.stat(sourcePath, in: contextDirectory) != nil else {
                throw context.error(.sourceNotFound, "RUN --mount source \(sourcePath) not found in the build context")
            }
            host = RootPath.resolve(sourcePath, in: contextDirectory)
            let tree = SourceTree(root: contextDirectory, ignore: try contextIgnore(), keepOwners: false, name: "build context")
            let relative = RootPath.components(sourcePath).joined(separator: "/")
            sourceKey = "context " + (try Self.treeDigest(relative: relative, tree: tree)).description
            if keyOnly {
                setup.keyText += "\u{0}bind=\(target)\u{1}\(sourcePath)\u{1}\(mount.readOnly ? "ro" : "rw")\u{1}\(sourceKey)"
                return
            }
            if tree.ignore != nil {
                // Only what .dockerignore lets into the context may be seen: a filtered copy.
                try Self.copyFiltered(relative: relative, tree: tree, to: scratch)
                setup.scratch.append(scratch)
                host = scratch
            }
        }
        var st = stat()
        guard stat(host, &st) == 0 else { throw context.error(.sourceNotFound, "RUN --mount source \(sourcePath) cannot be read") }
        let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        if !mount.readOnly {
            // Writes are allowed and thrown away: an overlay over the source, or a copy of a file.
            if isDirectory {
                let base = "\(scratch)-rw"
                for dir in [base, "\(base)/upper", "\(base)/work", "\(base)/merged"] where mkdir(dir, 0o755) != 0 {
                    throw BuildError(.io, "cannot create \(dir): \(String(cString: strerror(errno)))")
                }
                let data = "lowerdir=\(host),upperdir=\(base)/upper,workdir=\(base)/work"
                guard Glibc.mount("overlay", "\(base)/merged", "overlay", 0, data) == 0 else {
                    throw BuildError(.io, "cannot mount a writable layer over \(sourcePath): \(String(cString: strerror(errno)))")
                }
                setup.overlays.append("\(base)/merged")
                setup.scratch.append(base)
                host = "\(base)/merged"
            } else {
                let copy = "\(scratch)-rw-file"
                try Self.writeFile(copy, try Self.readFile(host), mode: UInt32(st.st_mode) & 0o7777)
                setup.scratch.append(copy)
                host = copy
            }
        }
        setup.targets.append(target)
        setup.mounts.append(Mount(destination: target, type: "bind", source: host,
                                  options: ["rbind", mount.readOnly ? "ro" : "rw", "rprivate"]))
        setup.keyText += "\u{0}bind=\(target)\u{1}\(sourcePath)\u{1}\(mount.readOnly ? "ro" : "rw")\u{1}\(sourceKey)"
    }

    private func cacheMount(_ mount: RunMount, keyOnly: Bool, scratch: String, setup: inout RunSetup, context: StepContext) throws {
        guard let target = mount.target else { throw context.error(.dockerfile, "RUN --mount=type=cache needs a target") }
        if let from = mount.from {
            throw context.error(.unsupported, "RUN --mount=type=cache,from=\(from) is not supported yet: cache mounts start empty")
        }
        let id = mount.id ?? target
        let sharing = mount.sharing ?? "shared"
        guard ["shared", "private", "locked"].contains(sharing) else {
            throw context.error(.invalidArgument, "RUN --mount=type=cache,sharing=\(sharing): use shared, private or locked")
        }
        setup.keyText += "\u{0}cache=\(target)"
        if keyOnly { return }
        let base = "\(store.root)/build-cache-mounts"
        if mkdir(base, 0o700) != 0 && errno != EEXIST {
            throw BuildError(.io, "cannot create \(base): \(String(cString: strerror(errno)))")
        }
        let key = Digest.sha256(of: Array("\(id)\u{0}\(mount.uid ?? 0):\(mount.gid ?? 0):\(String(mount.mode ?? 0o755, radix: 8))".utf8)).encoded
        var directory = "\(base)/\(key)"
        if sharing != "shared" {
            let lock = open("\(directory).lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard lock >= 0 else { throw BuildError(.io, "cannot open \(directory).lock: \(String(cString: strerror(errno)))") }
            if sharing == "private", flock(lock, LOCK_EX | LOCK_NB) != 0 {
                // Someone else uses it: a private, throw-away directory for this step.
                close(lock)
                directory = scratch + "-cache"
                setup.scratch.append(directory)
            } else {
                if sharing == "locked" {
                    while flock(lock, LOCK_EX) != 0 && errno == EINTR {}
                }
                setup.lockFDs.append(lock)
            }
        }
        if mkdir(directory, mount.mode ?? 0o755) == 0 {
            chmod(directory, mount.mode ?? 0o755)
            chown(directory, mount.uid ?? 0, mount.gid ?? 0)
        } else if errno != EEXIST {
            throw BuildError(.io, "cannot create the cache directory \(directory): \(String(cString: strerror(errno)))")
        }
        setup.targets.append(target)
        setup.mounts.append(Mount(destination: target, type: "bind", source: directory,
                                  options: ["rbind", mount.readOnly ? "ro" : "rw", "rprivate"]))
    }

    private func secretMount(_ mount: RunMount, scratch: String, keyOnly: Bool, setup: inout RunSetup, context: StepContext) throws {
        guard let id = mount.id ?? mount.target.flatMap({ RootPath.components($0).last }) else {
            throw context.error(.dockerfile, "RUN --mount=type=secret needs an id or a target")
        }
        guard let secret = options.secrets[id] else {
            if mount.required {
                throw context.error(.invalidArgument, "secret \(id) is required but was not given: pass --secret id=\(id),src=FILE or env=VARIABLE")
            }
            return
        }
        if keyOnly { return }
        let value: [UInt8]
        switch secret {
        case .file(let path):
            do { value = try Self.readFile(path) } catch {
                throw context.error(.invalidArgument, "secret \(id): cannot read \(path): \(error)")
            }
        case .value(let bytes):
            value = bytes
        }
        if let name = mount.env {
            setup.environment.append("\(name)=\(String(decoding: value, as: UTF8.self))")
            if mount.target == nil { return }
        }
        let target = mount.target ?? "/run/secrets/\(id)"
        try Self.writeFile(scratch, value, mode: mount.mode ?? 0o400)
        chown(scratch, mount.uid ?? 0, mount.gid ?? 0)
        setup.scratch.append(scratch)
        setup.targets.append(target)
        setup.mounts.append(Mount(destination: target, type: "bind", source: scratch, options: ["rbind", "ro", "rprivate"]))
    }

    /// A stage (by name or index) or an image, for `--from`/`from=`.
    func imageOrStage(_ from: String, dockerfile: Dockerfile, context: StepContext, what: String) throws -> StageImage {
        if let stage = dockerfile.stage(named: from) {
            guard let done = finishedStage(stage.index) else {
                throw context.error(.unknownStage, "\(what): stage \(from) is not built before this one")
            }
            return done
        }
        if from.contains("/") || from.contains(":") || options.pullImage != nil || (try? store.lookup(from)) != nil {
            let details = try baseImage(from, file: context.file, line: context.line)
            return StageImage(configuration: details.configuration, layers: details.manifest.layers,
                              key: Digest.sha256(of: Array("image \(details.manifestDescriptor.digest)".utf8)))
        }
        let names = dockerfile.stages.compactMap(\.name)
        throw context.error(.unknownStage, "\(what): no stage named \(from)" +
                            (names.isEmpty ? "" : " (stages: \(names.joined(separator: ", ")))") + ", and no local image of that name")
    }

    /// Removes the mount points (and their missing parents) the runtime created in the
    /// step's rootfs for its mounts, when they are still empty.
    func removeCreatedTargets(_ targets: [String], rootfs: String) {
        // Deepest first, so a created parent is empty by its turn.
        for path in targets.sorted(by: { $0.count > $1.count }) {
            let host = rootfs + path
            var st = stat()
            guard lstat(host, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                _ = rmdir(host)
            } else if (st.st_mode & S_IFMT) == S_IFREG, st.st_size == 0 {
                _ = unlink(host)
            }
        }
    }

    // MARK: - Files

    /// Creates the missing directories between `below` and `path` (a re-included file under
    /// an excluded directory).
    static func makeParents(of path: String, below base: String) {
        guard path.hasPrefix(base + "/") else { return }
        var current = base
        for part in RootPath.components(String(path.dropFirst(base.count))).dropLast() {
            current += "/" + part
            _ = mkdir(current, 0o755)
        }
    }

    static func writeFile(_ path: String, _ bytes: [UInt8], mode: UInt32) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw BuildError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress?.advanced(by: offset), bytes.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BuildError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
            offset += n
        }
        fchmod(fd, mode)
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BuildError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw BuildError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { return result }
            result += buffer[0..<n]
        }
    }

    /// A digest of everything under `relative` in `tree` that the context lets through:
    /// paths, types, modes, link targets and contents (never mtimes).
    static func treeDigest(relative: String, tree: SourceTree) throws -> Digest {
        var hasher = DigestHasher()
        let host = RootPath.resolve(relative, in: tree.root)
        var st = stat()
        guard lstat(host, &st) == 0 else { return hasher.finalize() }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            hasher.update(Array("file \(String(st.st_mode, radix: 8)) \((try CopyPlan.fileDigest(host)).description)\n".utf8))
            return hasher.finalize()
        }
        try CopyPlan.walk(directory: host, relative: relative, to: "/", tree: tree) { (_: String, target: String, st: stat, content: CopyItem.Content) throws(BuildError) in
            var line = "\(target)\u{0}\(String(st.st_mode, radix: 8))\u{0}"
            switch content {
            case .directory: line += "dir"
            case .symlink(let t): line += "link " + t
            case .bytes(let b): line += "bytes " + Digest.sha256(of: b).description
            case .file(let path), .archive(let path):
                do { line += "file " + (try CopyPlan.fileDigest(path)).description } catch {
                    throw (error as? BuildError) ?? BuildError(.io, "\(error)")
                }
            }
            hasher.update(Array((line + "\n").utf8))
        }
        return hasher.finalize()
    }

    /// Copies what `tree` lets through under `relative` to `destination` (files, directories,
    /// symlinks; modes kept).
    static func copyFiltered(relative: String, tree: SourceTree, to destination: String) throws {
        let host = RootPath.resolve(relative, in: tree.root)
        var st = stat()
        guard lstat(host, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            try writeFile(destination, try readFile(host), mode: UInt32(st.st_mode) & 0o7777)
            return
        }
        guard mkdir(destination, 0o755) == 0 else { throw BuildError(.io, "cannot create \(destination): \(String(cString: strerror(errno)))") }
        try CopyPlan.walk(directory: host, relative: relative, to: destination, tree: tree) { (_: String, target: String, st: stat, content: CopyItem.Content) throws(BuildError) in
            switch content {
            case .directory:
                if mkdir(target, UInt32(st.st_mode) & 0o7777) != 0 && errno != EEXIST {
                    throw BuildError(.io, "cannot create \(target): \(String(cString: strerror(errno)))")
                }
            case .symlink(let link):
                if symlink(link, target) != 0 { throw BuildError(.io, "cannot create \(target): \(String(cString: strerror(errno)))") }
            case .file(let path), .archive(let path):
                makeParents(of: target, below: destination)
                do { try writeFile(target, try readFile(path), mode: UInt32(st.st_mode) & 0o7777) } catch {
                    throw (error as? BuildError) ?? BuildError(.io, "\(error)")
                }
            case .bytes(let bytes):
                do { try writeFile(target, bytes, mode: UInt32(st.st_mode) & 0o7777) } catch {
                    throw (error as? BuildError) ?? BuildError(.io, "\(error)")
                }
            }
        }
    }
}
