import Foundation
import Glibc
import KujiraArchive
import KujiraOCI
import Testing
@testable import KujiraImage

/// Whether the peers that write and check archives are installed.
let archiveToolsInstalled = which("umoci") != nil && which("skopeo") != nil

/// The reason archive tests skip without the peers.
let archiveToolsReason: Comment = "umoci and skopeo are not installed (apt-get install umoci skopeo)"

/// Runs a peer tool that must succeed.
@discardableResult
func runPeer(_ tool: String, _ arguments: [String]) throws -> String {
    let path = try #require(which(tool), "\(tool) is required when KUJIRA_REQUIRE_PRIVILEGED=1")
    let result = try runTool(path, arguments)
    guard result.status == 0 else {
        throw ImageStoreError(.io, "\(tool) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output)")
    }
    return result.output
}

/// A busybox OCI layout built with umoci (see `buildBusyboxLayout`), plus the archives
/// skopeo makes of it.
struct BusyboxFixture {
    let dir: TemporaryDirectory
    /// The OCI layout (tag `latest`).
    var layout: String { "\(dir.path)/layout" }
    /// `skopeo copy oci:layout:latest docker-archive:…:busybox:latest`.
    var dockerArchive: String { "\(dir.path)/skopeo-docker.tar" }
    /// `skopeo copy oci:layout:latest oci-archive:…:latest`.
    var ociArchive: String { "\(dir.path)/skopeo-oci.tar" }

    init(dockerArchive makeDocker: Bool = true, ociArchive makeOCI: Bool = false) throws {
        dir = try TemporaryDirectory("kujira-archive")
        try buildBusyboxLayout(at: "\(dir.path)/layout", scratch: dir.path)
        if makeDocker { try runPeer("skopeo", ["copy", "oci:\(dir.path)/layout:latest", "docker-archive:\(dir.path)/skopeo-docker.tar:busybox:latest"]) }
        if makeOCI { try runPeer("skopeo", ["copy", "oci:\(dir.path)/layout:latest", "oci-archive:\(dir.path)/skopeo-oci.tar:latest"]) }
    }

    /// A new, empty store under the fixture directory.
    func store(_ name: String = "store") throws -> ImageStore {
        try ImageStore(root: "\(dir.path)/\(name)")
    }

    /// The layout's manifest and config, as umoci wrote them.
    func layoutImage() throws -> (manifest: Descriptor, config: ImageConfiguration, configDigest: Digest) {
        let layout = try OCILayout.read(directory: self.layout)
        let descriptor = try layout.resolve(tag: "latest")
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(FileSystem.readFile(layout.blobPath(of: descriptor.digest))))
        let config = try JSONDecoder().decode(ImageConfiguration.self, from: Data(FileSystem.readFile(layout.blobPath(of: manifest.config.digest))))
        return (descriptor, config, manifest.config.digest)
    }

    func remove() { dir.remove() }
}

/// One member of a tar file with its content.
struct TarMember {
    var entry: TarEntry
    var content: [UInt8]
}

/// Every member of the tar file at `path`, in order.
func readTarMembers(_ path: String) throws -> [TarMember] {
    let reader = TarReader(try FileDescriptorSource(path: path))
    var members = [TarMember]()
    while let entry = try reader.next() {
        members.append(TarMember(entry: entry, content: entry.type == .regular ? try reader.readContent(limit: 1 << 30) : []))
    }
    return members
}

/// Writes `members` as a tar file at `path`.
func writeTarMembers(_ members: [TarMember], to path: String) throws {
    let writer = TarWriter(try FileDescriptorSink(path: path))
    for member in members { try writer.writeEntry(member.entry, content: member.content) }
    try writer.finish()
}

/// Rewrites the tar file at `source` into `destination`, letting `edit` change the members.
func rewriteTar(_ source: String, to destination: String, _ edit: (inout [TarMember]) throws -> Void) throws {
    var members = try readTarMembers(source)
    try edit(&members)
    try writeTarMembers(members, to: destination)
}

/// The member named `name` (any leading `./` ignored).
func member(_ members: [TarMember], _ name: String) -> TarMember? {
    members.first { ArchiveScanner.normalise($0.entry.path) == name }
}

/// The bytes of the file at `path`.
func fileBytes(_ path: String) throws -> [UInt8] { try FileSystem.readFile(path) }

/// Truncates the file at `path` to `length` bytes.
func truncateFile(_ path: String, to length: Int) throws {
    guard truncate(path, off_t(length)) == 0 else { throw ImageStoreError(.io, "truncate \(path) failed") }
}

/// Expects `body` to throw an ``ImageStoreError`` with `code` whose message contains every
/// string in `mentions`; returns the error.
@discardableResult
func expectStoreError(_ code: ImageStoreError.Code, mentioning mentions: [String] = [], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> ImageStoreError? {
    do {
        try body()
        Issue.record("expected an ImageStoreError \(code), but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as ImageStoreError {
        #expect(error.code == code, "wrong code for: \(error)", sourceLocation: sourceLocation)
        for text in mentions {
            #expect(error.description.contains(text), "\"\(error)\" does not mention \(text)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected an ImageStoreError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Checks that a failed load left nothing tagged and the store still works: a good
/// archive loads afterwards.
func expectStoreStillUsable(_ store: ImageStore, goodArchive: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(try store.list().isEmpty, "a failed load tagged something", sourceLocation: sourceLocation)
    let loaded = try store.loadArchive(file: goodArchive)
    #expect(!loaded.isEmpty, sourceLocation: sourceLocation)
    for record in loaded {
        for child in try store.children(of: record.target) { try store.content.verify(child.digest) }
    }
}
