// kujira-bench: the Kujira side of Benchmarks/unpack.sh (see Docs/performance.md).
//
//   kujira-bench unpack-layer BLOB MEDIATYPE DIGEST DIFFID DEST [--serial]
//       unpack one layer blob into DEST (created if missing), verifying both digests
//   kujira-bench import ROOT LAYOUT NAME
//       import an OCI layout's image into the store at ROOT and unpack its snapshots
//   kujira-bench rootfs ROOT NAME TARGET ITERATIONS
//       ITERATIONS times: prepare a container rootfs (overlay mount) at TARGET, then
//       unmount and remove it; prints the mean time per iteration

import Foundation
import Glibc
import KujiraImage
import KujiraOCI

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("kujira-bench: \(message)\n".utf8))
    exit(1)
}

func run(_ arguments: [String]) throws {
    guard let command = arguments.first else {
        fail("usage: kujira-bench unpack-layer|import|rootfs …")
    }
    switch command {
    case "unpack-layer":
        guard arguments.count >= 6 else { fail("usage: kujira-bench unpack-layer BLOB MEDIATYPE DIGEST DIFFID DEST [--serial]") }
        let blob = arguments[1], dest = arguments[5]
        let fd = open(blob, O_RDONLY | O_CLOEXEC)
        if fd < 0 { fail("cannot open \(blob)") }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        let layer = Descriptor(mediaType: arguments[2], digest: try Digest(parsing: arguments[3]), size: Int64(info.st_size))
        mkdir(dest, 0o755)
        let writer = try RootfsWriter(root: dest)
        let unpacker = LayerUnpacker(options: LayerUnpackOptions(pipelined: !arguments.contains("--serial")))
        let result = try unpacker.unpack(blobFD: fd, layer: layer, diffID: try Digest(parsing: arguments[4]), into: writer)
        try writer.finish()
        if arguments.contains("--verbose") { print("\(result.entries) entries, \(result.uncompressedSize) bytes") }
    case "import":
        guard arguments.count == 4 else { fail("usage: kujira-bench import ROOT LAYOUT NAME") }
        let store = try ImageStore(root: arguments[1])
        let record = try store.importImage(from: try OCILayout.read(directory: arguments[2]), name: arguments[3])
        let snapshots = try store.snapshotStore()
        let chain = try snapshots.ensureUnpacked(try store.details(of: record))
        print("\(arguments[3]): chain \(chain.chainID), \(chain.snapshots.count) snapshot(s), mode \(snapshots.mode)")
    case "rootfs":
        guard arguments.count == 5, let iterations = Int(arguments[4]) else { fail("usage: kujira-bench rootfs ROOT NAME TARGET ITERATIONS") }
        let store = try ImageStore(root: arguments[1])
        let snapshots = try store.snapshotStore()
        let chain = try snapshots.ensureUnpacked(try store.details(of: try store.lookup(arguments[2])))
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<iterations {
            let id = "bench-\(getpid())-\(i)"
            _ = try snapshots.prepareRootfs(containerID: id, chain: chain, target: arguments[3])
            try snapshots.removeRootfs(containerID: id)
        }
        let elapsed = clock.now - start
        print("\(arguments[2]): \(elapsed / iterations) per prepare+remove (\(snapshots.mode))")
    default:
        fail("unknown command \(command)")
    }
}

do {
    try run(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error)")
}
