#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import KujiraArchive

extension LayerDiffer {
    /// Writes the changes from the tree `lower` to the tree `upper` to `writer` as a layer.
    /// Does not call `writer.finish()`, so more entries may follow.
    ///
    /// The walk goes through both trees in step, names sorted bytewise:
    /// - only in `lower`: a whiteout `.wh.NAME` (a deleted directory is one whiteout, not
    ///   one per child);
    /// - only in `upper`: the entry, and for a directory its whole subtree;
    /// - a directory in both: written when its mode, owner or xattrs changed (its mtime is
    ///   not compared: adding a child changes it), then compared child by child; a directory
    ///   with a change inside is written too, before that change, with its upper metadata;
    /// - a non-directory that became a directory: the directory and its whole subtree; a
    ///   directory that became a non-directory: the new entry (appliers replace the whole
    ///   directory, so no whiteout is needed);
    /// - any other pair is unchanged when it is the same inode, or when type, mode, owner,
    ///   xattrs, mtime (to the nanosecond), symlink target, device numbers and, for regular
    ///   files, size are equal — and, for a regular file whose two mtimes both have zero
    ///   nanoseconds (so may have been truncated by a tar or a filesystem), the content is
    ///   equal too. This is containerd's rule (`fs.Changes`); set
    ///   ``Options/alwaysCompareContent`` to compare the content of every such file.
    @discardableResult
    public func diffTrees(lower: String, upper: String, to writer: TarWriter) throws -> Statistics {
        let lowerFD = try Self.openTree(lower, role: "lower")
        defer { close(lowerFD) }
        let upperFD = try Self.openTree(upper, role: "upper")
        defer { close(upperFD) }
        return try diffTrees(lowerFD: lowerFD, upperFD: upperFD, lowerName: lower, upperName: upper, to: writer)
    }

    /// Writes the changes between two open trees (neither closed); the names appear in
    /// errors. See ``diffTrees(lower:upper:to:)``.
    @discardableResult
    public func diffTrees(lowerFD: Int32, upperFD: Int32, lowerName: String = "lower directory",
                          upperName: String = "upper directory", to writer: TarWriter) throws -> Statistics {
        try Self.checkProc(options, tree: upperName)
        let archiver = self.archiver
        let emitter = DiffEmitter(writer: writer, options: options, tree: upperName)
        struct Frame {
            var lowerFD: Int32  // -1: nothing below, everything in upper is added
            var upperFD: Int32
            var owned: Bool
            var prefix: String
            var names: [Side]
            var index = 0
        }
        func merged(_ lowerNames: [[UInt8]], _ upperNames: [[UInt8]]) -> [Side] {
            var result: [Side] = []
            result.reserveCapacity(max(lowerNames.count, upperNames.count))
            var l = 0, u = 0
            while l < lowerNames.count || u < upperNames.count {
                if u == upperNames.count || (l < lowerNames.count && lowerNames[l].lexicographicallyPrecedes(upperNames[u])) {
                    result.append(Side(name: lowerNames[l], inLower: true, inUpper: false)); l += 1
                } else if l == lowerNames.count || upperNames[u].lexicographicallyPrecedes(lowerNames[l]) {
                    result.append(Side(name: upperNames[u], inLower: false, inUpper: true)); u += 1
                } else {
                    result.append(Side(name: upperNames[u], inLower: true, inUpper: true)); l += 1; u += 1
                }
            }
            return result
        }
        func frame(lowerFD: Int32, upperFD: Int32, owned: Bool, prefix: String) throws -> Frame {
            let path = prefix.isEmpty ? upperName : String(prefix.dropLast())
            let upperNames = try DirectoryArchiver.sortedNames(upperFD, name: path)
            let lowerNames = lowerFD < 0 ? [] : try DirectoryArchiver.sortedNames(lowerFD, name: path)
            return Frame(lowerFD: lowerFD, upperFD: upperFD, owned: owned, prefix: prefix, names: merged(lowerNames, upperNames))
        }
        func release(_ frame: Frame) {
            guard frame.owned else { return }
            if frame.lowerFD >= 0 { close(frame.lowerFD) }
            close(frame.upperFD)
        }

        var stack = [try frame(lowerFD: lowerFD, upperFD: upperFD, owned: false, prefix: "")]
        defer { for frame in stack { release(frame) } }

        while let top = stack.last {
            if top.index == top.names.count {
                release(top)
                stack.removeLast()
                if !stack.isEmpty { emitter.ancestors.removeLast() }
                continue
            }
            let side = top.names[top.index]
            stack[stack.count - 1].index += 1
            let upperFile = side.inUpper ? try archiver.file(named: side.name, in: top.upperFD, prefix: top.prefix, tree: upperName) : nil
            let lowerFile = side.inLower && top.lowerFD >= 0
                ? try archiver.file(named: side.name, in: top.lowerFD, prefix: top.prefix, tree: lowerName) : nil

            guard let upperFile else {
                if let lowerFile {
                    try emitter.writeWhiteout(prefix: top.prefix, name: String(lowerFile.path.dropFirst(top.prefix.count)))
                }
                continue
            }
            guard case .directory = upperFile.entry.type else {
                if try lowerFile.map({ try changed($0, upperFile, name: side.name, lowerFD: top.lowerFD, upperFD: top.upperFD, trees: (lowerName, upperName)) }) ?? true {
                    try emitter.write(upperFile, named: side.name, in: top.upperFD)
                }
                continue
            }
            // A directory: descend, comparing children against the lower directory if any.
            var lowerChild: Int32 = -1
            var metadataChanged = true
            if let lowerFile, case .directory = lowerFile.entry.type {
                metadataChanged = lowerFile.entry.mode != upperFile.entry.mode || lowerFile.entry.uid != upperFile.entry.uid
                    || lowerFile.entry.gid != upperFile.entry.gid || lowerFile.entry.xattrs != upperFile.entry.xattrs
                lowerChild = try DirectoryArchiver.openDirectory(side.name, in: top.lowerFD, path: lowerFile.path, tree: lowerName)
            }
            let upperChild: Int32
            do {
                upperChild = try DirectoryArchiver.openDirectory(side.name, in: top.upperFD, path: upperFile.path, tree: upperName)
            } catch {
                if lowerChild >= 0 { close(lowerChild) }
                throw error
            }
            let child: Frame
            do {
                child = try frame(lowerFD: lowerChild, upperFD: upperChild, owned: true, prefix: upperFile.path + "/")
            } catch {
                if lowerChild >= 0 { close(lowerChild) }
                close(upperChild)
                throw error
            }
            stack.append(child)
            emitter.ancestors.append(DiffEmitter.Pending(entry: upperFile.entry, written: false))
            if metadataChanged { try emitter.flushAncestors() }
        }
        return emitter.statistics
    }

    /// A name in a merged listing of a lower and an upper directory.
    struct Side {
        var name: [UInt8]
        var inLower: Bool
        var inUpper: Bool
    }

    /// Whether a non-directory `upper` differs from `lower` (see ``diffTrees(lower:upper:to:)``).
    func changed(_ lower: DirectoryArchiver.File, _ upper: DirectoryArchiver.File, name: [UInt8],
                 lowerFD: Int32, upperFD: Int32, trees: (lower: String, upper: String)) throws -> Bool {
        if lower.device == upper.device && lower.inode == upper.inode { return false }
        let a = lower.entry, b = upper.entry
        if a.type != b.type || a.mode != b.mode || a.uid != b.uid || a.gid != b.gid || a.xattrs != b.xattrs
            || a.linkname != b.linkname || a.devmajor != b.devmajor || a.devminor != b.devminor
            || a.size != b.size || a.mtime != b.mtime {
            return true
        }
        guard case .regular = b.type, b.size > 0 else { return false }
        guard options.alwaysCompareContent || (a.mtime.nanoseconds == 0 && b.mtime.nanoseconds == 0) else { return false }
        return try !Self.sameContent(lower, upper, name: name, lowerFD: lowerFD, upperFD: upperFD, trees: trees)
    }

    /// Compares two regular files byte for byte (64 KiB at a time).
    static func sameContent(_ lower: DirectoryArchiver.File, _ upper: DirectoryArchiver.File, name: [UInt8],
                            lowerFD: Int32, upperFD: Int32, trees: (lower: String, upper: String)) throws -> Bool {
        let a = try DirectoryArchiver.openRegular(lower, named: name, in: lowerFD, tree: trees.lower)
        defer { close(a) }
        let b = try DirectoryArchiver.openRegular(upper, named: name, in: upperFD, tree: trees.upper)
        defer { close(b) }
        let chunk = 64 * 1024
        var bufferA = [UInt8](repeating: 0, count: chunk)
        var bufferB = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = try readFully(a, &bufferA, path: lower.path, tree: trees.lower)
            let m = try readFully(b, &bufferB, path: upper.path, tree: trees.upper)
            if n != m || !bufferA[..<n].elementsEqual(bufferB[..<m]) { return false }
            if n < chunk { return true }
        }
    }

    /// Reads until `buffer` is full or the file ends (EINTR-safe); returns the count.
    private static func readFully(_ fd: Int32, _ buffer: inout [UInt8], path: String, tree: String) throws -> Int {
        var total = 0
        while total < buffer.count {
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return read(fd, base + total, raw.count - total)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw LayerError(.systemCallFailed, "cannot read \(path) under \(tree) to compare it", cause: LayerError.Errno(errno))
            }
            if n == 0 { break }
            total += n
        }
        return total
    }
}
