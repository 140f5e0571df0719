import Foundation
import Testing

/// `kujira build`'s inputs and outputs: a Dockerfile or a tar context on standard input,
/// `--output`, and base images pulled from a registry on loopback.
@Suite("kujira build: stdin, outputs, pulls", .serialized)
struct BuildCLITests {
    @Test("a tar context on stdin, -f -, and -o type=local|oci|tar", .enabled(if: Host.has([], root: true)))
    func stdinAndOutputs() throws {
        try withTemporaryDirectory { scratch in
            let context = "\(scratch)/context"
            try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
            try "hello from stdin\n".write(toFile: "\(context)/hello.txt", atomically: false, encoding: .utf8)
            try "FROM scratch\nCOPY hello.txt /hello.txt\n".write(toFile: "\(context)/Dockerfile", atomically: false, encoding: .utf8)
            let root = "\(scratch)/root"
            let kujiraPath = Host.kujira
            // The whole context as a tar on standard input.
            let fromTar = try run("/bin/sh", ["-c", "tar -C \(context) -cf - . | \(kujiraPath) --root \(root) build -t localhost/stdin:1 -o type=local,dest=\(scratch)/out -o type=oci,dest=\(scratch)/image.tar -o type=tar,dest=\(scratch)/rootfs.tar -"])
            #expect(fromTar.succeeded, "\(fromTar.stderr)")
            #expect((try? String(contentsOfFile: "\(scratch)/out/hello.txt", encoding: .utf8)) == "hello from stdin\n")
            let listing = try run("tar", ["-tf", "\(scratch)/image.tar"])
            #expect(listing.stdout.contains("index.json") && listing.stdout.contains("oci-layout"), "\(listing.stdout)")
            let rootfs = try run("tar", ["-tf", "\(scratch)/rootfs.tar"])
            #expect(rootfs.stdout.contains("hello.txt"), "\(rootfs.stdout)")
            // The Dockerfile on standard input, the context a directory.
            let dockerfile = "\(scratch)/Other.Dockerfile"
            try "FROM scratch\nCOPY hello.txt /copied.txt\n".write(toFile: dockerfile, atomically: false, encoding: .utf8)
            let fromFile = try run("/bin/sh", ["-c", "\(kujiraPath) --root \(root) build -t localhost/stdin:2 -o \(scratch)/out2 -f - \(context) < \(dockerfile)"])
            #expect(fromFile.succeeded, "\(fromFile.stderr)")
            #expect((try? String(contentsOfFile: "\(scratch)/out2/copied.txt", encoding: .utf8)) == "hello from stdin\n")
            // A plain Dockerfile as the stdin "context": an empty context.
            let bare = try run("/bin/sh", ["-c", "printf 'FROM scratch\\nLABEL a=b\\n' | \(kujiraPath) --root \(root) build -q -t localhost/stdin:3 -"])
            #expect(bare.succeeded && bare.stdout.hasPrefix("sha256:"), "\(bare.stderr)")
            let bad = try run(kujiraPath, ["--root", root, "build", "-o", "type=zip,dest=x", context])
            #expect(!bad.succeeded && bad.stderr.contains("type must be oci, docker, tar or local"), "\(bad.stderr)")
        }
    }

    @Test("a missing base image is pulled from its registry", .enabled(if: Host.has(["umoci", "skopeo", "docker-registry"], root: true)))
    func pullsMissingBase() throws {
        try withTemporaryDirectory { scratch in
            let registry = try RegistryCLITests.Registry(directory: scratch)
            defer { registry.stop() }
            let layout = "\(scratch)/layout"
            try TestImages.umociBusybox(layout: layout, scratch: scratch)
            try mustRun("skopeo", ["copy", "--dest-tls-verify=false", "oci:\(layout):latest", "docker://\(registry.host)/base/busybox:1"])
            let context = "\(scratch)/context"
            try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
            try "FROM \(registry.host)/base/busybox:1\nRUN echo pulled > /marker\n".write(toFile: "\(context)/Dockerfile", atomically: false, encoding: .utf8)
            let root = "\(scratch)/root"
            let built = try run(Host.kujira, ["--root", root, "--state", "\(scratch)/state", "build", "--insecure-registry", registry.host,
                                              "-t", "localhost/child:1", "-o", "\(scratch)/out", context])
            #expect(built.succeeded, "\(built.stderr)")
            #expect((try? String(contentsOfFile: "\(scratch)/out/marker", encoding: .utf8)) == "pulled\n")
            let images = try kujira(root, ["images"])
            #expect(images.stdout.contains("\(registry.host)/base/busybox"), "\(images.stdout)")
            // Without a registry that has it, the error names the image.
            try "FROM \(registry.host)/base/missing:1\n".write(toFile: "\(context)/Dockerfile", atomically: false, encoding: .utf8)
            let missing = try run(Host.kujira, ["--root", root, "build", "--insecure-registry", registry.host, context])
            #expect(!missing.succeeded && missing.stderr.contains("base/missing:1"), "\(missing.stderr)")
        }
    }
}
