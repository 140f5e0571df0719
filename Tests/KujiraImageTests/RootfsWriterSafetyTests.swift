import Foundation
import Testing
@testable import KujiraImage

/// Escape attempts from untrusted layers. Each runs twice: with openat2(RESOLVE_IN_ROOT) and
/// with the user-space walk used on kernels without it. The host is never at risk in these
/// tests: the targets are a canary under the scratch directory, or names that do not exist on
/// the host.
@Suite("RootfsWriter: nothing leaves the root")
struct RootfsWriterSafetyTests {
    @Test("a relative symlink to outside, then a write through it, stays inside", arguments: [true, false])
    func relativeSymlinkEscape(openat2: Bool) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(openat2: openat2)
        try writer.symlink("x", "../outside")
        try writer.file("x/canary", "pwned")
        try writer.finish()
        #expect(scratch.outsideUntouched)
        #expect(scratch.contents("outside/canary") == "pwned")  // `..` at the root stays at the root
    }

    @Test("an absolute symlink, then a write through it, lands under the root", arguments: [true, false])
    func absoluteSymlinkEscape(openat2: Bool) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(openat2: openat2)
        try writer.symlink("a", scratch.outside)
        try writer.file("a/canary", "pwned")
        let probe = "kujira-probe-\(UUID().uuidString)"
        try writer.symlink("hostetc", "/etc")
        try writer.file("hostetc/\(probe)", "pwned")
        try writer.finish()
        #expect(scratch.outsideUntouched)
        #expect(scratch.contents(String(scratch.outside.dropFirst()) + "/canary") == "pwned")
        #expect(Scratch.lstatPath("/etc/\(probe)") == nil)
        #expect(scratch.contents("etc/\(probe)") == "pwned")  // `/etc` meant `<root>/etc`, a dangling link followed in root
    }

    @Test("`a -> ../../..`, `../escape` and `/escape` all resolve to the root", arguments: [true, false])
    func dotDotEscapes(openat2: Bool) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(openat2: openat2)
        try writer.symlink("a", "../../..")
        try writer.file("a/one", "1")
        try writer.file("../two", "2")
        try writer.file("/three", "3")
        try writer.file("./x/../../../../four", "4")
        try writer.finish()
        for (name, text) in [("one", "1"), ("two", "2"), ("three", "3"), ("four", "4")] {
            #expect(scratch.contents(name) == text)
            #expect(Scratch.lstatPath(scratch.base + "/" + name) == nil)
        }
        #expect(scratch.outsideUntouched)
    }

    @Test("a directory replaced by a symlink, then written through, stays inside", arguments: [true, false])
    func directoryReplacedBySymlink(openat2: Bool) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(openat2: openat2)
        try writer.dir("d")
        try writer.file("d/first")  // caches d as the parent
        try writer.symlink("d", scratch.outside)
        try writer.file("d/canary", "pwned")
        try writer.dir("d/sub")
        try writer.finish()
        #expect(scratch.outsideUntouched)
        #expect(scratch.info("d").map { $0.st_mode & S_IFMT } == S_IFLNK)
        #expect(scratch.contents(String(scratch.outside.dropFirst()) + "/canary") == "pwned")
    }

    @Test("an entry at a symlink replaces the symlink, never writes through it", arguments: [true, false])
    func finalComponentSymlink(openat2: Bool) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(openat2: openat2)
        try writer.symlink("f", scratch.canary)
        try writer.file("f", "pwned", mode: 0o777)
        try writer.symlink("d", scratch.outside)
        try writer.dir("d", mode: 0o700)
        try writer.symlink("n", scratch.canary)
        try writer.apply(LayerEntry(path: "n", kind: .fifo, mode: 0o600))
        try writer.finish()
        #expect(scratch.outsideUntouched)
        #expect(Scratch.lstatPath(scratch.outside).map { $0.st_mode & 0o7777 } == 0o755)
        #expect(scratch.contents("f") == "pwned")
        #expect(scratch.info("d").map { $0.st_mode & S_IFMT } == S_IFDIR)
    }

    @Test("hard links to outside files are refused", arguments: [true, false])
    func hardlinkEscapes(openat2: Bool) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(openat2: openat2)
        expectCode(.hardlinkTargetMissing) { try writer.hardlink("shadow", "/etc/shadow") }
        expectCode(.hardlinkTargetMissing) { try writer.hardlink("c1", "../outside/canary") }
        expectCode(.hardlinkTargetMissing) { try writer.hardlink("c2", scratch.canary) }
        try writer.symlink("s", scratch.outside)
        expectCode(.hardlinkTargetMissing) { try writer.hardlink("c3", "s/canary") }
        try writer.dir("dir")
        expectCode(.hardlinkToDirectory) { try writer.hardlink("h", "dir") }
        expectCode(.hardlinkToDirectory) { try writer.hardlink("h", "/") }
        #expect(scratch.outsideUntouched)
        #expect(Scratch.lstatPath("/etc/shadow").map { $0.st_nlink } ?? 1 == 1)
        #expect(scratch.info("shadow") == nil && scratch.info("c1") == nil && scratch.info("c2") == nil)
    }

    @Test("a hard link to a symlink that points outside links the symlink itself", arguments: [true, false])
    func hardlinkToSymlink(openat2: Bool) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(openat2: openat2)
        try writer.symlink("l", scratch.canary)
        try writer.hardlink("h", "l")
        try writer.hardlink("h", "/l")  // again: the same inode already, a no-op
        try writer.finish()
        let l = try #require(scratch.info("l")), h = try #require(scratch.info("h"))
        #expect(h.st_mode & S_IFMT == S_IFLNK && h.st_ino == l.st_ino)
        #expect(scratch.outsideUntouched)
    }

    @Test("device nodes follow the device policy")
    func devicePolicy() throws {
        let scratch = try Scratch()
        let rejecting = try scratch.writer(RootfsWriterOptions(devicePolicy: .reject))
        expectCode(.deviceForbidden) {
            try rejecting.apply(LayerEntry(path: "dev/sda", kind: .blockDevice(major: 8, minor: 0)))
        }
        let skipping = try scratch.writer(RootfsWriterOptions(devicePolicy: .skip))
        try skipping.apply(LayerEntry(path: "dev/mem", kind: .characterDevice(major: 1, minor: 1)))
        try skipping.apply(LayerEntry(path: "p", kind: .fifo))  // FIFOs are not devices
        #expect(scratch.info("dev/sda") == nil && scratch.info("dev/mem") == nil)
        #expect(scratch.info("p").map { $0.st_mode & S_IFMT } == S_IFIFO)
    }

    @Test("symlink loops and non-directory parents fail clearly", arguments: [true, false])
    func loops(openat2: Bool) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(openat2: openat2)
        try writer.symlink("a", "b")
        try writer.symlink("b", "a")
        expectCode(.symlinkLoop) { try writer.file("a/x") }
        try writer.symlink("self", "self/x")
        expectCode(.symlinkLoop) { try writer.file("self/y") }
    }

    @Test("whiteouts resolve inside the root too", arguments: [true, false])
    func whiteoutEscapes(openat2: Bool) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(openat2: openat2)
        try writer.symlink("x", scratch.outside)
        try writer.symlink("y", "../outside")
        writer.beginLayer()
        try writer.whiteout("x/.wh.canary")
        try writer.whiteout("y/.wh.canary")
        try writer.whiteout("x/.wh..wh..opq")
        try writer.whiteout("y/.wh..wh..opq")
        try writer.whiteout("../.wh.outside")
        expectCode(.invalidPath) { try writer.whiteout(".wh...") }
        try writer.finish()
        #expect(scratch.outsideUntouched)
        #expect(scratch.info("x") != nil && scratch.info("y") != nil)
    }
}
