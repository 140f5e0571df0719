import Foundation
import Glibc
import KujiraBuild
import KujiraImage
import KujiraOCI
import Testing

/// The acceptance suite of the builder: each Dockerfile is built by Kujira and by Debian's
/// `buildah bud --isolation chroot` from the same context and base, and the two images must
/// have the same config (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels,
/// StopSignal, Healthcheck, OnBuild) and the same files (path, type, mode, owner, size,
/// content, link target) in the final rootfs.
@Suite("Dockerfiles built by Kujira and by buildah", .serialized, .enabled(if: Privilege.shouldRun, Privilege.reason))
struct BuildahSuiteTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var dockerfile: String
        var files: [String: String] = [:]
        var modes: [String: mode_t] = [:]
        /// What buildah builds instead, when its Dockerfile parser lacks a form Kujira supports
        /// (buildah 1.28 has no heredocs): the same image written without that form.
        var buildahDockerfile: String?
        /// Paths only one of the two writes by design (buildah creates VOLUME directories in
        /// the image, and keeps the mount points of RUN --mount; BuildKit and Kujira record
        /// VOLUMEs in the config only and remove the mount stubs).
        var ignore: Set<String> = []
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "multi-stage", dockerfile: """
            FROM busybox AS build
            RUN mkdir -p /out/bin && echo tool > /out/bin/tool && chmod 755 /out/bin/tool && ln -s tool /out/bin/alias
            FROM busybox AS unused
            RUN exit 1
            FROM busybox
            COPY --from=build /out /opt/
            COPY --from=build /out/bin/tool /usr/local/bin/renamed
            """),
        Case(name: "copy semantics", dockerfile: """
            FROM busybox
            COPY dir /a/
            COPY dir /b
            COPY dir/one.txt dir/two.txt /c/
            COPY dir/*.txt /d/
            COPY dir/one.txt /e
            COPY dir/one.txt /f/
            WORKDIR /w
            COPY dir/one.txt rel.txt
            COPY dir ./sub/
            """, files: ["dir/one.txt": "1\n", "dir/two.txt": "2\n", "dir/nested/three.md": "3\n"]),
        Case(name: "chown and chmod", dockerfile: """
            FROM busybox
            COPY --chown=app:staff a.txt /owned/a.txt
            COPY --chown=1000 dir /owned-dir/
            COPY --chmod=0600 a.txt /private.txt
            COPY --chmod=755 dir /exec-dir/
            RUN chown 1000:50 /owned && chmod 0711 /owned
            """, files: ["a.txt": "a\n", "dir/x": "x\n", "dir/sub/y": "y\n"], modes: ["dir/x": 0o640]),
        Case(name: "workdir and user", dockerfile: """
            FROM busybox
            WORKDIR /srv
            WORKDIR app
            RUN pwd > /where && id > /who-root
            USER app
            RUN id > /tmp/who-app && pwd > /tmp/where-app
            WORKDIR /home/app/work
            USER 1000:50
            RUN touch /home/app/work/made-by-1000
            """),
        Case(name: "env and arg expansion", dockerfile: """
            ARG BASE=busybox
            FROM $BASE
            ARG VERSION=1.2.3
            ARG UNUSED
            ENV APP=demo DIR=/opt/${APP:-x} V=$VERSION
            ENV PATHS="${DIR}/bin:${PATH}" EMPTY=${UNSET:-fallback} ALT=${APP:+set}
            LABEL version=$VERSION app="$APP" quoted='$APP'
            WORKDIR $DIR
            RUN echo "$VERSION $APP $DIR $V" > /expanded && echo ${VERSION%.*} > /trimmed
            EXPOSE ${PORT:-8080}
            USER ${USERNAME:-root}
            """),
        Case(name: "entrypoint and cmd", dockerfile: """
            FROM busybox AS a
            ENTRYPOINT ["echo"]
            FROM a AS b
            CMD ["hello"]
            FROM b
            ENTRYPOINT echo shell form
            CMD ["ignored"]
            """),
        Case(name: "metadata", dockerfile: """
            FROM busybox
            HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=4 CMD wget -q -O /dev/null http://localhost/ || exit 1
            VOLUME /data /cache
            VOLUME ["/logs"]
            EXPOSE 80 443/tcp 53/udp 9000-9001
            LABEL org.example.a=1 org.example.b="two words"
            STOPSIGNAL SIGQUIT
            ONBUILD RUN echo child
            ONBUILD COPY . /app
            SHELL ["/bin/sh", "-e", "-c"]
            RUN echo shell > /shell
            """, ignore: ["/data", "/cache", "/logs"]),
        Case(name: "dockerignore with exceptions", dockerfile: """
            FROM busybox
            COPY . /ctx/
            """, files: [".dockerignore": "# comment\n*.log\n!keep.log\nsecret/\ndocs/**/*.tmp\nDockerfile\n",
                         "a.log": "no\n", "keep.log": "yes\n", "secret/key": "no\n", "docs/x/y.tmp": "no\n",
                         "docs/x/y.md": "yes\n", "src/main.c": "int main;\n"]),
        Case(name: "cache mounts", dockerfile: """
            FROM busybox
            RUN --mount=type=cache,target=/var/cache/demo,id=demo echo x > /var/cache/demo/f && ls /var/cache/demo > /listing
            RUN --mount=type=cache,target=/var/cache/demo,id=demo cat /var/cache/demo/f > /seen
            """, ignore: ["/var", "/var/cache", "/var/cache/demo"]),
        Case(name: "heredocs", dockerfile: """
            FROM busybox
            RUN <<EOF
            echo heredoc > /heredoc
            mkdir -p /etc/app
            EOF
            RUN cat <<CONF > /etc/app/app.conf
            name=demo
            CONF
            COPY <<FILE /inline.txt
            inline content
            FILE
            """, files: ["inline.txt": "inline content\n"], buildahDockerfile: """
            FROM busybox
            RUN echo heredoc > /heredoc && mkdir -p /etc/app
            RUN printf 'name=demo\\n' > /etc/app/app.conf
            COPY inline.txt /inline.txt
            """),
    ]

    @Test(arguments: cases)
    func sameImageAsBuildah(_ testCase: Case) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/buildah") else {
            throw TestFailure("Debian's buildah is missing: scripts/test.sh installs it")
        }
        let box = try BuildSandbox()
        defer { box.cleanup() }
        for (path, text) in testCase.files { try box.write(path, text, mode: testCase.modes[path] ?? 0o644) }
        try box.write("Dockerfile", testCase.buildahDockerfile ?? testCase.dockerfile)
        try box.build(testCase.dockerfile, tags: ["localhost/ours"], epoch: nil)
        let oursConfig = try box.configuration("localhost/ours")
        let oursRoot = try box.unpack("localhost/ours")

        let buildah = Buildah(directory: box.directory)
        _ = try box.store.exportOCIArchive("busybox", to: box.directory + "/busybox.tar", tag: "latest")
        try buildah.run(["pull", "oci-archive:" + box.directory + "/busybox.tar"])
        let baseID = try buildah.run(["images", "-q"]).split(separator: "\n").first.map(String.init) ?? ""
        try buildah.run(["tag", baseID, "localhost/busybox:latest", "busybox:latest"])
        try buildah.run(["bud", "--isolation", "chroot", "--pull=never", "--format", "docker", "-t", "localhost/theirs", box.context])
        try buildah.run(["push", "localhost/theirs", "oci-archive:" + box.directory + "/theirs.tar:latest"])
        try box.store.withWriteLease {
            _ = try box.store.importOCIArchive(file: box.directory + "/theirs.tar", tag: "latest", name: "localhost/theirs:latest")
        }
        let theirsRoot = try box.unpack("localhost/theirs:latest")
        // buildah's OCI push drops docker-only fields; read them from its own inspect.
        let inspect = try buildah.run(["inspect", "--type", "image", "localhost/theirs"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any])
        let docker = try #require(json["Docker"] as? [String: Any])
        let dockerConfig = try #require(docker["config"] as? [String: Any])

        let ours = try #require(oursConfig.config)
        var theirs = try JSONDecoder().decode(ImageConfig.self, from: try JSONSerialization.data(withJSONObject: dockerConfig))
        theirs.labels?["io.buildah.version"] = nil
        if theirs.labels?.isEmpty == true { theirs.labels = nil }
        // buildah writes empty lists and maps where BuildKit and Kujira leave the field out.
        if theirs.entrypoint?.isEmpty == true { theirs.entrypoint = nil }
        if theirs.cmd?.isEmpty == true { theirs.cmd = nil }
        if theirs.onBuild?.isEmpty == true { theirs.onBuild = nil }
        if theirs.volumes?.keys.isEmpty == true { theirs.volumes = nil }
        if theirs.exposedPorts?.keys.isEmpty == true { theirs.exposedPorts = nil }
        #expect(ours.env == theirs.env)
        #expect(ours.cmd == theirs.cmd)
        #expect(ours.entrypoint == theirs.entrypoint)
        #expect((ours.workingDir ?? "") == (theirs.workingDir ?? ""))
        #expect((ours.user ?? "") == (theirs.user ?? ""))
        #expect(ours.exposedPorts == theirs.exposedPorts)
        #expect(ours.volumes == theirs.volumes)
        #expect(ours.labels == theirs.labels)
        #expect(ours.stopSignal == theirs.stopSignal)
        #expect(ours.onBuild == theirs.onBuild)
        let theirHealth = dockerConfig["Healthcheck"] as? [String: Any]
        #expect(ours.healthcheck?.test == theirHealth?["Test"] as? [String])

        let ourFiles = try TreeListing(oursRoot), theirFiles = try TreeListing(theirsRoot)
        let differences = ourFiles.differences(from: theirFiles, ignoring: Buildah.noise.union(testCase.ignore))
        #expect(differences.isEmpty, "files differ from buildah's:\n\(differences.joined(separator: "\n"))")
    }
}

/// buildah with a private root, vfs storage.
struct Buildah {
    let directory: String

    /// Paths buildah's chroot isolation leaves in an image that Kujira (like BuildKit) does not:
    /// mount points of its RUN containers.
    static let noise: Set<String> = ["/run", "/run/.containerenv", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/dev", "/proc", "/sys"]

    @discardableResult
    func run(_ arguments: [String]) throws -> String {
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
}

/// Every entry of a tree: type, permission bits, owner, size, content digest, link target.
struct TreeListing {
    var entries: [String: String] = [:]

    init(_ root: String) throws {
        try walk(root, relative: "")
    }

    private mutating func walk(_ directory: String, relative: String) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            let path = relative + "/" + name
            let host = directory + "/" + name
            var st = Glibc.stat()
            guard lstat(host, &st) == 0 else { continue }
            var line = "mode=\(String(st.st_mode & 0o7777, radix: 8)) owner=\(st.st_uid):\(st.st_gid)"
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                entries[path] = "dir " + line
                try walk(host, relative: path)
            case S_IFLNK:
                line = "owner=\(st.st_uid):\(st.st_gid)"
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: host)) ?? ""
                entries[path] = "link -> \(target) " + line
            case S_IFREG:
                let data = FileManager.default.contents(atPath: host) ?? Data()
                entries[path] = "file size=\(st.st_size) sha256=\(Digest.sha256(of: Array(data)).encoded.prefix(16)) " + line
            default:
                entries[path] = "special \(st.st_mode & S_IFMT) " + line
            }
        }
    }

    /// One line per path that differs, is missing or is extra, skipping `ignoring`.
    func differences(from other: TreeListing, ignoring: Set<String>) -> [String] {
        var lines: [String] = []
        for path in Set(entries.keys).union(other.entries.keys).sorted() where !ignoring.contains(path) {
            let mine = entries[path], theirs = other.entries[path]
            if mine != theirs { lines.append("\(path): kujira \(mine ?? "absent") | buildah \(theirs ?? "absent")") }
        }
        return lines
    }
}
