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

    @Test("--progress tty draws BuildKit-style step lines; plain prints #N lines", .enabled(if: Host.has([], root: true)))
    func progressModes() throws {
        try withTemporaryDirectory { scratch in
            let context = "\(scratch)/context"
            try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: "\(context)/busybox")
            try "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"echo\", \"from-run\"]\n"
                .write(toFile: "\(context)/Dockerfile", atomically: false, encoding: .utf8)
            let root = "\(scratch)/root"
            let tty = try run(Host.kujira, ["--root", root, "build", "--no-cache", "--progress", "tty", context])
            #expect(tty.succeeded, "\(tty.stderr)")
            #expect(tty.stderr.contains("=> [3/3] RUN") && tty.stderr.contains("from-run") && tty.stderr.contains("FINISHED")
                    && tty.stderr.contains("\u{1B}[2K"), "\(tty.stderr)")
            let plain = try run(Host.kujira, ["--root", root, "build", "--progress", "plain", context])
            #expect(plain.stderr.contains("#3 [3/3] RUN") && plain.stderr.contains("#3 CACHED"), "\(plain.stderr)")
            let bad = try run(Host.kujira, ["--root", root, "build", "--progress", "fancy", context])
            #expect(!bad.succeeded && bad.stderr.contains("use auto, plain, tty or quiet"), "\(bad.stderr)")
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

/// `kill -9` of `kujira build` in the middle of a RUN step: the next build on the root removes
/// the killed build's container, overlays and temporary files.
@Suite("kujira build: recovery after kill -9", .serialized)
struct BuildRecoveryTests {
    @Test("the next build removes what a killed build left", .enabled(if: Host.has([], root: true)))
    func killedBuildIsCleanedUp() throws {
        try withTemporaryDirectory { scratch in
            let context = "\(scratch)/context"
            try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: "\(context)/busybox")
            try "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sleep\", \"4247\"]\n"
                .write(toFile: "\(context)/Dockerfile", atomically: false, encoding: .utf8)
            let root = "\(scratch)/root"
            let build = Process()
            build.executableURL = URL(fileURLWithPath: Host.kujira)
            build.arguments = ["--root", root, "build", "-q", context]
            build.standardOutput = FileHandle.nullDevice
            build.standardError = FileHandle.nullDevice
            build.standardInput = FileHandle.nullDevice
            try build.run()
            // Wait until the RUN step's process exists, then kill the builder outright.
            var sleeper: Int32?
            for _ in 0..<600 where sleeper == nil {
                sleeper = Self.processes(withCommandLine: "/bin/busybox\0sleep\04247").first
                if sleeper == nil { usleep(50_000) }
            }
            kill(build.processIdentifier, SIGKILL)
            build.waitUntilExit()
            let running = try #require(sleeper, "the RUN step never started")
            // The killed build left its lock and temporary directory.
            let left = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/build-tmp")) ?? []
            #expect(left.contains { $0.hasSuffix(".lock") }, "\(left)")

            try "FROM scratch\nLABEL after=kill\n".write(toFile: "\(context)/Dockerfile", atomically: false, encoding: .utf8)
            let next = try run(Host.kujira, ["--root", root, "build", "-q", context])
            #expect(next.succeeded, "\(next.stderr)")
            #expect(Self.mounts(under: root).isEmpty, "\(Self.mounts(under: root))")
            #expect(kill(running, 0) != 0 || Self.isZombie(running))
            let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/build-tmp")) ?? []
            #expect(leftovers.isEmpty, "\(leftovers)")
        }
    }

    static func processes(withCommandLine wanted: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).hasPrefix(wanted)
        }
    }

    static func isZombie(_ pid: Int32) -> Bool {
        ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") Z ")
    }

    static func mounts(under directory: String) -> [String] {
        // Read to the end in a loop: procfs files report size 0.
        var bytes = [UInt8]()
        let fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                bytes += buffer[0..<n]
            }
            close(fd)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4].hasPrefix(directory) ? String(fields[4]) : nil
        }
    }
}
