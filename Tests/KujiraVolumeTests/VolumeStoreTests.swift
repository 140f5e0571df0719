import CKujiraSys
import Foundation
import Testing
@testable import KujiraVolume

/// A temporary Kujira root, removed when the test ends.
final class TemporaryRoot {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-volume-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct VolumeNameTests {
    @Test(arguments: ["ab", "data", "my_vol.1-x", "A0", String(repeating: "a", count: 64)])
    func validNames(_ name: String) { #expect(Volume.isValidName(name)) }

    @Test(arguments: ["", "a", "-ab", ".ab", "_ab", "a/b", "a b", "a:b", "..", "ä1"])
    func invalidNames(_ name: String) { #expect(!Volume.isValidName(name)) }

    @Test func anonymousNames() {
        #expect(Volume.isAnonymousName(String(repeating: "0a", count: 32)))
        #expect(!Volume.isAnonymousName("data"))
        #expect(!Volume.isAnonymousName(String(repeating: "G", count: 64)))
    }
}

@Suite struct VolumeStoreTests {
    @Test func createPersistsDockerLayoutAndMetadata() throws {
        let root = try TemporaryRoot()
        let store = try VolumeStore(root: root.path)
        let volume = try store.create(name: "data", labels: ["team": "web"], options: [:])
        #expect(volume.mountpoint == "\(root.path)/volumes/data/_data")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: volume.mountpoint, isDirectory: &isDirectory) && isDirectory.boolValue)
        // A second store over the same root reads the same volume back.
        let again = try VolumeStore(root: root.path).volume("data")
        #expect(again == volume)
        #expect(again.labels == ["team": "web"])
        #expect(again.driver == "local" && again.scope == "local")
        #expect(!again.isAnonymous)
    }

    @Test func createOfAnExistingNameReturnsIt() throws {
        let root = try TemporaryRoot()
        let store = try VolumeStore(root: root.path)
        let first = try store.create(name: "data", labels: ["a": "1"])
        FileManager.default.createFile(atPath: "\(first.mountpoint)/keep", contents: Data("x".utf8))
        let second = try store.create(name: "data")
        #expect(second == first)
        #expect(FileManager.default.fileExists(atPath: "\(first.mountpoint)/keep"))
    }

    @Test func anonymousVolumesAreLabelledHexNames() throws {
        let root = try TemporaryRoot()
        let store = try VolumeStore(root: root.path)
        let volume = try store.create()
        #expect(Volume.isAnonymousName(volume.name))
        #expect(volume.isAnonymous)
        #expect(volume.labels[Volume.anonymousLabel] == "")
    }

    @Test func badInputIsRefusedClearly() throws {
        let root = try TemporaryRoot()
        let store = try VolumeStore(root: root.path)
        #expect(throws: VolumeError.self) { try store.create(name: "bad/name") }
        #expect(throws: VolumeError.self) { try store.create(name: "ok", driver: "nfs") }
        #expect(throws: VolumeError.self) { try store.create(name: "ok", options: ["colour": "blue"]) }
        #expect(throws: VolumeError.self) { try store.create(name: "ok", options: ["type": "none", "device": "/tmp"]) }
        #expect(throws: VolumeError.self) { try store.create(name: "ok", options: ["type": "ext4"]) }
        #expect(throws: VolumeError.self) { try store.create(name: "ok", options: ["o": "size=1m"]) }
        do {
            _ = try store.volume("missing")
            Issue.record("a missing volume was found")
        } catch let error as VolumeError {
            #expect(error.code == .notFound)
            #expect(error.message.contains("missing"))
        }
        #expect(store.list().isEmpty)
    }

    @Test func removeDeletesDataAndMetadata() throws {
        let root = try TemporaryRoot()
        let store = try VolumeStore(root: root.path)
        let volume = try store.create(name: "gone")
        FileManager.default.createFile(atPath: "\(volume.mountpoint)/file", contents: Data("x".utf8))
        try store.remove("gone")
        #expect(!FileManager.default.fileExists(atPath: store.path("gone")))
        #expect(throws: VolumeError.self) { try store.volume("gone") }
    }

    @Test func removeKeepsTheVolumeWhenTheCheckThrows() throws {
        let root = try TemporaryRoot()
        let store = try VolumeStore(root: root.path)
        _ = try store.create(name: "kept")
        struct InUse: Error {}
        #expect(throws: InUse.self) { try store.remove("kept") { _ in throw InUse() } }
        #expect(try store.volume("kept").name == "kept")
    }

    @Test func aFolderWithoutMetadataIsNoVolume() throws {
        // What a crash between mkdir and the metadata write leaves.
        let root = try TemporaryRoot()
        let store = try VolumeStore(root: root.path)
        try FileManager.default.createDirectory(atPath: store.dataPath("half"), withIntermediateDirectories: true)
        #expect(store.list().isEmpty)
        let volume = try store.create(name: "half")
        #expect(store.list().map(\.name) == ["half"])
        #expect(volume.mountpoint == store.dataPath("half"))
    }

    @Test func listIsSortedByName() throws {
        let root = try TemporaryRoot()
        let store = try VolumeStore(root: root.path)
        for name in ["zz", "aa", "mm"] { _ = try store.create(name: name) }
        #expect(store.list().map(\.name) == ["aa", "mm", "zz"])
    }
}

@Suite struct VolumeFilterTests {
    let named = Volume(name: "web-data", driver: "local", labels: ["team": "web", "tier": ""], options: [:], createdAt: "", mountpoint: "/x")
    let anonymous = Volume(name: String(repeating: "ab", count: 32), driver: "local", labels: [Volume.anonymousLabel: ""],
                           options: [:], createdAt: "", mountpoint: "/y")

    @Test func dangling() throws {
        let filter = try VolumeFilter(parsing: "dangling=true")
        #expect(filter.matches(named, inUse: false))
        #expect(!filter.matches(named, inUse: true))
        #expect(try VolumeFilter(parsing: "dangling=false").matches(named, inUse: true))
    }

    @Test func labels() throws {
        #expect(try VolumeFilter(parsing: "label=team").matches(named, inUse: false))
        #expect(try VolumeFilter(parsing: "label=team=web").matches(named, inUse: false))
        #expect(!(try VolumeFilter(parsing: "label=team=db").matches(named, inUse: false)))
        #expect(!(try VolumeFilter(parsing: "label=team").matches(anonymous, inUse: false)))
        #expect(try VolumeFilter(parsing: "label!=team").matches(anonymous, inUse: false))
        #expect(!(try VolumeFilter(parsing: "label!=team").matches(named, inUse: false)))
        #expect(try VolumeFilter(parsing: "label!=team=db").matches(named, inUse: false))
    }

    @Test func nameAndDriver() throws {
        #expect(try VolumeFilter(parsing: "name=data").matches(named, inUse: false))
        #expect(!(try VolumeFilter(parsing: "name=data").matches(anonymous, inUse: false)))
        #expect(try VolumeFilter(parsing: "driver=local").matches(named, inUse: false))
    }

    @Test(arguments: ["dangling", "dangling=maybe", "colour=red", "name!=x", "=x"])
    func badFilters(_ text: String) {
        #expect(throws: VolumeError.self) { try VolumeFilter(parsing: text) }
    }
}

@Suite struct LocalMountPlanTests {
    @Test func tmpfsFlagsAndData() throws {
        let plan = try LocalMountPlan(["type": "tmpfs", "o": "size=64m,nosuid,ro,mode=1777"])
        #expect(plan.type == "tmpfs" && plan.device == "tmpfs")
        #expect(plan.flags == 0x1 | 0x2)
        #expect(plan.data == "size=64m,mode=1777")
    }

    @Test func bindNeedsAnAbsoluteDevice() throws {
        let plan = try LocalMountPlan(["type": "none", "o": "bind", "device": "/srv/data"])
        #expect(plan.flags == LocalMountPlan.bind && plan.device == "/srv/data")
        #expect(throws: VolumeError.self) { try LocalMountPlan(["type": "none", "o": "bind", "device": "srv"]) }
        #expect(throws: VolumeError.self) { try LocalMountPlan(["type": "none", "device": "/srv"]) }
    }

}

/// `VolumeStore.isMountPoint` (`kujira_is_mount_point`): decides whether `deactivate` unmounts.
@Suite(.enabled(if: VolumeHost.enabled, "needs root (mount); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct MountPointTests {
    @Test func bindMountsOfTheSameFilesystemAndNamesWithSpacesAreFound() throws {
        let root = NSTemporaryDirectory() + "kujira-mountpoint-" + UUID().uuidString
        let plain = root + "/plain", bound = root + "/with space", nested = root + "/with space/inner"
        try FileManager.default.createDirectory(atPath: nested, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A bind mount of a directory on itself: same device as its parent, so only the mount
        // table (or statx's mount-root attribute) tells.
        #expect(mount(bound, bound, "", UInt(MS_BIND), nil) == 0, "bind mount: \(String(cString: strerror(errno)))")
        defer { umount2(bound, Int32(MNT_DETACH)) }
        #expect(VolumeStore.isMountPoint(bound))
        #expect(!VolumeStore.isMountPoint(plain))
        #expect(!VolumeStore.isMountPoint(nested))
        #expect(!VolumeStore.isMountPoint(root + "/missing"))
        // The mountinfo fallback agrees, read to its end whatever the table's size (one
        // read(2) of a proc file stops at a page: String(contentsOfFile:) saw 3835 of 4408
        // bytes here, and a new mount, listed last, was missing).
        #expect(kujira_is_mount_point_by_mountinfo(bound) == 1)
        #expect(kujira_is_mount_point_by_mountinfo(plain) == 0)
        #expect(kujira_is_mount_point_by_mountinfo(nested) == 0)
    }
}
