#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import CKujiraSys

/// A container root filesystem made from a ``SnapshotChain``: an overlay mount, or a copy.
public struct RootfsMount: Sendable, Hashable, Codable {
    /// How the rootfs was made.
    public var mode: SnapshotStore.Mode
    /// Where it is: the mount point (overlay) or the copied tree (copy).
    public var target: String
    /// The overlay lower directories, top layer first; empty for a copy.
    public var lowerDirs: [String]
    /// The overlay upper directory, or nil (read-only mount, or copy).
    public var upperDir: String?
    /// The overlay work directory, or nil.
    public var workDir: String?
    /// Mounted with overlayfs's `volatile` option (a rootfs that is thrown away when its
    /// container exits, as podman mounts `run --rm`'s): no sync of the upper filesystem,
    /// neither on `syncfs` nor at unmount — the unmount of a normal overlay writes back the
    /// whole filesystem the upper directory is on. After a crash of the kernel the upper
    /// directory cannot be mounted again, only removed. Nil in records written before.
    public var isVolatile: Bool?

    /// The `mount -t overlay overlay -o OPTIONS TARGET` options (empty for a copy).
    public var options: String {
        guard mode == .overlay, !lowerDirs.isEmpty else { return "" }
        var options = "lowerdir=\(lowerDirs.joined(separator: ":"))"
        if let upperDir, let workDir {
            options += ",upperdir=\(upperDir),workdir=\(workDir)"
            if isVolatile == true { options += ",volatile" }
        }
        return options
    }

    /// Unmounts an overlay (lazily if it is busy); does nothing for a copy.
    /// - Throws: ``ImageStoreError`` `.io` when `umount2` fails for another reason than
    ///   "not mounted".
    public func unmount() throws {
        guard mode == .overlay else { return }
        try SnapshotStore.unmount(target)
    }
}

extension SnapshotStore {
    /// The most bytes of mount options the kernel takes (one page).
    static let maxMountOptionBytes = 4095

    /// Prepares the root filesystem of container `containerID` at `target` (created if
    /// missing): in overlay mode an overlay mount of `chain` with an upper and a work
    /// directory under `<root>/containers/<id>/`; in copy mode a copy of the chain's tree
    /// (`cp -a --reflink=auto`). The description is saved so ``removeRootfs(containerID:)``
    /// can undo it from another process. `volatile` (overlay mode) mounts it with overlayfs's
    /// `volatile` option and saves the description without fsync, for a rootfs nobody mounts
    /// again (``RootfsMount/isVolatile``): after a power failure it is only removed, and
    /// removal needs no description of a mount the reboot undid.
    /// - Throws: ``ImageStoreError`` `.invalidArgument` for a bad id or a container that
    ///   already has a rootfs, `.io` when the mount or copy fails.
    @discardableResult
    public func prepareRootfs(containerID: String, chain: SnapshotChain, target: String, volatile: Bool = false) throws -> RootfsMount {
        try Self.checkContainerID(containerID)
        guard chain.mode == mode else {
            throw ImageStoreError(.invalidArgument, "snapshot chain \(chain.chainID) is in \(chain.mode) mode but this store is in \(mode) mode")
        }
        let containerDirectory = "\(containersDirectory)/\(containerID)"
        if mkdir(containerDirectory, 0o700) != 0 {
            if errno == EEXIST {
                throw ImageStoreError(.invalidArgument, "container \(containerID) already has a root filesystem; remove it first with removeRootfs")
            }
            throw ImageStoreError.posix("mkdir", path: containerDirectory, errno: errno)
        }
        do {
            try FileSystem.makeDirectories(target)
            let rootfs: RootfsMount
            switch mode {
            case .overlay:
                let upper = "\(containerDirectory)/upper", work = "\(containerDirectory)/work"
                for dir in [upper, work] where mkdir(dir, 0o755) != 0 { throw ImageStoreError.posix("mkdir", path: dir, errno: errno) }
                rootfs = RootfsMount(mode: .overlay, target: target, lowerDirs: chain.snapshots.reversed().map(\.path), upperDir: upper, workDir: work,
                                     isVolatile: volatile ? true : nil)
                // Saved before mounting: a crash after the mount still leaves a record to undo it.
                try save(rootfs, in: containerDirectory, durable: !volatile)
                try Self.mountOverlay(rootfs)
            case .copy:
                rootfs = RootfsMount(mode: .copy, target: target, lowerDirs: [], upperDir: nil, workDir: nil)
                try save(rootfs, in: containerDirectory)
                guard let source = chain.snapshots.first?.path else {
                    throw ImageStoreError(.invalidArgument, "snapshot chain \(chain.chainID) has no snapshot")
                }
                try Self.copyTree(from: source, to: target)
            }
            return rootfs
        } catch {
            try? removeRootfs(containerID: containerID)
            throw error
        }
    }

    /// Removes the root filesystem of `containerID`: unmounts it and deletes its upper and
    /// work directories (overlay), or deletes the copied tree (copy). The snapshots stay.
    /// Removing a container that has none is not an error.
    public func removeRootfs(containerID: String) throws {
        try Self.checkContainerID(containerID)
        let containerDirectory = "\(containersDirectory)/\(containerID)"
        guard FileSystem.exists(containerDirectory) else { return }
        if let bytes = try? FileSystem.readFile("\(containerDirectory)/rootfs.json"),
           let rootfs = try? JSONDecoder().decode(RootfsMount.self, from: Data(bytes)) {
            switch rootfs.mode {
            case .overlay: try rootfs.unmount()
            case .copy: if FileSystem.exists(rootfs.target) { try RootfsWriter.removeTree(at: rootfs.target) }
            }
        }
        try RootfsWriter.removeTree(at: containerDirectory)
    }

    /// Mounts the saved overlay rootfs of `containerID` again when it is not mounted (after
    /// a reboot, or an unmount by someone else); returns whether it mounted it. A copy, or a
    /// container without a saved rootfs, is left alone.
    /// - Throws: ``ImageStoreError`` `.io` when the mount fails (a lower layer gone, …).
    @discardableResult
    public func remountRootfs(containerID: String) throws -> Bool {
        guard let rootfs = try rootfs(of: containerID), rootfs.mode == .overlay else { return false }
        guard !Self.isMountPoint(rootfs.target) else { return false }
        try FileSystem.makeDirectories(rootfs.target)
        try Self.mountOverlay(rootfs)
        return true
    }

    /// Whether `path` is a mount point in this process's mount namespace
    /// (`/proc/self/mountinfo`, octal escapes decoded).
    static func isMountPoint(_ path: String) -> Bool {
        // Fast path: an overlay has a device of its own.
        var mine = stat(), parent = stat()
        if stat(path, &mine) == 0, stat("\(path)/..", &parent) == 0, mine.st_dev != parent.st_dev { return true }
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let wanted = realpath(path, &resolved) != nil
            ? String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : path
        // Read to the end: Foundation's String(contentsOfFile:) stops after procfs's first
        // short read (about 4 KiB of mountinfo), which hid later mounts.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/mountinfo"),
              let data = try? handle.readToEnd() else { return false }
        try? handle.close()
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 4 else { continue }
            if unescapeMountField(fields[4]) == wanted { return true }
        }
        return false
    }

    /// Decodes mountinfo's `\ooo` escapes (space, tab, newline, backslash).
    static func unescapeMountField(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var index = 0
        while index < raw.count {
            if raw[index] == 0x5C, index + 3 < raw.count,
               let value = UInt8(String(decoding: raw[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The saved rootfs of `containerID`, or nil.
    public func rootfs(of containerID: String) throws -> RootfsMount? {
        try Self.checkContainerID(containerID)
        guard let bytes = try? FileSystem.readFile("\(containersDirectory)/\(containerID)/rootfs.json") else { return nil }
        return try? JSONDecoder().decode(RootfsMount.self, from: Data(bytes))
    }

    private func save(_ rootfs: RootfsMount, in directory: String, durable: Bool = true) throws {
        try FileSystem.writeFileAtomically("\(directory)/rootfs.json", Array(try ImageStore.encode(rootfs).utf8), durable: durable)
    }

    static func checkContainerID(_ id: String) throws {
        let allowed = id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d || c == 0x5f || c == 0x2e
        }
        guard !id.isEmpty, id.utf8.count <= 128, allowed, id != ".", id != ".." else {
            throw ImageStoreError(.invalidArgument, "container id \"\(id)\" is not valid: use 1–128 letters, digits, '-', '_' or '.'")
        }
    }

    // MARK: - Mounting

    /// Mounts `rootfs` (overlay mode). A read-only rootfs with a single layer is a read-only
    /// bind mount of it.
    static func mountOverlay(_ rootfs: RootfsMount) throws {
        let options = rootfs.options
        if options.utf8.count > maxMountOptionBytes {
            throw ImageStoreError(.invalidArgument, "the overlay mount options for \(rootfs.target) are \(options.utf8.count) bytes, over the kernel's \(maxMountOptionBytes)-byte limit (\(rootfs.lowerDirs.count) layers); use a shorter --root path or squash the image")
        }
        if rootfs.upperDir == nil && rootfs.lowerDirs.count == 1, let only = rootfs.lowerDirs.first {
            if mount(only, rootfs.target, nil, UInt(MS_BIND), nil) != 0 {
                throw ImageStoreError.posix("bind mount of \(only) on", path: rootfs.target, errno: errno)
            }
            if mount(nil, rootfs.target, nil, UInt(MS_BIND | MS_REMOUNT | MS_RDONLY), nil) != 0 {
                let code = errno
                umount2(rootfs.target, Int32(MNT_DETACH))
                throw ImageStoreError.posix("read-only remount of", path: rootfs.target, errno: code)
            }
            return
        }
        let flags = rootfs.upperDir == nil ? UInt(MS_RDONLY) : 0
        if mount("overlay", rootfs.target, "overlay", flags, options) != 0 {
            let code = errno
            // Kernels before 5.10 do not know `volatile`: the same mount without it is only slower.
            var plain = rootfs
            plain.isVolatile = nil
            guard code == EINVAL, rootfs.isVolatile == true else {
                throw ImageStoreError.posix("overlay mount (\(options)) on", path: rootfs.target, errno: code)
            }
            if mount("overlay", rootfs.target, "overlay", flags, plain.options) != 0 {
                throw ImageStoreError.posix("overlay mount (\(plain.options)) on", path: rootfs.target, errno: errno)
            }
        }
    }

    /// Unmounts `target`; lazily when busy; "not mounted" is not an error.
    static func unmount(_ target: String) throws {
        if umount2(target, 0) == 0 { return }
        switch errno {
        case EINVAL, ENOENT: return  // Not a mount point (any more).
        case EBUSY:
            if umount2(target, Int32(MNT_DETACH)) != 0 && errno != EINVAL {
                throw ImageStoreError.posix("lazy unmount of", path: target, errno: errno)
            }
        default:
            throw ImageStoreError.posix("unmount of", path: target, errno: errno)
        }
    }

    /// `cp -a --reflink=auto SOURCE/. TARGET/`: GNU cp keeps owners, modes, times, xattrs,
    /// hard links, devices and sparse files, and clones extents where the filesystem can.
    static func copyTree(from source: String, to target: String) throws {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: "/bin/cp")
        process.arguments = ["-a", "--reflink=auto", "--", "\(source)/.", "\(target)/"]
        let errors = Pipe()
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw ImageStoreError(.io, "cannot run /bin/cp to copy \(source) to \(target); install coreutils", cause: error)
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            throw ImageStoreError(.io, "copying \(source) to \(target) failed: \(String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Decides the mode of a new root: overlay when a tiny overlay with a `trusted.*` opaque
    /// directory and a whiteout mounts under `<directory>/probe` and shows what it should.
    static func probe(directory: String) -> (Mode, String) {
        let probe = "\(directory)/probe"
        try? RootfsWriter.removeTree(at: probe)
        defer { try? RootfsWriter.removeTree(at: probe) }
        for dir in ["", "/lower", "/lower/opaque", "/upper", "/work", "/merged"] where mkdir(probe + dir, 0o700) != 0 {
            return (.copy, "cannot create the overlay probe \(probe) (errno \(errno))")
        }
        if setxattr("\(probe)/lower/opaque", "trusted.overlay.opaque", "y", 1, 0) != 0 {
            return (.copy, "the snapshot filesystem refuses trusted.* xattrs (errno \(errno)); overlay snapshots need them (root)")
        }
        let options = "lowerdir=\(probe)/lower,upperdir=\(probe)/upper,workdir=\(probe)/work"
        if mount("overlay", "\(probe)/merged", "overlay", 0, options) != 0 {
            return (.copy, "overlayfs does not mount here (errno \(errno): \(String(cString: strerror(errno))))")
        }
        defer { umount2("\(probe)/merged", Int32(MNT_DETACH)) }
        guard FileSystem.isDirectory("\(probe)/merged/opaque") else {
            return (.copy, "overlayfs mounted but did not show the lower directory")
        }
        return (.overlay, "overlayfs works on \(directory)")
    }
}
