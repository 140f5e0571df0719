import Foundation
import Testing

/// The `kujira` example's image commands against the real peers: umoci and skopeo are the
/// oracles for what an OCI layout and a docker-archive must look like.
@Suite("kujira image commands", .serialized)
struct ImageCLITests {
    /// Builds a busybox layout with umoci, then runs `body(scratch, layout, root)`.
    private func withBusyboxLayout(_ body: (String, String, String) throws -> Void) throws {
        try withTemporaryDirectory { scratch in
            let layout = "\(scratch)/layout"
            try TestImages.umociBusybox(layout: layout, scratch: scratch)
            try body(scratch, layout, "\(scratch)/root")
        }
    }

    private func manifestDigest(ofLayout layout: String, tag: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(layout)/index.json"))
        let index = try JSONDecoder().decode(LayoutIndex.self, from: data)
        guard let entry = index.manifests.first(where: { $0.annotations?["org.opencontainers.image.ref.name"] == tag }) else {
            throw TestFailure("no tag \(tag) in \(layout)/index.json")
        }
        return entry.digest
    }

    @Test("pull oci: from umoci, push oci: back: skopeo and umoci accept it, digest unchanged",
          .enabled(if: Host.has(["umoci", "skopeo"])))
    func ociLayoutRoundTrip() throws {
        try withBusyboxLayout { scratch, layout, root in
            let pulled = try kujira(root, ["pull", "oci:\(layout):latest", "busybox:umoci"])
            #expect(pulled.succeeded, "\(pulled.stderr)")
            let images = try kujira(root, ["images", "--format", "json"])
            #expect(images.stdout.contains("\"busybox\""))

            let out = "\(scratch)/out"
            let pushed = try kujira(root, ["push", "busybox:umoci", "oci:\(out):v1"])
            #expect(pushed.succeeded, "\(pushed.stderr)")
            try mustRun("skopeo", ["inspect", "oci:\(out):v1"])
            try mustRun("umoci", ["stat", "--image", "\(out):v1"])
            #expect(try manifestDigest(ofLayout: out, tag: "v1") == manifestDigest(ofLayout: layout, tag: "latest"))
        }
    }

    @Test("docker-archive: skopeo → load → save → skopeo inspect",
          .enabled(if: Host.has(["umoci", "skopeo"])))
    func dockerArchiveRoundTrip() throws {
        try withBusyboxLayout { scratch, layout, root in
            let archive = "\(scratch)/x.tar"
            try mustRun("skopeo", ["copy", "oci:\(layout):latest", "docker-archive:\(archive):demo/busybox:1"])
            let loaded = try kujira(root, ["load", "-i", archive])
            #expect(loaded.succeeded, "\(loaded.stderr)")
            #expect(loaded.stdout.contains("demo/busybox:1"))

            let saved = "\(scratch)/saved.tar"
            let save = try kujira(root, ["save", "-o", saved, "demo/busybox:1"])
            #expect(save.succeeded, "\(save.stderr)")
            let inspect = try mustRun("skopeo", ["inspect", "docker-archive:\(saved)"])
            #expect(inspect.stdout.contains("\"Architecture\""))

            // Saving again gives the same bytes.
            let again = "\(scratch)/again.tar"
            try mustRun(Host.kujira, ["--root", root, "save", "-o", again, "demo/busybox:1"])
            #expect(FileManager.default.contentsEqual(atPath: saved, andPath: again))
        }
    }

    @Test("import of a directory unpacks with umoci to the same files",
          .enabled(if: Host.has(["umoci"], root: true)))
    func importMatchesUmociUnpack() throws {
        try withTemporaryDirectory { scratch in
            let rootfs = "\(scratch)/rootfs"
            try TestImages.busyboxRootfs(at: rootfs)
            try "hello\n".write(toFile: "\(rootfs)/etc/motd", atomically: false, encoding: .utf8)
            #expect(chmod("\(rootfs)/etc/motd", 0o640) == 0)
            let root = "\(scratch)/root"
            let imported = try kujira(root, ["import", "--change", "CMD [\"sh\"]", rootfs, "demo/imported:1"])
            #expect(imported.succeeded, "\(imported.stderr)")
            try mustRun(Host.kujira, ["--root", root, "push", "demo/imported:1", "oci:\(scratch)/out:1"])
            try mustRun("umoci", ["unpack", "--image", "\(scratch)/out:1", "\(scratch)/bundle"])
            let expected = try TreeListing(root: rootfs)
            let actual = try TreeListing(root: "\(scratch)/bundle/rootfs")
            #expect(actual.entries == expected.entries)
        }
    }

    @Test("a flipped byte in a layer fails pull and load naming the digest; the store stays usable",
          .enabled(if: Host.has(["umoci", "skopeo"])))
    func tamperedBlob() throws {
        try withBusyboxLayout { scratch, layout, root in
            let archive = "\(scratch)/x.tar"
            try mustRun("skopeo", ["copy", "oci:\(layout):latest", "docker-archive:\(archive):demo/busybox:1"])
            // The largest blob in the layout is the busybox layer.
            let blobs = "\(layout)/blobs/sha256"
            let names = try FileManager.default.contentsOfDirectory(atPath: blobs)
            let sizes = try names.map { ($0, try FileManager.default.attributesOfItem(atPath: "\(blobs)/\($0)")[.size] as? Int ?? 0) }
            guard let layer = sizes.max(by: { $0.1 < $1.1 })?.0 else { throw TestFailure("empty layout") }
            try flipByte(in: "\(blobs)/\(layer)", at: 1000)

            let pulled = try kujira(root, ["pull", "oci:\(layout):latest", "busybox:bad"])
            #expect(pulled.status == 1)
            #expect(pulled.stderr.contains(layer), "\(pulled.stderr)")
            #expect(pulled.stderr.split(separator: "\n").count == 1)

            // The docker archive's layer is the uncompressed tar: flip a byte inside it.
            try flipByte(in: archive, at: 40_000)
            let loaded = try kujira(root, ["load", "-i", archive])
            #expect(loaded.status == 1)
            #expect(loaded.stderr.contains("sha256:"), "\(loaded.stderr)")

            let images = try kujira(root, ["images", "-q"])
            #expect(images.succeeded && images.stdout.isEmpty)
            let rootfs = "\(scratch)/rootfs"
            try TestImages.busyboxRootfs(at: rootfs)
            let imported = try kujira(root, ["import", rootfs, "demo/ok:1"])
            #expect(imported.succeeded, "\(imported.stderr)")
        }
    }

    @Test("bad input gives one line on stderr and exit 1", arguments: [
        ["pull", "oci:/nonexistent/layout:latest"],
        ["tag", "nosuchimage", "x:1"],
        ["image", "inspect", "UPPER/Case"],
        ["pull", "docker-archive:/nonexistent.tar"],
        ["pull", "ftp://whatever"],
        ["pull", "docker://UPPER/case"],
        ["import", "/nonexistent-dir", "x:1"],
        ["import", "/", "Bad Name"],
    ])
    func badInput(arguments: [String]) throws {
        try withTemporaryDirectory { scratch in
            let result = try kujira("\(scratch)/root", arguments)
            #expect(result.status == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.hasPrefix("kujira: "), "\(arguments): \(result.stderr)")
        }
    }

    @Test("truncated archives, malformed JSON and unknown media types fail clearly",
          .enabled(if: Host.has(["umoci", "skopeo"])))
    func brokenArchives() throws {
        try withBusyboxLayout { scratch, layout, root in
            let archive = "\(scratch)/x.tar"
            try mustRun("skopeo", ["copy", "oci:\(layout):latest", "docker-archive:\(archive):demo/busybox:1"])
            let data = try Data(contentsOf: URL(fileURLWithPath: archive))
            try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: "\(scratch)/truncated.tar"))

            // Malformed index.json and an unknown media type in a copy of the layout.
            try mustRun("cp", ["-a", layout, "\(scratch)/malformed"])
            try "{\"schemaVersion\": 2, \"manifests\": [".write(toFile: "\(scratch)/malformed/index.json", atomically: false, encoding: .utf8)
            try mustRun("cp", ["-a", layout, "\(scratch)/unknown"])
            let indexPath = "\(scratch)/unknown/index.json"
            let index = try String(contentsOfFile: indexPath, encoding: .utf8)
                .replacingOccurrences(of: "application/vnd.oci.image.manifest.v1+json", with: "application/x-unknown")
            try index.write(toFile: indexPath, atomically: false, encoding: .utf8)

            for arguments in [["load", "-i", "\(scratch)/truncated.tar"],
                              ["pull", "oci:\(scratch)/malformed:latest"],
                              ["pull", "oci:\(scratch)/unknown:latest"]] {
                let result = try kujira(root, arguments)
                #expect(result.status == 1, "\(arguments): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            }
            let images = try kujira(root, ["images", "-q"])
            #expect(images.succeeded && images.stdout.isEmpty, "\(images.stdout)")
        }
    }

    @Test("tag, inspect, rmi and garbage collection", .enabled(if: Host.has(["umoci"])))
    func tagInspectRemove() throws {
        try withBusyboxLayout { _, layout, root in
            try mustRun(Host.kujira, ["--root", root, "pull", "oci:\(layout):latest", "busybox:a"])
            try mustRun(Host.kujira, ["tag", "busybox:a", "me/busybox:b", "--root", root])
            let inspect = try mustRun(Host.kujira, ["--root", root, "image", "inspect", "me/busybox:b"])
            #expect(inspect.stdout.contains("\"busybox:a\""))
            #expect(inspect.stdout.contains("\"me/busybox:b\""))
            #expect(inspect.stdout.contains("\"Cmd\""))

            let ids = try mustRun(Host.kujira, ["--root", root, "images", "-q"]).stdout
            let id = ids.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(id.count == 12)
            let ambiguous = try kujira(root, ["rmi", id])
            #expect(ambiguous.status == 1, "removing an image with two names by ID needs --force")
            try mustRun(Host.kujira, ["--root", root, "rmi", "busybox:a"])
            let last = try mustRun(Host.kujira, ["--root", root, "rmi", "me/busybox:b"])
            #expect(last.stdout.contains("Deleted: sha256:"))
            let blobs = try FileManager.default.contentsOfDirectory(atPath: "\(root)/blobs/sha256")
            #expect(blobs.isEmpty, "garbage collection leaves \(blobs)")
        }
    }
}

/// The manifests of an OCI layout's index.json.
private struct LayoutIndex: Decodable {
    struct Entry: Decodable {
        var digest: String
        var annotations: [String: String]?
    }
    var manifests: [Entry]
}

/// Flips one byte of a file in place.
func flipByte(in path: String, at offset: Int) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    guard let byte = try handle.read(upToCount: 1)?.first else { throw TestFailure("\(path) is shorter than \(offset)") }
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: [byte ^ 0xff])
}

/// A canonical listing of a tree: path, type, mode, owner, size, content hash and link target,
/// for comparing what two tools unpacked.
struct TreeListing {
    var entries: [String: String] = [:]

    init(root: String) throws {
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: root) else { throw TestFailure("cannot list \(root)") }
        while let relative = walker.nextObject() as? String {
            let path = "\(root)/\(relative)"
            var st = stat()
            guard lstat(path, &st) == 0 else { throw TestFailure("lstat \(path) failed") }
            var line = "mode=\(String(st.st_mode, radix: 8)) uid=\(st.st_uid) gid=\(st.st_gid)"
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                line += " size=\(st.st_size) content=\(data.hashValue)"
            case S_IFLNK:
                line += " -> \(try fm.destinationOfSymbolicLink(atPath: path))"
            default:
                break
            }
            entries[relative] = line
        }
    }
}
