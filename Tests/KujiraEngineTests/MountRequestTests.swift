@testable import Kujira
import Foundation
import Testing

/// `-v` and `--mount` parsing, and old records: no root needed.
struct MountRequestTests {
    @Test func namedVolume() throws {
        let request = try MountRequest.parseVolume("data:/srv/data")
        #expect(request.kind == .volume && request.source == "data" && request.destination == "/srv/data")
        #expect(!request.readOnly && !request.noCopy && request.mode == "z")
        let options = try MountRequest.parseVolume("data:/srv/data/:ro,nocopy")
        #expect(options.readOnly && options.noCopy && options.mode == "ro,nocopy" && options.destination == "/srv/data")
    }

    @Test func anonymousVolume() throws {
        let request = try MountRequest.parseVolume("/cache")
        #expect(request.kind == .volume && request.source.isEmpty && request.destination == "/cache")
    }

    @Test func bindWithModesAndPropagation() throws {
        let request = try MountRequest.parseVolume("/host/dir:/ctr:ro,Z,rshared")
        #expect(request.kind == .bind && request.source == "/host/dir" && request.readOnly && request.propagation == "rshared")
        #expect(request.createHostPath)
        let colons = try MountRequest.parseVolume("/host:/ctr:ro:z:rslave")
        #expect(colons.readOnly && colons.propagation == "rslave")
        #expect(try MountRequest.parseVolume("/host:/ctr").propagation == "rprivate")
    }

    @Test(arguments: ["data:relative", "-bad:/x", "data:/x:shared", "/h:/x:nocopy", "/h:/x:sideways", "./rel:/x", "data:/", "", "a::/x"])
    func badVolumes(_ text: String) {
        #expect(throws: EngineError.self) { try MountRequest.parseVolume(text) }
    }

    @Test func mountVolume() throws {
        let request = try MountRequest.parseMount("type=volume,src=data,dst=/d,readonly,volume-opt=type=tmpfs,volume-opt=o=size=1m,volume-nocopy,volume-label=a=b")
        #expect(request.kind == .volume && request.source == "data" && request.destination == "/d" && request.readOnly && request.noCopy)
        #expect(request.volumeOptions == ["type": "tmpfs", "o": "size=1m"])
        #expect(request.volumeLabels == ["a": "b"])
        let anonymous = try MountRequest.parseMount("target=/cache")
        #expect(anonymous.kind == .volume && anonymous.source.isEmpty)
    }

    @Test func mountBindAndTmpfs() throws {
        let bind = try MountRequest.parseMount("type=bind,source=/srv,destination=/s,bind-propagation=rslave,ro=true")
        #expect(bind.kind == .bind && bind.source == "/srv" && bind.propagation == "rslave" && bind.readOnly && !bind.createHostPath)
        let tmpfs = try MountRequest.parseMount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770")
        #expect(tmpfs.kind == .tmpfs && tmpfs.tmpfsOptions == ["size=1048576", "mode=1770"])
        var options = ContainerOptions(image: "x")
        options.mounts = ["type=tmpfs,dst=/t,tmpfs-size=1m,readonly", "type=volume,dst=/v"]
        #expect(try Engine.tmpfsEntries(options) == ["/t:size=1048576,ro"])
    }

    @Test(arguments: ["type=bind,dst=/x", "type=bind,src=rel,dst=/x", "type=volume,src=/abs,dst=/x", "type=tmpfs,src=x,dst=/t",
                      "type=nfs,dst=/x", "src=data", "type=volume,dst=/x,bind-propagation=shared", "type=bind,src=/a,dst=/x,tmpfs-size=1m",
                      "type=tmpfs,dst=/t,tmpfs-mode=99", "type=volume,dst=/x,colour=red", "type=volume,dst=/x,readonly=maybe"])
    func badMounts(_ text: String) {
        #expect(throws: EngineError.self) { try MountRequest.parseMount(text) }
    }

    @Test func recordsWithoutVolumeFieldsStillDecode() throws {
        let old = #"{"type":"bind","source":"/h","destination":"/c","rw":false}"#
        let mount = try JSONDecoder().decode(ContainerMount.self, from: Data(old.utf8))
        #expect(mount.name == nil && mount.mode == nil && !mount.rw)
        let inspected = ContainerInspection.Mount(mount)
        #expect(inspected.mode == "ro" && inspected.propagation == "rprivate" && inspected.name == nil)
    }
}
