public import KujiraArchive

extension LayerEntry.Kind {
    /// The kind of tar entry `entry` (a link keeps its target as written), or nil for a type
    /// a root filesystem cannot hold (GNU sparse files, vendor extensions).
    public init?(_ entry: TarEntry) {
        switch entry.type {
        case .regular: self = .regular
        case .directory: self = .directory
        case .symlink: self = .symlink(target: Array(entry.linkname.utf8))
        case .hardlink: self = .hardlink(target: Array(entry.linkname.utf8))
        case .characterDevice: self = .characterDevice(major: entry.devmajor, minor: entry.devminor)
        case .blockDevice: self = .blockDevice(major: entry.devmajor, minor: entry.devminor)
        case .fifo: self = .fifo
        case .other: return nil
        }
    }
}

extension LayerEntry {
    /// The writer's view of tar entry `entry`: path, kind, mode, owner, times and xattrs as the
    /// archive has them; nil for a type a root filesystem cannot hold.
    public init?(tarEntry entry: TarEntry) {
        guard let kind = Kind(entry) else { return nil }
        self.init(
            pathBytes: Array(entry.path.utf8), kind: kind, mode: entry.mode, uid: entry.uid, gid: entry.gid,
            mtime: .init(seconds: entry.mtime.seconds, nanoseconds: entry.mtime.nanoseconds),
            atime: entry.atime.map { .init(seconds: $0.seconds, nanoseconds: $0.nanoseconds) },
            xattrs: entry.xattrs)
    }
}
