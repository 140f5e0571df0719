import Foundation
import Glibc
@testable import KujiraBuild
import KujiraDockerfile
import KujiraOCI
import Testing

/// The first instruction after FROM of a parsed Dockerfile.
func parsedInstruction(_ line: String) throws -> Instruction {
    let dockerfile = try DockerfileParser.parse("FROM scratch\n" + line + "\n")
    guard let first = dockerfile.stages.first?.instructions.first else { throw TestFailure("no instruction in \(line)") }
    return first.instruction
}

/// `COPY arguments` parsed.
func copyInstruction(_ arguments: String) throws -> CopyInstruction {
    guard case .copy(let copy) = try parsedInstruction("COPY " + arguments) else { throw TestFailure("not a COPY") }
    return copy
}

/// COPY's source and destination rules, on plain directories (no root needed).
@Suite("COPY plans")
struct CopyPlanTests {
    let directory: String
    var context: String { directory + "/context" }
    var root: String { directory + "/root" }

    init() throws {
        var template = Array("/tmp/kujira-copyplan-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        directory = String(cString: made)
        let fm = FileManager.default
        for dir in ["context/dir/sub", "root/existing", "root/usr/bin"] {
            try fm.createDirectory(atPath: directory + "/" + dir, withIntermediateDirectories: true)
        }
        try fm.createSymbolicLink(atPath: root + "/bin", withDestinationPath: "usr/bin")
        for file in ["a.txt", "b.txt", "c.md", "dir/one", "dir/sub/two", "ignored.log"] {
            try "\(file)\n".write(toFile: context + "/" + file, atomically: false, encoding: .utf8)
        }
        try "*.log\n".write(toFile: context + "/.dockerignore", atomically: false, encoding: .utf8)
    }

    func plan(_ sources: [String], _ destination: String, workdir: String = "/", chown: (UInt32, UInt32)? = nil) throws -> [String] {
        let copy = try copyInstruction((sources + [destination]).joined(separator: " "))
        let tree = SourceTree(root: context, ignore: try DockerIgnore("*.log\n"), keepOwners: false, name: "build context")
        let result = try CopyPlan.make(copy, keyword: "COPY", from: tree, destinationRoot: root, workdir: workdir,
                                       owner: chown.map { (uid: $0.0, gid: $0.1) }, chmod: nil)
        return result.items.map(\.destination)
    }

    @Test(arguments: [
        (["a.txt"], "/x", ["/x"]),
        (["a.txt"], "/x/", ["/x/a.txt"]),
        (["a.txt"], "/existing", ["/existing/a.txt"]),
        (["a.txt"], "rel/", ["/app/rel/a.txt"]),
        (["a.txt"], ".", ["/app/a.txt"]),
        (["a.txt", "b.txt"], "/d/", ["/d/a.txt", "/d/b.txt"]),
        (["*.txt"], "/d/", ["/d/a.txt", "/d/b.txt"]),
        (["dir"], "/d", ["/d/one", "/d/sub", "/d/sub/two"]),
        (["dir/"], "/d/", ["/d/one", "/d/sub", "/d/sub/two"]),
        (["a.txt"], "/bin/", ["/bin/a.txt"]),
    ])
    func destinations(sources: [String], destination: String, expected: [String]) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try plan(sources, destination, workdir: "/app") == expected)
    }

    @Test func dockerignoreAndErrors() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(!(try plan(["."], "/c/")).contains("/c/ignored.log"))
        #expect(try plan(["."], "/c/").contains("/c/a.txt"))
        #expect { try plan(["ignored.log"], "/x") } throws: { ($0 as? BuildError)?.code == .sourceNotFound }
        #expect { try plan(["missing"], "/x") } throws: { ($0 as? BuildError)?.code == .sourceNotFound }
        #expect { try plan(["a.txt", "b.txt"], "/x") } throws: { ($0 as? BuildError)?.code == .invalidArgument }
        #expect { try plan(["https://example.com/f"], "/x") } throws: { ($0 as? BuildError)?.code == .unsupported }
    }

    @Test func inputsDigestIgnoresMtimeButNotContent() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let copy = try copyInstruction("a.txt /a")
        let tree = SourceTree(root: context, ignore: nil, keepOwners: false, name: "build context")
        func digest() throws -> Digest {
            try CopyPlan.make(copy, keyword: "COPY", from: tree, destinationRoot: root, workdir: "/", owner: nil, chmod: nil).inputsDigest()
        }
        let first = try digest()
        var times = [timespec(tv_sec: 1, tv_nsec: 0), timespec(tv_sec: 1, tv_nsec: 0)]
        utimensat(AT_FDCWD, context + "/a.txt", &times, 0)
        #expect(try digest() == first)
        try "changed\n".write(toFile: context + "/a.txt", atomically: false, encoding: .utf8)
        #expect(try digest() != first)
    }

    @Test func chownResolution() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n".write(toFile: root + "/etc/passwd", atomically: false, encoding: .utf8)
        try "root:x:0:\nstaff:x:50:\n".write(toFile: root + "/etc/group", atomically: false, encoding: .utf8)
        func ids(_ spec: String) -> String {
            switch ChownResolver.resolve(spec, root: root) {
            case .success(let r): return "\(r.uid):\(r.gid)"
            case .failure(let e): return e.message
            }
        }
        #expect(ids("app") == "1000:1001")
        #expect(ids("42") == "42:42")
        #expect(ids("app:staff") == "1000:50")
        #expect(ids("7:8") == "7:8")
        #expect(ids("nobody") == "unable to find user nobody: no matching entries in passwd file")
        #expect(ids("app:wheel") == "unable to find group wheel: no matching entries in group file")
    }
}

/// History strings and config changes of metadata instructions (no root needed).
@Suite("Stage image metadata")
struct StageImageTests {
    @Test func metadataAndHistory() throws {
        var image = StageImage(configuration: ImageConfiguration(architecture: "amd64", os: "linux", config: ImageConfig()),
                               layers: [], key: Digest.sha256(of: Array("scratch".utf8)))
        image.config.cmd = ["sh"]
        // The closure must not capture `image`: applyMetadata mutates it while calling it.
        let resolve = { (path: String) in BuildRun.join("/", path) }
        #expect(image.applyMetadata(.env([KeyValuePair(key: "A", value: "1")]), workdir: resolve) == "ENV A=1")
        #expect(image.applyMetadata(.expose(["80", "53/udp"]), workdir: resolve) == "EXPOSE map[53/udp:{} 80/tcp:{}]")
        #expect(image.applyMetadata(.workdir("/app"), workdir: resolve) == "WORKDIR /app")
        #expect(image.config.workingDir == "/app")
        #expect(BuildRun.join("/app", "sub/../x") == "/app/x")
        #expect(image.applyMetadata(.entrypoint(.shell("run")), workdir: resolve) == "ENTRYPOINT [\"/bin/sh\",\"-c\",\"run\"]")
        #expect(image.config.cmd == nil)  // inherited CMD reset by ENTRYPOINT
        #expect(image.applyMetadata(.cmd(.exec(["a"])), workdir: resolve) == "CMD [\"a\"]")
        #expect(image.applyMetadata(.entrypoint(.exec(["e"])), workdir: resolve) != nil)
        #expect(image.config.cmd == ["a"])  // set in this stage: kept
        #expect(image.applyMetadata(.shell(["/bin/bash", "-c"]), workdir: resolve) == "SHELL [\"/bin/bash\",\"-c\"]")
        #expect(image.wrap(.shell("x")) == ["/bin/bash", "-c", "x"])
        #expect(image.applyMetadata(try parsedInstruction("RUN true"), workdir: resolve) == nil)
    }

    @Test func cacheKeysDependOnEveryPart() throws {
        let parent = Digest.sha256(of: Array("p".utf8))
        let key = BuildCache.key(parent: parent, text: "RUN x")
        #expect(key == BuildCache.key(parent: parent, text: "RUN x"))
        #expect(key != BuildCache.key(parent: parent, text: "RUN y"))
        #expect(key != BuildCache.key(parent: Digest.sha256(of: Array("q".utf8)), text: "RUN x"))
        #expect(key != BuildCache.key(parent: parent, text: "RUN x", inputs: parent))
    }
}
