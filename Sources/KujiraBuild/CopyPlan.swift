// What a COPY/ADD writes: the sources matched (globs, .dockerignore), expanded into one item
// per file, directory and symlink, with Docker's destination rules:
// - a relative destination is relative to WORKDIR;
// - a source directory copies its contents, not itself (`COPY dir /dst/` → `/dst/…`);
// - a file goes to `dst/name` when the destination ends in `/` (or is an existing
//   directory), else to `dst` itself;
// - several sources (or a glob) need a destination ending in `/`.

import KujiraOCI
import KujiraDockerfile
import Glibc

/// Where COPY reads from: the build context (with its .dockerignore) or a stage's root.
struct SourceTree {
    /// The host directory.
    var root: String
    /// What to leave out (context only).
    var ignore: DockerIgnore?
    /// Keep the owners of the source files (COPY --from); the context's files are owned by
    /// root unless `--chown` says otherwise.
    var keepOwners: Bool
    /// How messages name it: `build context` or `stage builder`.
    var name: String
}

/// One entry a COPY writes.
struct CopyItem {
    enum Content {
        case file(String)
        case bytes([UInt8])
        case directory
        case symlink(String)
        /// A local archive ADD unpacks into `destination` (a directory).
        case archive(String)
    }
    /// Absolute path in the destination root.
    var destination: String
    var content: Content
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var mtime: Int64
    var mtimeNanoseconds: UInt32
}

/// The items and a digest of everything that decides the layer (never mtimes).
struct CopyPlan {
    var items: [CopyItem] = []
    /// Directories to create (when missing) before the items, e.g. the destination of a
    /// directory source.
    var directories: [String] = []
    /// `--chown`, resolved (archives ADD unpacks take it too).
    var owner: (uid: UInt32, gid: UInt32)?

    /// Hash of paths, types, modes, owners, link targets and content.
    func inputsDigest() throws -> Digest {
        var hasher = DigestHasher()
        for d in directories { hasher.update(Array("mkdir \(d)\n".utf8)) }
        for item in items {
            var line = "\(item.destination)\u{0}\(String(item.mode, radix: 8))\u{0}\(item.uid):\(item.gid)\u{0}"
            switch item.content {
            case .directory: line += "dir"
            case .symlink(let t): line += "link " + t
            case .bytes(let b): line += "bytes " + Digest.sha256(of: b).description
            case .file(let path): line += "file " + (try Self.fileDigest(path)).description
            case .archive(let path): line += "archive " + (try Self.fileDigest(path)).description
            }
            hasher.update(Array((line + "\n").utf8))
        }
        return hasher.finalize()
    }

    static func fileDigest(_ path: String) throws -> Digest {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw BuildError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = DigestHasher()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw BuildError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hasher.finalize()
    }

    /// Plans `copy` from `tree` into a root whose paths are checked with `destinationRoot`.
    /// - Parameters:
    ///   - owner: `--chown` resolved, or nil.
    ///   - chmod: `--chmod` parsed, or nil.
    ///   - workdir: the WORKDIR for a relative destination.
    static func make(_ copy: CopyInstruction, keyword: String, from tree: SourceTree, destinationRoot: String,
                     workdir: String, owner: (uid: UInt32, gid: UInt32)?, chmod: FileModeChange?) throws(BuildError) -> CopyPlan {
        var plan = CopyPlan()
        plan.owner = owner
        var destination = copy.destination
        if !destination.hasPrefix("/") {
            destination = (workdir.hasSuffix("/") ? workdir : workdir + "/") + destination
        }
        let endsWithSlash = destination.hasSuffix("/") || copy.destination == "." || copy.destination.hasSuffix("/.")
        let destinationPath = "/" + RootPath.components(destination).joined(separator: "/")
        let existingDirectory = RootPath.stat(destinationPath, in: destinationRoot).map { ($0.st_mode & S_IFMT) == S_IFDIR } ?? false

        var matches: [(String, String)] = []
        var usedGlob = false
        for source in copy.sources {
            if source.contains("://") {
                throw BuildError(.unsupported, "\(keyword) of URLs is not supported yet (\(source)); download the file into the build context")
            }
            let found = expand(source, in: tree, glob: &usedGlob)
            if found.isEmpty {
                throw BuildError(.sourceNotFound, "\(keyword) source \"\(source)\" not found in the \(tree.name)\(tree.ignore == nil ? "" : " (or excluded by .dockerignore)")")
            }
            matches += found.map { ($0, source) }
        }
        let sourceCount = matches.count + copy.heredocSources.count
        let intoDirectory = endsWithSlash || existingDirectory || usedGlob && sourceCount > 1
        if (copy.sources.count + copy.heredocSources.count > 1 || sourceCount > 1) && !intoDirectory {
            throw BuildError(.invalidArgument, "when using \(keyword) with more than one source file, the destination must be a directory and end with a /")
        }
        func owned(_ st: stat) -> (UInt32, UInt32) {
            if let owner { return owner }
            return tree.keepOwners ? (st.st_uid, st.st_gid) : (0, 0)
        }
        func mode(_ st: stat) -> UInt32 {
            let own = UInt32(st.st_mode) & 0o7777
            return chmod?.apply(to: own, isDirectory: (st.st_mode & S_IFMT) == S_IFDIR) ?? own
        }
        // --exclude: patterns matched against each path below the source (a file source: its name).
        var excludes: DockerIgnore?
        if !copy.excludes.isEmpty {
            do { excludes = try DockerIgnore(copy.excludes.joined(separator: "\n")) } catch {
                throw BuildError(.invalidArgument, "\(keyword) --exclude: \(error.description)")
            }
        }

        for doc in copy.heredocSources {
            let target = intoDirectory ? destinationPath + "/" + doc.name : destinationPath
            plan.items.append(CopyItem(destination: target, content: .bytes(Array(doc.content.utf8)), mode: chmod?.apply(to: 0o644, isDirectory: false) ?? 0o644,
                                       uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mtime: 0, mtimeNanoseconds: 0))
        }
        for (relative, pattern) in matches {
            let host = RootPath.resolve(relative, in: tree.root)
            guard let st = RootPath.stat(relative, in: tree.root) else { continue }
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            // --parents keeps the source's path (from the context root, or from a `/./` in the
            // pattern) under the destination.
            var base = destinationPath
            if copy.parents {
                let kept = parentPath(relative, pattern: pattern)
                let keptParents = isDirectory ? kept : Array(kept.dropLast())
                var current = destinationPath == "/" ? "" : destinationPath
                for part in keptParents {
                    current += "/" + part
                    if !plan.directories.contains(current) { plan.directories.append(current) }
                }
                base = current.isEmpty ? "/" : current
            }
            if isDirectory {
                if !copy.parents { plan.directories.append(destinationPath) }
                try walk(directory: host, relative: RootPath.components(relative).joined(separator: "/"), to: base,
                         tree: tree, exclude: excludes) { path, target, st, content in
                    let (uid, gid) = owned(st)
                    plan.items.append(CopyItem(destination: target, content: content, mode: mode(st), uid: uid, gid: gid,
                                               mtime: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: UInt32(st.st_mtim.tv_nsec)))
                }
            } else if keyword == "ADD", copy.unpack != false, (st.st_mode & S_IFMT) == S_IFREG, ArchiveKind.detect(host) != nil {
                // ADD unpacks a local archive into the destination directory.
                let (uid, gid) = owned(st)
                plan.directories.append(destinationPath)
                plan.items.append(CopyItem(destination: destinationPath, content: .archive(host), mode: 0o755, uid: uid, gid: gid,
                                           mtime: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: UInt32(st.st_mtim.tv_nsec)))
            } else {
                let name = RootPath.components(relative).last ?? relative
                if excludes?.excludes(name) == true { continue }
                let target = copy.parents || intoDirectory ? (base == "/" ? "" : base) + "/" + name : destinationPath
                let (uid, gid) = owned(st)
                let content: CopyItem.Content = (st.st_mode & S_IFMT) == S_IFREG ? .file(host) : .symlink(RootPath.readLink(host) ?? "")
                plan.items.append(CopyItem(destination: target, content: content, mode: mode(st), uid: uid, gid: gid,
                                           mtime: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: UInt32(st.st_mtim.tv_nsec)))
            }
        }
        return plan
    }

    /// Adds downloaded ADD sources: mode 0600 (or `--chmod`), owned by root (or `--chown`),
    /// into the destination directory under their URL's name, or as the destination itself.
    mutating func addRemote(_ remotes: [RemoteFile], copy: CopyInstruction, destinationRoot: String, workdir: String,
                            owner: (uid: UInt32, gid: UInt32)?, chmod: FileModeChange?) throws(BuildError) {
        guard !remotes.isEmpty else { return }
        var destination = copy.destination
        if !destination.hasPrefix("/") {
            destination = (workdir.hasSuffix("/") ? workdir : workdir + "/") + destination
        }
        let endsWithSlash = destination.hasSuffix("/") || copy.destination == "." || copy.destination.hasSuffix("/.")
        let destinationPath = "/" + RootPath.components(destination).joined(separator: "/")
        let existingDirectory = RootPath.stat(destinationPath, in: destinationRoot).map { ($0.st_mode & S_IFMT) == S_IFDIR } ?? false
        let intoDirectory = endsWithSlash || existingDirectory
        if copy.sources.count + copy.heredocSources.count > 1 && !intoDirectory {
            throw BuildError(.invalidArgument, "when using ADD with more than one source file, the destination must be a directory and end with a /")
        }
        for remote in remotes {
            let target = intoDirectory ? (destinationPath == "/" ? "" : destinationPath) + "/" + remote.name : destinationPath
            let mode = chmod?.apply(to: 0o600, isDirectory: false) ?? 0o600
            let content: CopyItem.Content = copy.unpack == true ? .archive(remote.path) : .file(remote.path)
            items.append(CopyItem(destination: copy.unpack == true ? destinationPath : target, content: content, mode: mode,
                                  uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mtime: remote.mtime, mtimeNanoseconds: 0))
            if copy.unpack == true { directories.append(destinationPath) }
        }
    }

    /// The part of a source path --parents keeps: everything, or what follows a `/./` pivot
    /// of the pattern (`src/./lib/a.c` keeps `lib/a.c`).
    static func parentPath(_ relative: String, pattern: String) -> [String] {
        let parts = RootPath.components(relative)
        let patternParts = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let pivot = patternParts.dropFirst().firstIndex(of: ".") else { return parts }
        // Components of the pattern before the pivot, without leading `.` ones.
        let before = patternParts[..<pivot].filter { $0 != "." }.count
        return Array(parts.dropFirst(before))
    }

    /// The tree-relative paths `pattern` names: itself, or the matches of a glob (`*`, `?`,
    /// `[…]` per component), minus ignored paths.
    static func expand(_ pattern: String, in tree: SourceTree, glob: inout Bool) -> [String] {
        let parts = RootPath.components(pattern)
        let isGlob = parts.contains { $0.contains("*") || $0.contains("?") || $0.contains("[") }
        if !isGlob {
            let path = parts.joined(separator: "/")
            if !path.isEmpty, tree.ignore?.excludes(path) == true { return [] }
            return RootPath.stat(path, in: tree.root) == nil ? [] : [path.isEmpty ? "." : path]
        }
        glob = true
        var current: [String] = [""]
        for part in parts {
            var next: [String] = []
            for base in current {
                let dir = RootPath.resolve(base, in: tree.root)
                for name in list(dir) where fnmatch(part, name, FNM_PERIOD) == 0 || (part == name) {
                    next.append(base.isEmpty ? name : base + "/" + name)
                }
            }
            current = next
        }
        return current.filter { tree.ignore?.excludes($0) != true }.sorted()
    }

    static func list(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Visits everything under `directory` (not following symlinks), sorted, skipping
    /// ignored paths; `relative` is the directory's path in the tree.
    static func walk(directory: String, relative: String, to destination: String, tree: SourceTree,
                     exclude: DockerIgnore? = nil, below: String = "",
                     visit: (String, String, stat, CopyItem.Content) throws(BuildError) -> Void) throws(BuildError) {
        for name in list(directory) {
            let rel = relative.isEmpty ? name : relative + "/" + name
            let sourceRelative = below.isEmpty ? name : below + "/" + name
            if let exclude, exclude.excludes(sourceRelative) {
                if !exclude.patterns.contains(where: { $0.exclusion }) { continue }
            }
            let excludedHere = exclude?.excludes(sourceRelative) == true
            if tree.ignore?.excludes(rel) == true {
                // A later `!pattern` may re-include something below an excluded directory.
                if !(tree.ignore?.patterns.contains { $0.exclusion } ?? false) { continue }
            }
            let host = directory + "/" + name
            let target = (destination == "/" ? "" : destination) + "/" + name
            var st = stat()
            guard lstat(host, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                if tree.ignore?.excludes(rel) != true && !excludedHere { try visit(host, target, st, .directory) }
                try walk(directory: host, relative: rel, to: target, tree: tree, exclude: exclude, below: sourceRelative, visit: visit)
            case S_IFREG:
                if tree.ignore?.excludes(rel) != true && !excludedHere { try visit(host, target, st, .file(host)) }
            case S_IFLNK:
                if tree.ignore?.excludes(rel) != true && !excludedHere { try visit(host, target, st, .symlink(RootPath.readLink(host) ?? "")) }
            default:
                continue  // Devices, fifos and sockets are not copied (as BuildKit's context transfer).
            }
        }
    }
}
