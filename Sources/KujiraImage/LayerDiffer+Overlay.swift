#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import KujiraArchive
import CKujiraSys

extension LayerDiffer {
    /// Writes the changes recorded in the overlayfs upper directory `upper` (unmounted, or
    /// at least not being written) to `writer` as a layer. Does not call
    /// `writer.finish()`, so more entries may follow.
    ///
    /// Every entry of the upper directory is a change: overlayfs copies a file up (with its
    /// parent directories) before changing it. Whiteouts (a 0:0 character device, or an
    /// empty file with `trusted.overlay.whiteout`/`user.overlay.whiteout`) become `.wh.NAME`;
    /// an opaque directory (`trusted.overlay.opaque`/`user.overlay.opaque` = `y`) becomes its
    /// entry followed by `DIR/.wh..wh..opq`; overlayfs' own xattrs are dropped. An upper
    /// directory written with `redirect_dir=on` (a renamed directory) or `metacopy=on` (a
    /// metadata-only copy-up) holds references into the lower layers that a layer cannot
    /// express: that is an ``LayerError/Code/unsupportedDiffSource`` error (mount with
    /// `redirect_dir=off,metacopy=off`, or use ``diffTrees(lower:upper:to:)``).
    @discardableResult
    public func diffOverlayUpper(upper: String, to writer: TarWriter) throws -> Statistics {
        let fd = try Self.openTree(upper, role: "overlay upper")
        defer { close(fd) }
        return try diffOverlayUpper(upperFD: fd, name: upper, to: writer)
    }

    /// Writes the changes recorded in the open overlayfs upper directory `upperFD` (not
    /// closed); `name` names it in errors. See ``diffOverlayUpper(upper:to:)``.
    @discardableResult
    public func diffOverlayUpper(upperFD: Int32, name: String = "overlay upper directory", to writer: TarWriter) throws -> Statistics {
        // Whiteout and opaque markers are read through /proc even without includeXattrs.
        try Self.checkProc(LayerDiffer.Options(includeXattrs: true), tree: name)
        let archiver = self.archiver
        let emitter = DiffEmitter(writer: writer, options: options, tree: name)
        struct Frame { var fd: Int32; var owned: Bool; var prefix: String; var names: [[UInt8]]; var index = 0 }
        var stack = [Frame(fd: upperFD, owned: false, prefix: "", names: try DirectoryArchiver.sortedNames(upperFD, name: name))]
        defer { for frame in stack where frame.owned { close(frame.fd) } }

        while let top = stack.last {
            if top.index == top.names.count {
                if top.owned { close(top.fd) }
                stack.removeLast()
                continue
            }
            let nameBytes = top.names[top.index]
            stack[stack.count - 1].index += 1
            guard var file = try archiver.file(named: nameBytes, in: top.fd, prefix: top.prefix, tree: name) else { continue }
            let component = String(file.path.dropFirst(top.prefix.count))
            file.entry.xattrs = file.entry.xattrs.filter { !Self.isOverlayXattr($0.key) }

            switch file.entry.type {
            case .characterDevice where file.rdev == 0:
                try emitter.writeWhiteout(prefix: top.prefix, name: component)
            case .regular where file.entry.size == 0 && Self.hasAnyXattr(top.fd, nameBytes, ["trusted.overlay.whiteout", "user.overlay.whiteout"]):
                try emitter.writeWhiteout(prefix: top.prefix, name: component)
            case .directory:
                if Self.hasAnyXattr(top.fd, nameBytes, ["trusted.overlay.redirect", "user.overlay.redirect"]) {
                    throw LayerError(.unsupportedDiffSource, "directory \(file.path) of the overlay upper \(name) is a renamed lower directory (overlay.redirect): a layer cannot express it; mount the overlay with redirect_dir=off, or diff the merged tree against the lower with diffTrees")
                }
                try emitter.write(file, named: nameBytes, in: top.fd)
                if Self.hasAnyXattr(top.fd, nameBytes, ["trusted.overlay.opaque", "user.overlay.opaque"], equalTo: [UInt8(ascii: "y")]) {
                    try emitter.writeWhiteout(prefix: file.path + "/", name: nil)
                }
                let child = try DirectoryArchiver.openDirectory(nameBytes, in: top.fd, path: file.path, tree: name)
                let names: [[UInt8]]
                do { names = try DirectoryArchiver.sortedNames(child, name: file.path) } catch { close(child); throw error }
                stack.append(Frame(fd: child, owned: true, prefix: file.path + "/", names: names))
            case .regular where Self.hasAnyXattr(top.fd, nameBytes, ["trusted.overlay.metacopy", "user.overlay.metacopy"]):
                throw LayerError(.unsupportedDiffSource, "file \(file.path) of the overlay upper \(name) is a metadata-only copy-up (overlay.metacopy) whose data is in a lower layer; mount the overlay with metacopy=off, or diff the merged tree against the lower with diffTrees")
            default:
                try emitter.write(file, named: nameBytes, in: top.fd)
            }
        }
        return emitter.statistics
    }

    /// Whether an xattr is overlayfs bookkeeping (`trusted.overlay.*`, `user.overlay.*`:
    /// origin, impure, opaque, redirect, …), never part of a layer.
    static func isOverlayXattr(_ name: String) -> Bool {
        name.hasPrefix("trusted.overlay.") || name.hasPrefix("user.overlay.")
    }

    /// Whether the entry `name` of `directoryFD` (not followed) has one of `xattrs`, with the
    /// value `value` when given. Unreadable attributes (ENODATA, ENOTSUP, EPERM for
    /// `trusted.*` without CAP_SYS_ADMIN) count as absent.
    static func hasAnyXattr(_ directoryFD: Int32, _ name: [UInt8], _ xattrs: [String], equalTo value: [UInt8]? = nil) -> Bool {
        let cName: [CChar] = name.map { CChar(bitPattern: $0) } + [0]
        let fd = openat(directoryFD, cName, KUJIRA_O_PATH | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { return false }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 16)
        for xattr in xattrs {
            let count = buffer.withUnsafeMutableBytes { kujira_getxattr_opath(fd, xattr, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == ERANGE && value == nil { return true }  // present, with a long value
                continue
            }
            guard let value else { return true }
            if buffer[..<count].elementsEqual(value) { return true }
        }
        return false
    }
}
