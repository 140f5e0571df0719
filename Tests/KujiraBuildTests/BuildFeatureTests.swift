import Foundation
import Glibc
import KujiraBuild
import KujiraImage
import KujiraOCI
import Testing

/// RUN heredocs, --mount and --network; ONBUILD; ADD archives and URLs; COPY --parents,
/// --exclude and symbolic --chmod — each built for real and checked in the image.
@Suite("Build features", .serialized, .enabled(if: Privilege.shouldRun, Privilege.reason))
struct BuildFeatureTests {
    @Test func runHeredocs() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.build("""
            FROM busybox
            RUN <<EOF
            echo one > /one
            echo two >> /one
            EOF
            RUN <<SCRIPT
            #!/bin/sh
            echo "script $0" > /script
            SCRIPT
            RUN cat <<A > /a && cat <<'B' > /b
            first $HOME
            A
            second $HOME
            B
            RUN <<-EOT
            \techo tabbed > /tabbed
            \tEOT
            """)
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(BuildSandbox.read(rootfs + "/one") == "one\ntwo\n")
        #expect(BuildSandbox.read(rootfs + "/script") == "script /dev/pipes/SCRIPT\n")
        #expect(BuildSandbox.read(rootfs + "/a") == "first /root\n")
        #expect(BuildSandbox.read(rootfs + "/b") == "second $HOME\n")
        #expect(BuildSandbox.read(rootfs + "/tabbed") == "tabbed\n")
        // The script's mount point leaves nothing behind.
        #expect(BuildSandbox.stat(rootfs + "/dev/pipes") == nil)
        #expect(box.leftoverMounts.isEmpty)
    }

    @Test func cacheMountPersistsAcrossBuildsAndStaysOutOfTheImage() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        let dockerfile = """
            FROM busybox
            RUN --mount=type=cache,target=/var/cache/app,id=app-cache,uid=1000,mode=0750 \
                echo run >> /var/cache/app/runs && cat /var/cache/app/runs | wc -l > /count && stat -c %u:%a /var/cache/app > /owner
            """
        try box.build(dockerfile, tags: ["localhost/c1"], noCache: true)
        try box.build(dockerfile, tags: ["localhost/c2"], noCache: true)
        let first = try box.unpack("localhost/c1"), second = try box.unpack("localhost/c2")
        #expect(BuildSandbox.read(first + "/count")?.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        #expect(BuildSandbox.read(second + "/count")?.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        #expect(BuildSandbox.read(first + "/owner") == "1000:750\n")
        #expect(BuildSandbox.stat(second + "/var/cache/app") == nil)
        #expect(BuildSandbox.stat(second + "/var/cache") == nil)
    }

    @Test func bindMountsFromContextAndStage() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.write("src/data.txt", "from context\n")
        try box.write("src/ignored.txt", "hidden\n")
        try box.write(".dockerignore", "src/ignored.txt\n")
        let dockerfile = """
            FROM busybox AS tools
            RUN mkdir -p /opt/tool && echo tool > /opt/tool/name
            FROM busybox
            RUN --mount=type=bind,source=src,target=/mnt/src \
                --mount=type=bind,from=tools,source=/opt/tool,target=/mnt/tool \
                cat /mnt/src/data.txt /mnt/tool/name > /result && ls /mnt/src > /listing \
                && (touch /mnt/src/new 2>/dev/null && echo writable || echo read-only) > /mode
            RUN --mount=type=bind,source=src,target=/mnt/rw,rw echo scribble > /mnt/rw/data.txt && cat /mnt/rw/data.txt > /rw
            """
        let log = EventLog()
        try box.build(dockerfile, log: log)
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(BuildSandbox.read(rootfs + "/result") == "from context\ntool\n")
        #expect(BuildSandbox.read(rootfs + "/listing") == "data.txt\n")
        #expect(BuildSandbox.read(rootfs + "/mode") == "read-only\n")
        #expect(BuildSandbox.read(rootfs + "/rw") == "scribble\n")
        #expect(BuildSandbox.read(box.context + "/src/data.txt") == "from context\n")
        #expect(BuildSandbox.stat(rootfs + "/mnt") == nil)
        // The bind source's content is part of the key: unchanged hits, changed reruns.
        let again = EventLog()
        try box.build(dockerfile, log: again)
        #expect(again.runs == 0)
        try box.write("src/data.txt", "changed\n")
        let changed = EventLog()
        try box.build(dockerfile, log: changed)
        #expect(changed.runs == 2)
        #expect(box.leftoverMounts.isEmpty)
    }

    @Test func secretsAndTmpfs() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        let secretFile = box.directory + "/token"
        try "s3cr3t".write(toFile: secretFile, atomically: false, encoding: .utf8)
        try box.build("""
            FROM busybox
            RUN --mount=type=secret,id=token cat /run/secrets/token > /seen-file && stat -c %a /run/secrets/token > /secret-mode
            RUN --mount=type=secret,id=api,env=API_KEY echo "$API_KEY" > /seen-env
            RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent && echo skipped > /absent
            RUN --mount=type=tmpfs,target=/scratch,size=1048576 grep -q " /scratch tmpfs " /proc/mounts && echo tmpfs > /tmpfs
            """) { options in
            options.secrets = ["token": .file(secretFile), "api": .value(Array("key-123".utf8))]
        }
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(BuildSandbox.read(rootfs + "/seen-file") == "s3cr3t")
        #expect(BuildSandbox.read(rootfs + "/secret-mode") == "400\n")
        #expect(BuildSandbox.read(rootfs + "/seen-env") == "key-123\n")
        #expect(BuildSandbox.read(rootfs + "/absent") == "skipped\n")
        #expect(BuildSandbox.read(rootfs + "/tmpfs") == "tmpfs\n")
        #expect(BuildSandbox.stat(rootfs + "/run/secrets") == nil)
        #expect(BuildSandbox.stat(rootfs + "/scratch") == nil)
        let history = try box.configuration("localhost/test:latest").history ?? []
        #expect(!history.contains { ($0.createdBy ?? "").contains("key-123") })
        // A required secret that is missing names itself and the flag that provides it.
        #expect {
            try box.build("FROM busybox\nRUN --mount=type=secret,id=needed,required cat /run/secrets/needed\n", tags: ["localhost/x"]) { _ in }
        } throws: { error in
            "\(error)".contains("secret needed is required") && "\(error)".contains("--secret id=needed")
        }
    }

    @Test func networkModes() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.build("""
            FROM busybox
            RUN --network=none cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort > /none
            RUN --network=host cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort > /host
            """)
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(BuildSandbox.read(rootfs + "/none") == "lo\n")
        let hostText = procText("/proc/net/dev")
        let hostInterfaces = hostText.split(separator: "\n").dropFirst(2)
            .compactMap { $0.split(separator: ":").first?.trimmingCharacters(in: .whitespaces) }.sorted()
        let seen = (BuildSandbox.read(rootfs + "/host") ?? "").split(separator: "\n").map(String.init)
        // Interfaces come and go (other tests make veths); the host's loopback and its
        // long-lived ones are seen.
        #expect(seen.contains("lo"))
        #expect(Set(seen).intersection(hostInterfaces).count >= min(2, hostInterfaces.count))
        #expect {
            try box.build("FROM busybox\nRUN --network=bridge true\n", tags: ["localhost/x"])
        } throws: { "\($0)".contains("unsupported network mode \"bridge\"") }
    }

    @Test func onbuildTriggersRunInTheChild() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.write("payload.txt", "payload\n")
        try box.build("""
            FROM busybox
            ONBUILD COPY payload.txt /from-trigger.txt
            ONBUILD RUN echo triggered > /triggered
            """, tags: ["localhost/base"])
        #expect(try box.configuration("localhost/base").config?.onBuild == ["COPY payload.txt /from-trigger.txt", "RUN echo triggered > /triggered"])
        try box.build("FROM localhost/base\nRUN cat /triggered > /seen\n", tags: ["localhost/child"])
        let rootfs = try box.unpack("localhost/child")
        #expect(BuildSandbox.read(rootfs + "/from-trigger.txt") == "payload\n")
        #expect(BuildSandbox.read(rootfs + "/seen") == "triggered\n")
        #expect(try box.configuration("localhost/child").config?.onBuild == nil)
        // A stage's ONBUILD runs in a stage built FROM it.
        try box.build("FROM busybox AS base\nONBUILD RUN touch /stage-trigger\nFROM base\nRUN test -e /stage-trigger\n", tags: ["localhost/staged"])
        #expect(BuildSandbox.stat(try box.unpack("localhost/staged") + "/stage-trigger") != nil)
    }

    @Test func addUnpacksLocalArchives() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.write("tree/dir/file.txt", "in archive\n")
        try box.write("tree/top.txt", "top\n")
        try Self.sh("cd \(box.context)/tree && tar -czf ../bundle.tar.gz dir top.txt && tar -cf ../plain.tar top.txt && rm -rf \(box.context)/tree")
        try box.build("""
            FROM busybox
            ADD bundle.tar.gz /opt/bundle/
            ADD plain.tar /opt/plain
            ADD --unpack=false plain.tar /opt/raw/
            COPY bundle.tar.gz /opt/copied/
            """)
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(BuildSandbox.read(rootfs + "/opt/bundle/dir/file.txt") == "in archive\n")
        #expect(BuildSandbox.read(rootfs + "/opt/bundle/top.txt") == "top\n")
        #expect(BuildSandbox.read(rootfs + "/opt/plain/top.txt") == "top\n")
        #expect(BuildSandbox.stat(rootfs + "/opt/raw/plain.tar") != nil)
        #expect(BuildSandbox.stat(rootfs + "/opt/copied/bundle.tar.gz") != nil)
    }

    @Test func copyParentsExcludeAndSymbolicChmod() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.write("app/a/one.txt", "1\n")
        try box.write("app/b/two.txt", "2\n")
        try box.write("app/b/skip.log", "log\n")
        try box.write("bin/tool", "#!/bin/sh\n", mode: 0o640)
        try box.build("""
            FROM busybox
            COPY --parents app/a/one.txt app/b/two.txt /parents/
            COPY --parents app/./b/two.txt /pivot/
            COPY --exclude=*.log app/b /excluded/
            COPY --chmod=u+x,g-r,o=r bin/tool /tool
            COPY --chmod=a=rX app /modes/
            """)
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(BuildSandbox.read(rootfs + "/parents/app/a/one.txt") == "1\n")
        #expect(BuildSandbox.read(rootfs + "/parents/app/b/two.txt") == "2\n")
        #expect(BuildSandbox.read(rootfs + "/pivot/b/two.txt") == "2\n")
        #expect(BuildSandbox.read(rootfs + "/excluded/two.txt") == "2\n")
        #expect(BuildSandbox.stat(rootfs + "/excluded/skip.log") == nil)
        #expect(BuildSandbox.stat(rootfs + "/tool").map { $0.st_mode & 0o7777 } == 0o704)
        #expect(BuildSandbox.stat(rootfs + "/modes/a/one.txt").map { $0.st_mode & 0o7777 } == 0o444)
        #expect(BuildSandbox.stat(rootfs + "/modes/a").map { $0.st_mode & 0o7777 } == 0o555)
    }

    @Test func addDownloadsURLsWithChecksum() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        let body = Array("downloaded content\n".utf8)
        let server = try OneFileHTTPServer(body: body, lastModified: "Tue, 14 Nov 2023 22:13:20 GMT")
        defer { server.stop() }
        let digest = Digest.sha256(of: body)
        try box.build("""
            FROM busybox
            ADD --checksum=\(digest) http://127.0.0.1:\(server.port)/files/notes.txt /downloads/
            ADD http://127.0.0.1:\(server.port)/files/notes.txt /renamed.txt
            """)
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(BuildSandbox.read(rootfs + "/downloads/notes.txt") == "downloaded content\n")
        let st = try #require(BuildSandbox.stat(rootfs + "/renamed.txt"))
        #expect(st.st_mode & 0o7777 == 0o600)
        #expect(st.st_mtim.tv_sec == 1_700_000_000)
        #expect {
            try box.build("FROM busybox\nADD --checksum=sha256:\(String(repeating: "0", count: 64)) http://127.0.0.1:\(server.port)/x /x\n",
                          tags: ["localhost/bad"])
        } throws: { "\($0)".contains("checksum mismatch") }
    }

    @Test func addGitRepositoryFromALoopbackServer() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        let repos = box.directory + "/repos"
        try Self.sh("""
            set -e
            export HOME=\(box.directory) GIT_CONFIG_NOSYSTEM=1
            git init -q -b main \(repos)/work
            cd \(repos)/work
            mkdir -p docs && echo readme > README && echo guide > docs/guide.md && printf '#!/bin/sh\\n' > run.sh && chmod 755 run.sh
            git add -A && git -c user.email=t@e -c user.name=t commit -q -m one --date=@1600000000
            GIT_COMMITTER_DATE=@1600000000 git -c user.email=t@e -c user.name=t commit -q --amend --no-edit --date=@1600000000
            git tag v1
            echo changed > README && git -c user.email=t@e -c user.name=t commit -q -am two
            git clone -q --bare \(repos)/work \(repos)/repo.git
            """)
        let port = try OneFileHTTPServer.freePort()
        // posix_spawn, not Foundation's Process: git-daemon's children inherit what Process
        // watches, and waitUntilExit would hang.
        let daemonArguments = ["/usr/lib/git-core/git-daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", "--port=\(port)",
                               "--base-path=\(repos)", repos]
        let cArgs = daemonArguments.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var daemon: pid_t = 0
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        defer { posix_spawnattr_destroy(&attributes) }
        guard posix_spawn(&daemon, daemonArguments[0], nil, &attributes, cArgs, environ) == 0 else { throw TestFailure("cannot start git-daemon") }
        defer {
            kill(-daemon, SIGKILL)
            var status: Int32 = 0
            waitpid(daemon, &status, 0)
        }
        // Wait until it accepts connections.
        for _ in 0..<100 where !OneFileHTTPServer.accepts(port: port) { usleep(50_000) }
        try box.build("""
            FROM busybox
            ADD git://127.0.0.1:\(port)/repo.git /src/head/
            ADD git://127.0.0.1:\(port)/repo.git#v1:docs /src/docs
            ADD --keep-git-dir git://127.0.0.1:\(port)/repo.git#main /src/with-git
            """)
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(BuildSandbox.read(rootfs + "/src/head/README") == "changed\n")
        #expect(BuildSandbox.stat(rootfs + "/src/head/run.sh").map { $0.st_mode & 0o777 } == 0o755)
        #expect(BuildSandbox.stat(rootfs + "/src/head/.git") == nil)
        #expect(BuildSandbox.read(rootfs + "/src/docs/guide.md") == "guide\n")
        #expect(BuildSandbox.stat(rootfs + "/src/docs/README") == nil)
        #expect(BuildSandbox.stat(rootfs + "/src/docs/guide.md").map { $0.st_mtim.tv_sec } == 1_600_000_000)
        #expect(BuildSandbox.stat(rootfs + "/src/with-git/.git/HEAD") != nil)
        #expect {
            try box.build("FROM busybox\nADD git://127.0.0.1:\(port)/missing.git /x\n", tags: ["localhost/x"])
        } throws: { "\($0)".contains("missing.git") && "\($0)".contains("git fetch failed") }
    }

    @Test func independentStagesRunInParallel() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        // Each stage waits for the other's mark in a shared cache mount: built one after the
        // other, the first would give up and fail the build.
        func stage(_ me: String, _ other: String) -> String {
            """
            FROM busybox AS \(me)
            RUN --mount=type=cache,target=/sync,id=rendezvous touch /sync/\(me) && i=0 && \
                while [ ! -e /sync/\(other) ]; do i=$((i+1)); [ $i -gt 1200 ] && exit 7; sleep 0.1; done && echo \(me) > /\(me)
            """
        }
        let log = EventLog()
        try box.build(stage("left", "right") + "\n" + stage("right", "left") + """

            FROM busybox
            COPY --from=left /left /left
            COPY --from=right /right /right
            """, log: log)
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(BuildSandbox.read(rootfs + "/left") == "left\n")
        #expect(BuildSandbox.read(rootfs + "/right") == "right\n")
        // A failing stage fails the build and names its line, even with a sibling running.
        #expect {
            try box.build("FROM busybox AS a\nRUN exit 3\nFROM busybox AS b\nRUN true\nFROM busybox\nCOPY --from=a /etc /a\nCOPY --from=b /etc /b\n",
                          tags: ["localhost/fail"], noCache: true)
        } throws: { "\($0)".contains("Dockerfile:2") && "\($0)".contains("status 3") }
        #expect(box.leftoverMounts.isEmpty)
    }

    @Test func otherPlatformsAreRefused() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        let other = Platform.host.architecture == "arm64" ? "linux/amd64" : "linux/arm64"
        #expect {
            try box.build("FROM --platform=\(other) busybox\nRUN true\n", tags: ["localhost/x"])
        } throws: { "\($0)".contains("Dockerfile:1") && "\($0)".contains("needs emulation") }
        #expect {
            try box.build("FROM busybox\n", tags: ["localhost/x"]) { $0.platform = other }
        } throws: { "\($0)".contains("--platform=\(other)") }
        // The host's own platform, spelled either way, builds.
        try box.build("FROM --platform=$BUILDPLATFORM busybox\nRUN true\n", tags: ["localhost/ok"]) { $0.platform = Platform.host.description }
    }

    static func sh(_ command: String) throws {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw TestFailure("\(command) failed") }
    }
}

/// A loopback HTTP server that answers every GET with one body, on its own thread.
final class OneFileHTTPServer: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let thread: Thread

    init(body: [UInt8], lastModified: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else { throw TestFailure("bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        thread = Thread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { if errno == EINTR { continue } else { return } }
                var request = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !request.ends(with: Array("\r\n\r\n".utf8)) {
                    let n = read(client, &buffer, buffer.count)
                    if n <= 0 { break }
                    request += buffer[0..<n]
                }
                let head = "HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nLast-Modified: \(lastModified)\r\nConnection: close\r\n\r\n"
                let response = Array(head.utf8) + body
                _ = response.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(client)
            }
        }
        thread.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    /// A free loopback TCP port.
    static func freePort() throws -> Int {
        let server = try OneFileHTTPServer(body: [], lastModified: "")
        defer { server.stop() }
        return server.port
    }

    /// Whether something accepts connections on the loopback port.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
