// System routes: /_ping, /version, /info, /system/df and /events.

import Foundation
import Kujira
import KujiraImage
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    func addSystemRoutes(_ router: Router) {
        router.add("GET", "/_ping") { request, writer in
            let headers = [("Builder-Version", "1"), ("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache")]
            try writer.send(status: 200, contentType: "text/plain; charset=utf-8", body: Array("OK".utf8), headers: headers)
        }
        router.add("GET", "/version") { [self] _, writer in try writer.sendJSON(versionDocument()) }
        router.add("GET", "/info") { [self] _, writer in try writer.sendJSON(try infoDocument()) }
        router.add("GET", "/system/df") { [self] request, writer in try writer.sendJSON(try diskUsage(request)) }
        router.add("GET", "/events") { [self] request, writer in try streamEvents(request, writer) }
    }

    /// `uname` fields.
    static func uname() -> (kernel: String, machine: String, hostname: String) {
        var info = utsname()
        Glibc.uname(&info)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return (field(info.release), field(info.machine), field(info.nodename))
    }

    /// Go's name of the machine architecture.
    static var goArch: String {
        switch uname().machine {
        case "x86_64": "amd64"
        case "aarch64": "arm64"
        case "armv7l": "arm"
        case let other: other
        }
    }

    func versionDocument() -> [String: Any] {
        let host = Self.uname()
        let engineComponent: [String: Any] = [
            "Name": "Engine", "Version": Self.version,
            "Details": ["ApiVersion": APIVersion.current.description, "MinAPIVersion": APIVersion.minimum.description,
                        "Os": "linux", "Arch": Self.goArch, "KernelVersion": host.kernel, "Experimental": "false",
                        "GitCommit": "", "GoVersion": "swift", "BuildTime": ""],
        ]
        return [
            "Platform": ["Name": "Kujira"], "Components": [engineComponent],
            "Version": Self.version, "ApiVersion": APIVersion.current.description, "MinAPIVersion": APIVersion.minimum.description,
            "GitCommit": "", "GoVersion": "swift", "Os": "linux", "Arch": Self.goArch, "KernelVersion": host.kernel,
            "BuildTime": "",
        ]
    }

    /// The first `PRETTY_NAME` of /etc/os-release.
    static func operatingSystem() -> String {
        guard let text = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8) else { return "Linux" }
        for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            return line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return "Linux"
    }

    func infoDocument() throws -> [String: Any] {
        let containers = try engine.list()
        let running = containers.filter { $0.state.status == .running || $0.state.status == .restarting }.count
        let paused = containers.filter { $0.state.status == .paused }.count
        let images = Set(try engine.images.list().map(\.id)).count
        let host = Self.uname()
        let memory = ProcessInfo.processInfo.physicalMemory
        let cgroupVersion = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") ? "2" : "1"
        return [
            "ID": Self.hostID(root: engine.root), "Containers": containers.count, "ContainersRunning": running,
            "ContainersPaused": paused, "ContainersStopped": containers.count - running - paused, "Images": images,
            "Driver": "overlay", "DriverStatus": [["Backing Filesystem", "kujira snapshots"]],
            "Plugins": ["Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": NSNull(), "Log": ["json-file"]],
            "MemoryLimit": true, "SwapLimit": true, "CpuCfsPeriod": true, "CpuCfsQuota": true, "CPUShares": true, "CPUSet": true,
            "PidsLimit": true, "IPv4Forwarding": true, "Debug": false, "NFd": Self.openFileCount(), "OomKillDisable": false,
            "NGoroutines": Thread.isMultiThreaded() ? 2 : 1, "SystemTime": Timestamps.format(Date()),
            "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": cgroupVersion, "NEventsListener": 0,
            "KernelVersion": host.kernel, "OperatingSystem": Self.operatingSystem(), "OSVersion": "", "OSType": "linux",
            "Architecture": host.machine, "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": ["IndexConfigs": [String: Any](), "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": [String]()],
            "NCPU": ProcessInfo.processInfo.activeProcessorCount, "MemTotal": Int64(clamping: memory),
            "GenericResources": NSNull(), "DockerRootDir": engine.root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": host.hostname, "Labels": [String](), "ExperimentalBuild": false, "ServerVersion": Self.version,
            "Runtimes": ["kujira-runtime": ["path": "kujira-runtime"]], "DefaultRuntime": "kujira-runtime",
            "Swarm": ["NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "",
                      "RemoteManagers": NSNull()],
            "LiveRestoreEnabled": true, "Isolation": "", "InitBinary": "kujira-init",
            "ContainerdCommit": ["ID": ""], "RuncCommit": ["ID": ""], "InitCommit": ["ID": ""],
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"], "Warnings": [String](),
        ]
    }

    /// A stable id for this root (Docker's is a random key pair id).
    static func hostID(root: String) -> String {
        let path = "\(root)/kujirad-id"
        if let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let id = UUID().uuidString
        try? id.write(toFile: path, atomically: true, encoding: .utf8)
        return id
    }

    static func openFileCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    /// `/system/df`: images, containers with their writable layer sizes, no volumes or
    /// build cache records (Kujira has neither yet).
    func diskUsage(_ request: RouteRequest) throws -> [String: Any] {
        let containers = try engine.list()
        let records = try engine.images.list()
        var images: [[String: Any]] = []
        var layersSize: Int64 = 0
        var seen = Set<String>()
        for record in records where seen.insert(record.id.description).inserted {
            var summary = try imageSummary(record, all: records)
            let users = containers.filter { $0.imageID == record.id.description || $0.imageID == record.configDigest?.description }.count
            summary["Containers"] = users
            layersSize += summary["Size"] as? Int64 ?? 0
            images.append(summary)
        }
        var containerDocs: [[String: Any]] = []
        for record in containers {
            var summary = containerSummary(record)
            summary["SizeRw"] = Self.directorySize("\(engine.root)/containers/\(record.id)/upper") ?? 0
            summary["SizeRootFs"] = 0
            containerDocs.append(summary)
        }
        return ["LayersSize": layersSize, "Images": images, "Containers": containerDocs, "Volumes": try volumeUsage(), "BuildCache": [Any]()]
    }

    /// The bytes of regular files under `path` (nil if it is missing).
    static func directorySize(_ path: String) -> Int64? {
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return nil }
        var total: Int64 = 0
        while let name = enumerator.nextObject() as? String {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: "\(path)/\(name)"),
               attributes[.type] as? FileAttributeType == .typeRegular {
                total += (attributes[.size] as? NSNumber)?.int64Value ?? 0
            }
        }
        return total
    }
}
