// The file system a container's processes see, as `cp` reaches it from the host — Docker's
// view for `docker cp`: the rootfs with the container's volumes, bind mounts, tmpfs mounts
// and its /etc/hostname, /etc/hosts and /etc/resolv.conf over it; not the kernel's file
// systems (/proc, /sys, /dev), which a copy made with the engine's privileges must not reach.
//
//     let view = try engine.fileView(record)
//     defer { view.close() }
//     let found = try view.locate("/data/report.txt", followLast: true)
//
// The rootfs is its mount on the host. Each mount of a running container is reached through
// the container's own mount namespace: `/proc/PID/root`, opened once and checked to be the
// container's root (a pid reused since the record was read is never entered), then the mount
// point, opened `O_PATH` — a tmpfs is only there. A stopped container's volumes and binds are
// their sources from the record; its tmpfs mounts are gone. A path is resolved one component
// at a time, each inside the file system it lies on (``RootfsPath``, `openat2(RESOLVE_IN_ROOT)`),
// a symlink's target again from the container's root, so no symlink leads a copy out of the
// rootfs or a mount.

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
    /// The directory (or file) it shows: the host path of a stopped container's volume or
    /// bind, or `/proc/self/fd/N` over the mount's root in a running container.
    var source: String
    /// Whether the mount is writable.
    var rw: Bool
    /// `bind`, `volume` or `tmpfs`.
    var type: String
    /// For a mount of a single file reached through a running container: the directory
    /// holding the mount point (`/proc/self/fd/N`) and the mount point's name there.
    var fileParent: (directory: String, name: String)? = nil

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
    /// stay in: the rootfs or a mount's root (the directory holding a single-file mount).
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
    /// The rootfs: its directory on the host.
    let rootfs: String
    /// The container's mounts that `cp` sees, laid over ``rootfs``.
    let mounts: [ContainerViewMount]
    /// Whether the rootfs is read-only (`--read-only`).
    let readonlyRootfs: Bool
    /// The fds that `/proc/self/fd/N` sources name, owned by the view.
    let fds: [Int32]

    /// Closes the view's fds.
    func close() { for fd in fds { _ = Glibc.close(fd) } }

    /// The mount `path` (cleaned, in the container) lies on: the deepest one covering it.
    func mount(for path: String) -> ContainerViewMount? {
        mounts.filter { $0.covers(path) }.max { $0.destination.count < $1.destination.count }
    }

    /// Locates `path` in the container. With `followLast`, a final symlink is followed.
    /// - Returns: nil when a component is missing.
    /// - Throws: ``LayerError`` for a symlink loop, ``EngineError`` for a system error.
    func locate(_ path: String, followLast: Bool) throws -> ContainerFileLocation? {
        if mounts.isEmpty {
            guard let location = try RootfsPath.locate(path, in: rootfs, followLast: followLast) else { return nil }
            let clean = RootfsPath.clean(location.path)
            return ContainerFileLocation(location: location, root: rootfs, relative: clean, path: "/" + clean, mount: nil)
        }
        guard let resolved = try walk(path, followLast: followLast) else { return nil }
        let (root, relative, mount) = try place(resolved)
        guard let location = try RootfsPath.locate(relative, in: root, followLast: false) else { return nil }
        return ContainerFileLocation(location: location, root: root, relative: relative, path: "/" + resolved, mount: mount)
    }

    /// The mounts strictly below `path` (cleaned, in the container), the shallowest first,
    /// each with its destination relative to `path`: what a copy of a directory must take
    /// from the mounts rather than from the rootfs under them.
    func mounts(below path: String) -> [(mount: ContainerViewMount, relative: String)] {
        mounts.filter { path.isEmpty ? !$0.destination.isEmpty : $0.destination.hasPrefix(path + "/") }
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
        guard mount.fileParent == nil else { return nil }
        var info = stat()
        guard stat(mount.source, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return nil }
        return mount.source
    }

    /// The file system `path` (cleaned) lies on, as the directory to resolve in and the path
    /// relative to it. A mount of a single file is resolved in the file's directory.
    private func place(_ path: String) throws -> (root: String, relative: String, mount: ContainerViewMount?) {
        guard let mount = mount(for: path) else { return (rootfs, path, nil) }
        let rest = String(path.dropFirst(mount.destination.count)).split(separator: "/").joined(separator: "/")
        if let parent = mount.fileParent {
            return (parent.directory, rest.isEmpty ? parent.name : parent.name + "/" + rest, mount)
        }
        var info = stat()
        guard stat(mount.source, &info) == 0 else {
            throw EngineError.posix("cannot stat \(mount.source), the source of the mount at /\(mount.destination)", errno: errno)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { return (mount.source, rest, mount) }
        let url = URL(fileURLWithPath: mount.source)
        let name = url.lastPathComponent
        return (url.deletingLastPathComponent().path, rest.isEmpty ? name : name + "/" + rest, mount)
    }

    /// Resolves every symlink of `path` across the mounts, one component at a
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
            if (isLast && !followLast) || mounts.contains(where: { $0.destination == candidate }) {
                resolved.append(component)
                continue
            }
            let (root, relative, _) = try place(candidate)
            guard let location = try RootfsPath.locate(relative, in: root, followLast: false) else {
                // A mount point the container never created (it was never started) still
                // leads to its mount.
                if mounts.contains(where: { $0.destination.hasPrefix(candidate + "/") }) {
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
        // The engine's /etc files, bind-mounted at every start (ContainerSpecBuilder).
        for file in ["hostname", "hosts", "resolv.conf"] where !mounts.contains(where: { $0.destination == "etc/\(file)" }) {
            let source = "\(directory(record.id))/\(file)"
            if FileManager.default.fileExists(atPath: source) {
                mounts.append(ContainerViewMount(destination: "etc/\(file)", source: source, rw: true, type: "bind"))
            }
        }
        mounts.removeAll { $0.destination.isEmpty }
        guard record.state.isActive, let root = runningRoot(record, rootfs: rootfs) else {
            // Stopped: tmpfs mounts are gone; volumes and binds are their sources.
            mounts.removeAll { $0.type == "tmpfs" || $0.source.isEmpty }
            return ContainerFileView(rootfs: rootfs, mounts: mounts, readonlyRootfs: record.hostConfig.readonlyRootfs, fds: [])
        }
        // Running: each mount's root as the container sees it. A mount point the container
        // has since replaced (by a symlink, say) is left out: the path then shows the rootfs.
        var fds = [root]
        var reached: [ContainerViewMount] = []
        for var mount in mounts {
            guard let location = try? RootfsPath.locate(mount.destination, in: "/proc/self/fd/\(root)", followLast: false) else { continue }
            var name = location.name.map { CChar(bitPattern: $0) } + [0]
            let fd = openat(location.parentFD, &name, KUJIRA_O_PATH | O_NOFOLLOW | O_CLOEXEC)
            var info = stat()
            guard fd >= 0, fstat(fd, &info) == 0 else {
                if fd >= 0 { _ = Glibc.close(fd) }
                location.close()
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                location.close()
                fds.append(fd)
                mount.source = "/proc/self/fd/\(fd)"
            case S_IFREG:
                _ = Glibc.close(fd)
                fds.append(location.parentFD)
                mount.fileParent = ("/proc/self/fd/\(location.parentFD)", String(decoding: location.name, as: UTF8.self))
            default:
                _ = Glibc.close(fd)
                location.close()
                continue
            }
            reached.append(mount)
        }
        return ContainerFileView(rootfs: rootfs, mounts: reached, readonlyRootfs: record.hostConfig.readonlyRootfs, fds: fds)
    }

    /// The running container's root, `/proc/PID/root` opened `O_PATH`, checked to be the
    /// same directory as its rootfs on the host (so a pid reused by another process since the
    /// record was read is never entered); nil when the process is gone.
    private func runningRoot(_ record: ContainerRecord, rootfs: String) -> Int32? {
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
