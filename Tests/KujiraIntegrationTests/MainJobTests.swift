import Foundation
import Testing

/// The README's main job, as the CLI does it: `kujira build` of Examples/demo/Dockerfile
/// (FROM scratch + Debian's busybox-static) and `kujira run --rm` of the image, offline.
@Suite("the main job: build a Dockerfile, run the image")
struct MainJobTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("kujira build + kujira run --rm print the demo's greeting",
          .enabled(if: Host.has([], root: true)))
    func buildAndRun() throws {
        try withTemporaryDirectory { scratch in
            let context = "\(scratch)/context"
            try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(Self.repository)/Examples/demo/Dockerfile", toPath: "\(context)/Dockerfile")
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: "\(context)/busybox")
            let root = "\(scratch)/root", state = "\(scratch)/state"
            // `run` joins the root's default network: leave ip_forward alone, drop the network after.
            setenv("KUJIRA_IP_FORWARD", "0", 1)
            defer { _ = try? run(Host.kujira, ["--root", root, "--state", state, "network", "__teardown"]) }
            let built = try run(Host.kujira, ["--root", root, "--state", state, "build", "-t", "demo/hello:1", context])
            #expect(built.succeeded, "\(built.stdout)\n\(built.stderr)")
            let ran = try run(Host.kujira, ["--root", root, "--state", state, "run", "--rm", "demo/hello:1"])
            #expect(ran.succeeded, "\(ran.stderr)")
            #expect(ran.stdout.hasPrefix("Hello from a Kujira container\nbuilt by kujira build\n"), "\(ran.stdout)")
            // A second build is served from the cache.
            let again = try run(Host.kujira, ["--root", root, "--state", state, "build", "-t", "demo/hello:1", context])
            // Progress goes to stderr, as with docker build.
            #expect(again.succeeded && again.stderr.contains("CACHED"), "\(again.stderr)")
            // --rm left no container behind.
            let listed = try run(Host.kujira, ["--root", root, "--state", state, "ps", "-a", "-q"])
            #expect(listed.succeeded && listed.stdout.isEmpty, "\(listed.stdout)")
        }
    }
}
