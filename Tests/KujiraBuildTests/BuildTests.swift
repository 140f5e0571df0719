import Foundation
import Glibc
import KujiraBuild
import KujiraImage
import KujiraOCI
import Testing

@Suite("Builds", .serialized, .enabled(if: Privilege.shouldRun, Privilege.reason))
struct BuildTests {
    @Test func runCopyAndMetadata() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.write("hello.txt", "hello\n")
        try box.write("tool.sh", "#!/bin/sh\necho tool\n", mode: 0o755)
        try box.write("site/index.html", "<h1>hi</h1>\n")
        try box.write("site/css/a.css", "a{}\n")
        try box.write("secret.key", "nope\n")
        try box.write(".dockerignore", "secret.key\n")
        let log = EventLog()
        try box.build("""
            FROM busybox
            ARG GREETING=hi
            ENV APP_HOME=/app MODE=prod
            WORKDIR $APP_HOME
            COPY hello.txt tool.sh ./
            COPY site /srv/www/
            COPY --chown=app:staff --chmod=600 hello.txt /home/app/private.txt
            RUN echo "$GREETING $MODE" > greeting.txt && mkdir -p /data && echo out && echo err >&2
            RUN ["/bin/sh", "-c", "id -u > /tmp/uid"]
            USER app
            RUN id -u > /home/app/whoami
            EXPOSE 8080 53/udp
            VOLUME /data
            LABEL org.example.name=test
            STOPSIGNAL SIGTERM
            CMD ["./tool.sh"]
            """, log: log)
        #expect(log.output.contains("out"))
        #expect(log.output.contains("err"))
        let configuration = try box.configuration("localhost/test:latest")
        let config = try #require(configuration.config)
        #expect(config.env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_HOME=/app", "MODE=prod"])
        #expect(config.workingDir == "/app")
        #expect(config.user == "app")
        #expect(config.cmd == ["./tool.sh"])
        #expect(config.exposedPorts?.sorted == ["53/udp", "8080/tcp"])
        #expect(config.volumes?.sorted == ["/data"])
        #expect(config.labels == ["org.example.name": "test"])
        #expect(config.stopSignal == "SIGTERM")
        let history = configuration.history ?? []
        #expect(history.filter { $0.emptyLayer != true }.count == configuration.rootfs.diffIDs.count)
        #expect(history.contains { $0.createdBy == "RUN |1 GREETING=hi /bin/sh -c echo \"$GREETING $MODE\" > greeting.txt && mkdir -p /data && echo out && echo err >&2 # buildkit" })
        #expect(history.contains { $0.createdBy == "ENV APP_HOME=/app MODE=prod" && $0.emptyLayer == true })

        let rootfs = try box.unpack("localhost/test:latest")
        #expect(try String(contentsOfFile: rootfs + "/app/greeting.txt", encoding: .utf8) == "hi prod\n")
        #expect(try String(contentsOfFile: rootfs + "/app/hello.txt", encoding: .utf8) == "hello\n")
        #expect(try String(contentsOfFile: rootfs + "/srv/www/index.html", encoding: .utf8) == "<h1>hi</h1>\n")
        #expect(FileManager.default.fileExists(atPath: rootfs + "/srv/www/css/a.css"))
        #expect(!FileManager.default.fileExists(atPath: rootfs + "/srv/www/site"))
        #expect(try String(contentsOfFile: rootfs + "/tmp/uid", encoding: .utf8) == "0\n")
        #expect(try String(contentsOfFile: rootfs + "/home/app/whoami", encoding: .utf8) == "1000\n")
        let tool = try #require(BuildSandbox.stat(rootfs + "/app/tool.sh"))
        #expect(tool.st_mode & 0o777 == 0o755 && tool.st_uid == 0 && tool.st_gid == 0)
        let secret = try #require(BuildSandbox.stat(rootfs + "/home/app/private.txt"))
        #expect(secret.st_mode & 0o777 == 0o600 && secret.st_uid == 1000 && secret.st_gid == 50)
        #expect(BuildSandbox.stat(rootfs + "/data") != nil)
        #expect(box.leftoverMounts.isEmpty)
    }

    @Test func multiStageCopyFrom() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.build("""
            FROM busybox AS builder
            RUN mkdir -p /out && echo built > /out/artifact && chown 1000:1000 /out/artifact
            FROM busybox AS unused
            RUN exit 1
            FROM busybox
            COPY --from=builder /out/artifact /usr/local/share/artifact
            ENTRYPOINT ["cat"]
            """)
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(try String(contentsOfFile: rootfs + "/usr/local/share/artifact", encoding: .utf8) == "built\n")
        #expect(BuildSandbox.stat(rootfs + "/usr/local/share/artifact")?.st_uid == 1000)
        let config = try #require(try box.configuration("localhost/test:latest").config)
        #expect(config.entrypoint == ["cat"])
        #expect(config.cmd == nil)  // ENTRYPOINT resets the CMD inherited from busybox.
        // --target builds the first stage only.
        try box.build("FROM busybox AS a\nRUN touch /a\nFROM a\nRUN exit 3\n", tags: ["localhost/a"], target: "a")
        #expect(FileManager.default.fileExists(atPath: try box.unpack("localhost/a") + "/a"))
    }

    @Test func scratchWithStaticBusybox() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: box.context + "/busybox")
        try box.build("""
            FROM scratch
            COPY busybox /bin/busybox
            RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir /etc && /bin/busybox echo made > /etc/made"]
            CMD ["/bin/busybox", "sh"]
            """)
        let configuration = try box.configuration("localhost/test:latest")
        #expect(configuration.rootfs.diffIDs.count == 2)
        #expect(configuration.config?.cmd == ["/bin/busybox", "sh"])
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(try String(contentsOfFile: rootfs + "/etc/made", encoding: .utf8) == "made\n")
        #expect(BuildSandbox.stat(rootfs + "/bin/busybox").map { $0.st_mode & 0o111 != 0 } == true)
    }

    @Test func sourceDateEpochIsReproducible() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.write("a.txt", "a\n")
        let dockerfile = "FROM busybox\nCOPY a.txt /a.txt\nRUN echo $RANDOM_NOT_SET > /b && touch /c\nENV X=1\n"
        let first = try box.build(dockerfile, tags: ["localhost/r1"], noCache: true, epoch: 1_700_000_000)
        sleep(1)
        let second = try box.build(dockerfile, tags: ["localhost/r2"], noCache: true, epoch: 1_700_000_000)
        #expect(first.manifestDigest == second.manifestDigest)
        #expect(first.imageID == second.imageID)
        #expect(try box.configuration("localhost/r1").created == "2023-11-14T22:13:20Z")
    }
}
