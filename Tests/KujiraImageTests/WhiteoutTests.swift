import Foundation
import Testing
@testable import KujiraImage

@Suite("Whiteouts: OCI in place and overlayfs form")
struct WhiteoutTests {
    /// Layer 1 of the stacking tests.
    func lowerLayer(_ writer: RootfsWriter) throws {
        writer.beginLayer()
        try writer.dir("a")
        try writer.file("a/deleted", "1")
        try writer.file("a/kept", "1")
        try writer.dir("b")
        try writer.dir("b/deep")
        try writer.file("b/deep/x", "1")
        try writer.dir("c")
        try writer.file("c/old", "1")
        try writer.dir("c/sub")
        try writer.file("c/sub/old2", "1")
        try writer.symlink("c/link", "/a")
    }

    @Test("two layers: delete a file, delete a directory, opaque keeps same-layer entries", arguments: [true, false])
    func stacking(opaqueFirst: Bool) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        try lowerLayer(writer)
        writer.beginLayer()
        try writer.whiteout("a/.wh.deleted")
        try writer.whiteout(".wh.b")
        try writer.whiteout(".wh.nonexistent")
        try writer.whiteout("missing-dir/.wh.nothing")
        try writer.dir("c", mode: 0o750)
        if opaqueFirst { try writer.whiteout("c/.wh..wh..opq") }
        try writer.file("c/new", "2")
        try writer.file("c/sub/new2", "2")  // c/sub has no entry in this layer
        if !opaqueFirst { try writer.whiteout("c/.wh..wh..opq") }
        try writer.finish()

        #expect(scratch.info("a/deleted") == nil)
        #expect(scratch.contents("a/kept") == "1")
        #expect(scratch.info("b") == nil)
        #expect(scratch.info("nonexistent") == nil && scratch.info("missing-dir") == nil)
        #expect(scratch.info("c/old") == nil && scratch.info("c/link") == nil && scratch.info("c/sub/old2") == nil)
        #expect(scratch.contents("c/new") == "2" && scratch.contents("c/sub/new2") == "2")
        #expect(scratch.info("c").map { $0.st_mode & 0o7777 } == 0o750)
        // Whiteout markers are never written literally.
        let all = FileManager.default.enumerator(atPath: scratch.root)?.allObjects as? [String] ?? []
        #expect(!all.contains { $0.contains(".wh.") })
    }

    @Test("a whiteout never deletes what its own layer wrote (image-spec: only lower layers)")
    func sameLayerEntryKept() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        writer.beginLayer()
        try writer.file("f", "same layer")
        try writer.whiteout(".wh.f")
        try writer.finish()
        #expect(scratch.contents("f") == "same layer")
    }

    @Test("AUFS metadata (.wh..wh.plnk) is ignored")
    func aufsMetadataIgnored() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        try writer.dir(".wh..wh.plnk")
        try writer.file(".wh..wh.plnk/123.456", "x")
        try writer.finish()
        #expect(scratch.info(".wh..wh.plnk") == nil)
    }

    @Test("overlay format writes 0:0 devices and opaque xattrs that classify reads back",
          .enabled(if: Privilege.available, Privilege.reason), arguments: ["trusted", "user"])
    func overlayFormat(namespace: String) throws {
        let scratch = try Scratch()
        let writer = try scratch.writer(RootfsWriterOptions(whiteoutFormat: .overlay(xattrNamespace: namespace)))
        writer.beginLayer()
        try writer.dir("etc")
        try writer.whiteout("etc/.wh.passwd")
        try writer.file("etc/kept", "x")
        try writer.whiteout("etc/.wh.kept")  // same layer: stays a file
        try writer.dir("opt")
        try writer.whiteout("opt/.wh..wh..opq")
        try writer.file("opt/new", "x")
        try writer.whiteout("implied/.wh.gone")  // parent made on the way
        try writer.finish()

        let passwd = try #require(scratch.info("etc/passwd"))
        #expect(passwd.st_mode & S_IFMT == S_IFCHR && passwd.st_rdev == 0)
        #expect(scratch.contents("etc/kept") == "x")
        #expect(xattr(scratch.root + "/opt", "\(namespace).overlay.opaque") == Array("y".utf8))
        #expect(scratch.info("implied/gone").map { $0.st_mode & S_IFMT } == S_IFCHR)

        let etc = open(scratch.root + "/etc", O_RDONLY | O_DIRECTORY)
        let top = open(scratch.root, O_RDONLY | O_DIRECTORY)
        defer { close(etc); close(top) }
        #expect(try OverlayWhiteout.classify(directoryFD: etc, name: "passwd") == .whiteout)
        #expect(try OverlayWhiteout.classify(directoryFD: etc, name: "kept") == .none)
        #expect(try OverlayWhiteout.classify(directoryFD: top, name: "opt") == .opaque)
        #expect(try OverlayWhiteout.classify(directoryFD: top, name: "etc") == .none)
    }

    @Test("classify recognises the newer empty-file whiteout and ignores other devices", .enabled(if: Privilege.available, Privilege.reason))
    func classifyVariants() throws {
        let scratch = try Scratch()
        let writer = try scratch.writer()
        try writer.file("w", xattrs: ["trusted.overlay.whiteout": []])
        try writer.file("empty")
        try writer.apply(LayerEntry(path: "null", kind: .characterDevice(major: 1, minor: 3)))
        try writer.symlink("l", "/nowhere")
        try writer.finish()
        let fd = open(scratch.root, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        #expect(try OverlayWhiteout.classify(directoryFD: fd, name: "w") == .whiteout)
        #expect(try OverlayWhiteout.classify(directoryFD: fd, name: "empty") == .none)
        #expect(try OverlayWhiteout.classify(directoryFD: fd, name: "null") == .none)
        #expect(try OverlayWhiteout.classify(directoryFD: fd, name: "l") == .none)
        #expect(throws: LayerError.self) { try OverlayWhiteout.classify(directoryFD: fd, name: "missing") }
    }
}
