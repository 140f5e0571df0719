// The file system a container's processes see, as `cp` reaches it from the host: the rootfs
// with the container's volumes, bind mounts and tmpfs mounts over it.
//
//     let view = try engine.fileView(record)
//     defer { view.close() }
//     let found = try view.locate("/data/report.txt", followLast: true)
//
// A running container is reached through its own mount namespace: `/proc/PID/root`, opened
// once and checked to be the container's root (the pid cannot have been reused by then), so
// every mount it has — tmpfs included — is seen as the container sees it. A stopped
// container has no mounts: its volumes and binds are laid over the rootfs from the record,
// and the path is resolved component by component, each component inside the file system it
// lies on (``RootfsPath``, `openat2(RESOLVE_IN_ROOT)`): a symlink is read and resolved again
// from the container's root, so no symlink leads a copy out of the rootfs or a mount's
// source.

import CKujiraSys
import KujiraImage
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A mount of a container as `cp` sees it.
struct ContainerViewMount: Sendable {
    /// The path in the container, cleaned (no leading slash; "" never: `/` is not a mount).
    var destination: String
    /// The host directory (or file) it shows, for a stopped container.
    var source: String
    /// Whether the mount is writable.
    var rw: Bool
    /// `bind`, `volume` or `tmpfs`.
    var type: String

    /// Whether `path` (cleaned) is the mount point or lies under it.
    func covers(_ path: String) -> Bool {
        path == destination || path.hasPrefix(destination + "/")
    }
}

/// A path found in a ``ContainerFileView``.
struct ContainerFileLocation {
    /// The file, located inside ``root`` (close it with ``close()``).
    var location: RootfsLocation
    /// The directory the file was located in, and the directory every write under it must
    /// stay in: the rootfs, a mount's source, or the running container's root.
    var root: String
    /// The path relative to ``root``.
    var relative: String
    /// The path in the container, every symlink resolved.
    var path: String
    /// The mount the path lies on, nil for the rootfs.
    var mount: ContainerViewMount?

    /// Closes the location's directory.
    func close() { location.close() }
}

/// The file system of one container (see the file's comment). Close it with ``close()``.
struct ContainerFileView {
    /// The rootfs: the host directory (stopped) or `/proc/self/fd/N` over the running
    /// container's root.
    let rootfs: String
    /// Mounts laid over ``rootfs`` by the resolution itself (stopped containers only; the
    /// kernel shows a running container's mounts).
    let overlaidMounts: [ContainerViewMount]
    /// Every mount of the container, for telling which one a path lies on.
    let mounts: [ContainerViewMount]
    /// Whether the rootfs is read-only (`--read-only`).
    let readonlyRootfs: Bool
    /// The fd of the running container's root, owned by the view, or -1.
    let rootFD: Int32

    /// Closes the running container's root.
    func close() { if rootFD >= 0 { _ = Glibc.close(rootFD) } }

    /// The mount `path` (cleaned, in the container) lies on: the deepest one covering it.
    func mount(for path: String) -> ContainerViewMount? {
        mounts.filter { $0.covers(path) }.max { $0.destination.count < $1.destination.count }
    }

    /// Locates `path` in the container. With `followLast`, a final symlink is followed.
    /// - Returns: nil when a component is missing.
    /// - Throws: ``LayerError`` for a symlink loop, ``EngineError`` for a system error.
    func locate(_ path: String, followLast: Bool) throws -> ContainerFileLocation? {
        if overlaidMounts.isEmpty {
            guard let location = try RootfsPath.locate(path, in: rootfs, followLast: followLast) else { return nil }
            let clean = RootfsPath.clean(location.path)
            return ContainerFileLocation(location: location, root: rootfs, relative: clean, path: "/" + clean, mount: mount(for: clean))
        }
        guard let resolved = try walk(path, followLast: followLast) else { return nil }
        let (root, relative, mount) = try place(resolved)
        guard let location = try RootfsPath.locate(relative, in: root, followLast: false) else { return nil }
        return ContainerFileLocation(location: location, root: root, relative: relative, path: "/" + resolved, mount: mount)
    }

    /// The overlaid mounts strictly below `path` (cleaned, in the container), the shallowest
    /// first, each with its destination relative to `path`: what a copy of a directory of a
    /// stopped container must take from the mounts rather than from the rootfs under them.
    func mounts(below path: String) -> [(mount: ContainerViewMount, relative: String)] {
        overlaidMounts.filter { path.isEmpty ? !$0.destination.isEmpty : $0.destination.hasPrefix(path + "/") }
            .sorted { $0.destination.count < $1.destination.count }
            .map { ($0, path.isEmpty ? $0.destination : String($0.destination.dropFirst(path.count + 1))) }
    }

    /// The root of `mount`, located (not followed) in the directory that holds it: the
    /// mount's source directory as `.`, or a file mount's source in its directory.
    func locateRoot(of mount: ContainerViewMount) throws -> RootfsLocation? {
        let (root, relative, _) = try place(mount.destination)
        return try RootfsPath.locate(relative, in: root, followLast: false)
    }

    /// The directory a mount's source is, or nil for a file mount.
    func directorySource(of mount: ContainerViewMount) -> String? {
        var info = stat()
        guard stat(mount.source, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return nil }
        return mount.source
    }

    /// The file system `path` (cleaned) lies on, as the directory to resolve in and the path
    /// relative to it. A mount of a single file is resolved in the file's directory.
    private func place(_ path: String) throws -> (root: String, relative: String, mount: ContainerViewMount?) {
        guard let mount = overlaidMounts.filter({ $0.covers(path) }).max(by: { $0.destination.count < $1.destination.count }) else {
            return (rootfs, path, nil)
        }
        let rest = String(path.dropFirst(mount.destination.count)).split(separator: "/").joined(separator: "/")
        var info = stat()
        guard stat(mount.source, &info) == 0 else {
            throw EngineError.posix("cannot stat \(mount.source), the source of the mount at /\(mount.destination)", errno: errno)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { return (mount.source, rest, mount) }
        let url = URL(fileURLWithPath: mount.source)
        let name = url.lastPathComponent
        return (url.deletingLastPathComponent().path, rest.isEmpty ? name : name + "/" + rest, mount)
    }

    /// Resolves every symlink of `path` across the overlaid mounts, one component at a
    /// time; returns the cleaned path (no leading slash), or nil when a component is missing.
    private func walk(_ path: String, followLast: Bool) throws -> String? {
        var resolved: [Substring] = []
        var pending = Array(path.split(separator: "/").reversed())
        var hops = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." { _ = resolved.popLast(); continue }
            let candidate = (resolved + [component]).joined(separator: "/")
            let isLast = pending.isEmpty
            // A mount point is the mount's root: a directory (or file) that is never a symlink.
            if (isLast && !followLast) || overlaidMounts.contains(where: { $0.destination == candidate }) {
                resolved.append(component)
                continue
            }
            let (root, relative, _) = try place(candidate)
            guard let location = try RootfsPath.locate(relative, in: root, followLast: false) else {
                // A mount point the container never created (it was never started) still
                // leads to its mount.
                if overlaidMounts.contains(where: { $0.destination.hasPrefix(candidate + "/") }) {
                    resolved.append(component)
                    continue
                }
                return nil
            }
            defer { location.close() }
            guard location.isSymlink else {
                if !isLast && !location.isDirectory { return nil }
                resolved.append(component)
                continue
            }
            hops += 1
            guard hops <= 40 else { throw LayerError(.symlinkLoop, "\(path) goes through more than 40 symlinks") }
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            var name = location.name.map { CChar(bitPattern: $0) } + [0]
            let count = readlinkat(location.parentFD, &name, &target, target.count - 1)
            guard count >= 0 else { throw EngineError.posix("cannot read the symlink /\(candidate)", errno: errno) }
            let link = String(decoding: target[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link.hasPrefix("/") { resolved.removeAll() }
            pending.append(contentsOf: link.split(separator: "/").reversed())
        }
        return resolved.joined(separator: "/")
    }
}

extension Engine {
    /// The file system of `record` as its processes see it (see ``ContainerFileView``).
    /// - Throws: ``EngineError`` `.invalidState` when the rootfs is not there.
    func fileView(_ record: ContainerRecord) throws -> ContainerFileView {
        let rootfs = try mountedRootfs(record)
        var mounts = record.mounts.map {
            ContainerViewMount(destination: RootfsPath.clean($0.destination), source: $0.source, rw: $0.rw, type: $0.type)
        }
        for (destination, options) in record.hostConfig.tmpfs where !mounts.contains(where: { $0.destination == RootfsPath.clean(destination) }) {
            let readOnly = options.split(separator: ",").contains("ro")
            mounts.append(ContainerViewMount(destination: RootfsPath.clean(destination), source: "", rw: !readOnly, type: "tmpfs"))
        }
        mounts.removeAll { $0.destination.isEmpty }
        if record.state.isActive, let root = try runningRoot(record, rootfs: rootfs) {
            return ContainerFileView(rootfs: "/proc/self/fd/\(root)", overlaidMounts: [], mounts: mounts,
                                     readonlyRootfs: record.hostConfig.readonlyRootfs, rootFD: root)
        }
        // Stopped: tmpfs mounts are gone; volumes and binds are laid over the rootfs.
        mounts.removeAll { $0.type == "tmpfs" || $0.source.isEmpty }
        return ContainerFileView(rootfs: rootfs, overlaidMounts: mounts, mounts: mounts,
                                 readonlyRootfs: record.hostConfig.readonlyRootfs, rootFD: -1)
    }

    /// The running container's root, `/proc/PID/root` opened `O_PATH`, checked to be the
    /// same directory as its rootfs on the host (so a pid reused by another process since the
    /// record was read is never entered); nil when the process is gone.
    private func runningRoot(_ record: ContainerRecord, rootfs: String) throws -> Int32? {
        guard record.state.pid > 0 else { return nil }
        let fd = open("/proc/\(record.state.pid)/root", KUJIRA_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var inside = stat(), outside = stat()
        guard fstat(fd, &inside) == 0, stat(rootfs, &outside) == 0,
              inside.st_dev == outside.st_dev, inside.st_ino == outside.st_ino else {
            _ = Glibc.close(fd)
            return nil
        }
        return fd
    }
}
