import Foundation
import Glibc
import KujiraBuild
import Testing

@Suite("Build cache", .serialized, .enabled(if: Privilege.shouldRun, Privilege.reason))
struct BuildCacheTests {
    static let dockerfile = """
        FROM busybox
        COPY a.txt /a.txt
        RUN cat /a.txt > /copy-a
        COPY b.txt /b.txt
        RUN cat /b.txt > /copy-b
        CMD ["sh"]
        """

    @Test func secondBuildHitsEveryStep() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.write("a.txt", "a\n")
        try box.write("b.txt", "b\n")
        let first = EventLog()
        let one = try box.build(Self.dockerfile, log: first)
        #expect(first.runs == 2)
        #expect(first.cached == 0)

        let second = EventLog()
        let two = try box.build(Self.dockerfile, log: second)
        #expect(second.runs == 0)
        #expect(second.cached == 4)
        #expect(one.imageID == two.imageID || one.manifestDigest != "")

        // A new mtime with the same content still hits.
        let future = timespec(tv_sec: 2_000_000_000, tv_nsec: 0)
        var times = [future, future]
        utimensat(AT_FDCWD, box.context + "/a.txt", &times, 0)
        let third = EventLog()
        try box.build(Self.dockerfile, log: third)
        #expect(third.runs == 0 && third.cached == 4)

        // Changing b.txt reruns from the COPY that uses it.
        try box.write("b.txt", "changed\n")
        let fourth = EventLog()
        try box.build(Self.dockerfile, log: fourth)
        #expect(fourth.cached == 2)
        #expect(fourth.runs == 1)
        let rootfs = try box.unpack("localhost/test:latest")
        #expect(try String(contentsOfFile: rootfs + "/copy-b", encoding: .utf8) == "changed\n")

        // --no-cache runs everything.
        let fifth = EventLog()
        try box.build(Self.dockerfile, noCache: true, log: fifth)
        #expect(fifth.runs == 2 && fifth.cached == 0)
    }
}
