// `export`: the container's root filesystem as a tar stream (`docker export`), running or
// stopped. Volumes and the files bind-mounted into the container (`/etc/hosts`, …) are not
// part of it: they are mounted in the container's mount namespace, not on the rootfs the
// host sees.
//
//     try engine.export("web", to: FileDescriptorSink(fd: 1))

public import KujiraArchive
import Foundation

extension Engine {
    /// Writes the root filesystem of container `nameOrID` to `sink` as a tar stream (entries
    /// relative to the root, `bin/`, `bin/sh`, …) and finishes the tar (not the sink).
    /// - Throws: ``EngineError`` `.notFound`, `.invalidState` when the rootfs is not
    ///   mounted, `.io` when a file cannot be read.
    public func export(_ nameOrID: String, to sink: any ByteSink) throws {
        let record = try container(nameOrID)
        let rootfs = try mountedRootfs(record)
        let writer = TarWriter(sink)
        do {
            try DirectoryArchiver().archive(directory: rootfs, to: writer)
            try writer.finish()
        } catch let error as ArchiveError {
            throw EngineError(.io, "cannot export container \(record.name)", cause: error)
        }
        emit("export", record)
    }
}
