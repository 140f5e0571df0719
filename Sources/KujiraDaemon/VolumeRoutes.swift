// Volume routes: list, create, inspect, remove and prune, over the engine's volume store
// (KujiraVolume, the `local` driver).

import Foundation
import Kujira
import KujiraVolume

extension Daemon {
    func addVolumeRoutes(_ router: Router) {
        router.add("GET", "/volumes") { [self] request, writer in
            let filters = try volumeFilters(request, allowed: ["dangling", "label", "name", "driver"])
            let volumes = try engine.listVolumes(filters: filters).map(volumeDocument)
            try writer.sendJSON(["Volumes": volumes, "Warnings": [String]()])
        }
        router.add("POST", "/volumes/create") { [self] request, writer in
            let body = try request.jsonBody() as? [String: Any] ?? [:]
            let name = (body["Name"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            let driver = (body["Driver"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "local"
            let labels = body["Labels"] as? [String: String] ?? [:]
            let options = body["DriverOpts"] as? [String: String] ?? [:]
            for (key, value) in body where !["Name", "Driver", "Labels", "DriverOpts"].contains(key) && !ContainerCreateRequest.isDefault(value) {
                throw APIError(400, "\(key) is not supported by kujirad's volumes (cluster volumes need Swarm)")
            }
            let volume = try engine.createVolume(name: name, driver: driver, labels: labels, options: options)
            try writer.sendJSON(status: 201, volumeDocument(volume))
        }
        router.add("POST", "/volumes/prune") { [self] request, writer in
            let filters = try volumeFilters(request, allowed: ["label", "all"])
            var all = false
            if let values = (try request.filters(allowed: ["label", "all"]))["all"] {
                all = values.contains { ["1", "true"].contains($0.lowercased()) }
            }
            let (removed, bytes) = try engine.pruneVolumes(all: all, filters: filters)
            let deleted: Any = removed.isEmpty ? NSNull() : removed
            try writer.sendJSON(["VolumesDeleted": deleted, "SpaceReclaimed": bytes])
        }
        router.add("GET", "/volumes/{name}") { [self] request, writer in
            try writer.sendJSON(volumeDocument(try lookupVolume(request.parameter("name"))))
        }
        router.add("DELETE", "/volumes/{name}") { [self] request, writer in
            let name = request.parameter("name")
            _ = try lookupVolume(name)
            try engine.removeVolume(name, force: request.bool("force"))
            try writer.send(status: 204)
        }
    }

    /// Volume `name`; 404 with Docker's message.
    func lookupVolume(_ name: String) throws -> Volume {
        do {
            return try engine.volume(name)
        } catch let error as EngineError where error.code == .notFound {
            throw APIError(404, "get \(name): no such volume")
        }
    }

    /// The `filters` parameter as the engine's volume filters (`all` is left to the caller).
    func volumeFilters(_ request: RouteRequest, allowed: Set<String>) throws -> [VolumeFilter] {
        var filters: [VolumeFilter] = []
        for (key, values) in try request.filters(allowed: allowed) where key != "all" {
            for value in values {
                do {
                    filters.append(try VolumeFilter(parsing: "\(key)=\(value)"))
                } catch {
                    throw APIError(400, "invalid filter '\(key)=\(value)'")
                }
            }
        }
        return filters
    }

    /// Docker's `Volume` document.
    func volumeDocument(_ volume: Volume) -> [String: Any] {
        [
            "Name": volume.name, "Driver": volume.driver, "Mountpoint": volume.mountpoint, "CreatedAt": volume.createdAt,
            "Labels": volume.labels, "Scope": volume.scope, "Options": volume.options.isEmpty ? NSNull() : volume.options as Any,
        ]
    }

    /// `/system/df`'s volume entries, with their sizes and users.
    func volumeUsage() throws -> [[String: Any]] {
        try engine.listVolumes().map { volume in
            var document = volumeDocument(volume)
            document["UsageData"] = ["Size": Self.directorySize(volume.mountpoint) ?? 0,
                                     "RefCount": engine.containersUsingVolume(volume.name).count]
            return document
        }
    }
}
