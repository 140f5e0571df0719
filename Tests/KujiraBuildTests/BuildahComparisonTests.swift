import Foundation
import Glibc
import KujiraBuild
import KujiraImage
import KujiraOCI
import Testing

/// Debian's buildah as the oracle: the same Dockerfile built by both must give the same
/// container configuration.
@Suite("Compared with buildah", .serialized, .enabled(if: Privilege.shouldRun, Privilege.reason),
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/buildah"), "needs Debian's buildah"))
struct BuildahComparisonTests {
    @discardableResult
    func run(_ arguments: [String], in directory: String) throws -> String {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/buildah")
        process.arguments = ["--root", directory + "/buildah/root", "--runroot", directory + "/buildah/run", "--storage-driver", "vfs"] + arguments
        let output = directory + "/buildah.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else { throw TestFailure("buildah \(arguments.joined(separator: " ")) failed: \(text)") }
        return text
    }

    @Test func sameConfigAsBuildah() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        let dockerfile = """
            FROM busybox
            ARG VERSION=1.2
            ENV A=1 B="two words" C=$VERSION
            WORKDIR /app
            WORKDIR sub
            RUN echo hi > f
            USER 1000:1000
            EXPOSE 80 53/udp 8080/tcp
            VOLUME ["/data", "/cache"]
            LABEL x=y "with space"="v"
            STOPSIGNAL SIGINT
            ENTRYPOINT ["sh"]
            CMD ["-c", "echo hi"]
            """
        try box.write("Dockerfile", dockerfile)
        try box.build(dockerfile, tags: ["localhost/ours"])
        let ours = try #require(try box.configuration("localhost/ours").config)

        _ = try box.store.exportOCIArchive("busybox", to: box.directory + "/busybox.tar", tag: "latest")
        try run(["pull", "oci-archive:" + box.directory + "/busybox.tar"], in: box.directory)
        let id = try run(["images", "-q"], in: box.directory).split(separator: "\n").first.map(String.init) ?? ""
        try run(["tag", id, "localhost/busybox:latest"], in: box.directory)
        try run(["bud", "--isolation", "chroot", "--pull=never", "-t", "localhost/theirs", box.context], in: box.directory)
        let inspect = try run(["inspect", "--type", "image", "localhost/theirs"], in: box.directory)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any])
        let oci = try #require(json["OCIv1"] as? [String: Any])
        let configData = try JSONSerialization.data(withJSONObject: oci["config"] ?? [:])
        var theirs = try JSONDecoder().decode(ImageConfig.self, from: configData)
        theirs.labels?["io.buildah.version"] = nil

        #expect(ours.env == theirs.env)
        #expect(ours.cmd == theirs.cmd)
        #expect(ours.entrypoint == theirs.entrypoint)
        #expect(ours.workingDir == theirs.workingDir)
        #expect(ours.user == theirs.user)
        #expect(ours.exposedPorts == theirs.exposedPorts)
        #expect(ours.volumes == theirs.volumes)
        #expect(ours.labels == theirs.labels)
        #expect(ours.stopSignal == theirs.stopSignal)
    }
}
