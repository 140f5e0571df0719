import Foundation
import Testing
@testable import KujiraVolume

@Suite struct VolumeCopierTests {
    let fm = FileManager.default

    /// A rootfs with `/data` holding a file, a subdirectory and a symlink out of the rootfs.
    func makeRootfs(_ root: TemporaryRoot) throws -> String {
        let rootfs = "\(root.path)/rootfs"
        try fm.createDirectory(atPath: "\(rootfs)/data/sub", withIntermediateDirectories: true)
        try "hello\n".write(toFile: "\(rootfs)/data/file", atomically: false, encoding: .utf8)
        try "deep\n".write(toFile: "\(rootfs)/data/sub/inner", atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: "\(rootfs)/data/escape", withDestinationPath: "/etc/hostname")
        chmod("\(rootfs)/data/file", 0o640)
        chmod("\(rootfs)/data", 0o750)
        return rootfs
    }

    @Test func copiesContentModesAndSymlinksVerbatim() throws {
        let root = try TemporaryRoot()
        let rootfs = try makeRootfs(root)
        let target = "\(root.path)/volume"
        try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
        #expect(try VolumeCopier.copyUp(rootfs: rootfs, path: "/data", into: target))
        #expect(try String(contentsOfFile: "\(target)/file", encoding: .utf8) == "hello\n")
        #expect(try String(contentsOfFile: "\(target)/sub/inner", encoding: .utf8) == "deep\n")
        #expect(try fm.destinationOfSymbolicLink(atPath: "\(target)/escape") == "/etc/hostname")
        var info = stat()
        #expect(stat("\(target)/file", &info) == 0 && info.st_mode & 0o7777 == 0o640)
        #expect(stat(target, &info) == 0 && info.st_mode & 0o7777 == 0o750)
    }

    @Test func aNonEmptyVolumeIsLeftAlone() throws {
        let root = try TemporaryRoot()
        let rootfs = try makeRootfs(root)
        let target = "\(root.path)/volume"
        try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
        try "mine".write(toFile: "\(target)/own", atomically: false, encoding: .utf8)
        #expect(try !VolumeCopier.copyUp(rootfs: rootfs, path: "/data", into: target))
        #expect(try fm.contentsOfDirectory(atPath: target) == ["own"])
    }

    @Test func missingOrEmptySourcesCopyNothing() throws {
        let root = try TemporaryRoot()
        let rootfs = try makeRootfs(root)
        try fm.createDirectory(atPath: "\(rootfs)/empty", withIntermediateDirectories: true)
        let target = "\(root.path)/volume"
        try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
        #expect(try !VolumeCopier.copyUp(rootfs: rootfs, path: "/nothing", into: target))
        #expect(try !VolumeCopier.copyUp(rootfs: rootfs, path: "/empty", into: target))
        #expect(try !VolumeCopier.copyUp(rootfs: rootfs, path: "/data/file", into: target))
        #expect(try VolumeCopier.isEmptyDirectory(target))
    }

    @Test func aSymlinkedMountPathStaysInsideTheRootfs() throws {
        // /data → /../../outside must resolve to <rootfs>/outside, never to the host's.
        let root = try TemporaryRoot()
        let rootfs = "\(root.path)/rootfs"
        let outside = "\(root.path)/outside"
        try fm.createDirectory(atPath: rootfs, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try "host secret".write(toFile: "\(outside)/secret", atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: "\(rootfs)/data", withDestinationPath: "/../../outside")
        let target = "\(root.path)/volume"
        try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
        #expect(try !VolumeCopier.copyUp(rootfs: rootfs, path: "/data", into: target))
        #expect(try VolumeCopier.isEmptyDirectory(target))
        // The same link pointing inside the rootfs is followed there.
        try fm.createDirectory(atPath: "\(rootfs)/outside", withIntermediateDirectories: true)
        try "inside".write(toFile: "\(rootfs)/outside/file", atomically: false, encoding: .utf8)
        #expect(try VolumeCopier.copyUp(rootfs: rootfs, path: "/data", into: target))
        #expect(try fm.contentsOfDirectory(atPath: target) == ["file"])
    }
}

/// Copy-up of owners other than the test's user: needs root.
@Suite(.enabled(if: VolumeHost.enabled, "needs root (chown); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct VolumeCopierOwnershipTests {
    let fm = FileManager.default

    @Test func ownershipIsCopiedWhenRunAsRoot() throws {
        let root = try TemporaryRoot()
        let rootfs = try VolumeCopierTests().makeRootfs(root)
        #expect(chown("\(rootfs)/data", 1234, 5678) == 0 && chown("\(rootfs)/data/file", 4321, 8765) == 0)
        let target = "\(root.path)/volume"
        try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
        #expect(try VolumeCopier.copyUp(rootfs: rootfs, path: "data", into: target))
        var info = stat()
        #expect(stat(target, &info) == 0 && info.st_uid == 1234 && info.st_gid == 5678)
        #expect(stat("\(target)/file", &info) == 0 && info.st_uid == 4321 && info.st_gid == 8765)
    }
}
