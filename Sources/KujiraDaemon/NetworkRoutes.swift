// Network routes: list, create, inspect, remove, prune, connect and disconnect, over the
// engine's networks (KujiraNetwork's bridge driver). `host` and `none` are listed as Docker
// lists them (drivers `host` and `null`); they cannot be created or removed.

import Foundation
import Kujira
import KujiraNetwork
import KujiraOCI

extension Daemon {
    /// The networks every daemon has besides its bridges, with Docker's drivers.
    static let predefinedNetworks: [(name: String, driver: String)] = [("host", "host"), ("none", "null")]

    func addNetworkRoutes(_ router: Router) {
        router.add("GET", "/networks") { [self] request, writer in
            let filters = try request.filters(allowed: ["name", "id", "label", "driver", "type", "dangling", "scope"])
            let documents = try allNetworkDocuments().filter { Self.networkMatches($0, filters) }
            try writer.sendJSON(documents)
        }
        router.add("POST", "/networks/create") { [self] request, writer in
            let configuration = try Self.networkConfiguration(request.jsonBody())
            if Self.predefinedNetworks.contains(where: { $0.name == configuration.name }) || configuration.name == "bridge" {
                throw APIError(403, "\(configuration.name) is a pre-defined network and cannot be created")
            }
            let network = try engine.createNetwork(configuration)
            try writer.sendJSON(status: 201, ["Id": network.id, "Warning": ""])
        }
        router.add("POST", "/networks/prune") { [self] request, writer in
            let filters = try request.filters(allowed: ["label", "until"])
            if filters["until"] != nil || filters["label"] != nil {
                throw APIError(400, "the label and until filters of network prune are not supported by kujirad")
            }
            let removed = try engine.pruneNetworks()
            try writer.sendJSON(["NetworksDeleted": removed.isEmpty ? NSNull() : removed as Any])
        }
        router.add("GET", "/networks/{id}") { [self] request, writer in
            try writer.sendJSON(try networkDocument(request.parameter("id")))
        }
        router.add("DELETE", "/networks/{id}") { [self] request, writer in
            let name = request.parameter("id")
            let document = try networkDocument(name)
            if let predefined = document["Name"] as? String, predefined == "bridge" || Self.predefinedNetworks.contains(where: { $0.name == predefined }) {
                throw APIError(403, "\(predefined) is a pre-defined network and cannot be removed")
            }
            try engine.removeNetwork(document["Id"] as? String ?? name)
            try writer.send(status: 204)
        }
        router.add("POST", "/networks/{id}/connect") { [self] request, writer in
            let document = try networkDocument(request.parameter("id"))
            let body = try request.jsonBody() as? [String: Any] ?? [:]
            guard let container = body["Container"] as? String, !container.isEmpty else {
                throw APIError(400, "connect: the request needs a Container")
            }
            let record = try lookupContainer(container)
            let endpoint = body["EndpointConfig"] as? [String: Any] ?? [:]
            var options = ContainerOptions(image: record.image)
            options.network = document["Name"] as? String ?? ""
            try ContainerCreateRequest.applyNetworking(["EndpointsConfig": [options.network: endpoint]], to: &options)
            if options.macAddress != nil {
                throw ContainerCreateRequest.unsupported("EndpointConfig.MacAddress", "a MAC address is set when the container is created")
            }
            try engine.connect(network: options.network, container: record.id, ipv4: options.ip, ipv6: options.ip6,
                               aliases: options.networkAliases)
            try writer.send(status: 200)
        }
        router.add("POST", "/networks/{id}/disconnect") { [self] request, writer in
            let document = try networkDocument(request.parameter("id"))
            let body = try request.jsonBody() as? [String: Any] ?? [:]
            guard let container = body["Container"] as? String, !container.isEmpty else {
                throw APIError(400, "disconnect: the request needs a Container")
            }
            let record = try lookupContainer(container)
            try engine.disconnect(network: document["Name"] as? String ?? "", container: record.id,
                                  force: ContainerCreateRequest.bool(body["Force"]))
            try writer.send(status: 200)
        }
    }

    /// Docker's network document for `nameOrID` (a name, a full ID or a unique ID prefix);
    /// 404 `network X not found` as dockerd says it.
    func networkDocument(_ nameOrID: String) throws -> [String: Any] {
        if let predefined = Self.predefinedNetworks.first(where: { $0.name == nameOrID || Self.predefinedID($0.name).hasPrefix(nameOrID) && nameOrID.count >= 3 }) {
            return Self.predefinedDocument(predefined.name, driver: predefined.driver)
        }
        let all = try allNetworkDocuments()
        if let exact = all.first(where: { $0["Name"] as? String == nameOrID || $0["Id"] as? String == nameOrID }) {
            return exact
        }
        let byPrefix = all.filter { ($0["Id"] as? String)?.hasPrefix(nameOrID) == true }
        if byPrefix.count == 1 { return byPrefix[0] }
        if byPrefix.count > 1 { throw APIError(400, "network \(nameOrID) is ambiguous (\(byPrefix.count) matches found)") }
        throw APIError(404, "network \(nameOrID) not found")
    }

    /// Every network's document: the engine's bridges with their containers, then `host`
    /// and `none`.
    func allNetworkDocuments() throws -> [[String: Any]] {
        let names = Dictionary(try engine.list().map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        var documents: [[String: Any]] = []
        for network in try engine.listNetworks() {
            let inspection = try engine.inspectNetwork(network.id)
            guard var document = try JSON.tree(NetworkDocument(inspection, names: names)) as? [String: Any] else { continue }
            document["ConfigFrom"] = ["Network": ""]
            document["ConfigOnly"] = false
            documents.append(document)
        }
        documents += Self.predefinedNetworks.map { Self.predefinedDocument($0.name, driver: $0.driver) }
        return documents
    }

    /// A stable 64-hex-digit ID for a predefined network.
    static func predefinedID(_ name: String) -> String {
        Digest.sha256(of: Array("kujirad network \(name)".utf8)).encoded
    }

    /// The document of `host` or `none`.
    static func predefinedDocument(_ name: String, driver: String) -> [String: Any] {
        [
            "Name": name, "Id": predefinedID(name), "Created": "0001-01-01T00:00:00Z", "Scope": "local", "Driver": driver,
            "EnableIPv6": false, "IPAM": ["Driver": "default", "Options": NSNull(), "Config": NSNull()], "Internal": false,
            "Attachable": false, "Ingress": false, "ConfigFrom": ["Network": ""], "ConfigOnly": false,
            "Containers": [String: Any](), "Options": [String: String](), "Labels": [String: String](),
        ]
    }

    /// Whether `document` passes the `GET /networks` filters.
    static func networkMatches(_ document: [String: Any], _ filters: [String: [String]]) -> Bool {
        let name = document["Name"] as? String ?? "", id = document["Id"] as? String ?? ""
        let predefined = name == "bridge" || predefinedNetworks.contains { $0.name == name }
        for (key, values) in filters {
            let ok: Bool
            switch key {
            case "name": ok = values.contains { name.contains($0) }
            case "id": ok = values.contains { id.hasPrefix($0) }
            case "driver": ok = values.contains(document["Driver"] as? String ?? "")
            case "scope": ok = values.contains("local")
            case "type": ok = values.contains { ($0 == "builtin" && predefined) || ($0 == "custom" && !predefined) }
            case "label": ok = values.allSatisfy { labelMatches($0, document["Labels"] as? [String: String] ?? [:]) }
            case "dangling":
                let dangling = !predefined && (document["Containers"] as? [String: Any] ?? [:]).isEmpty
                ok = values.contains { ["1", "true"].contains($0.lowercased()) ? dangling : !dangling }
            default: ok = true
            }
            if !ok { return false }
        }
        return true
    }

    /// `POST /networks/create`'s body as the engine's configuration; what the bridge driver
    /// cannot do is a 400 naming the field.
    static func networkConfiguration(_ body: Any?) throws -> NetworkConfiguration {
        guard let body = body as? [String: Any] else { throw APIError(400, "the request body must be a JSON object (the network's configuration)") }
        guard let name = body["Name"] as? String, !name.isEmpty else { throw APIError(400, "network create: Name is required") }
        func refuse(_ field: String, _ what: String = "") -> APIError {
            APIError(400, "network \(name): \(field) is not supported by kujirad\(what.isEmpty ? "" : " (\(what))"); remove it from the request")
        }
        let known: Set<String> = ["Name", "Driver", "Internal", "Attachable", "IPAM", "EnableIPv6", "EnableIPv4", "Options", "Labels",
                                  "CheckDuplicate", "Scope", "Ingress", "ConfigOnly", "ConfigFrom"]
        for (key, value) in body where !known.contains(key) && !ContainerCreateRequest.isDefault(value) { throw refuse(key) }
        let driver = body["Driver"] as? String ?? ""
        guard driver.isEmpty || driver == "bridge" else { throw refuse("Driver \(driver)", "the bridge driver is the only one") }
        for key in ["Ingress", "ConfigOnly", "ConfigFrom"] where !ContainerCreateRequest.isDefault(body[key]) { throw refuse(key, "they need Swarm") }
        if let scope = body["Scope"] as? String, !scope.isEmpty, scope != "local" { throw refuse("Scope \(scope)") }
        if let v4 = body["EnableIPv4"] as? Bool, !v4 { throw refuse("EnableIPv4 false", "networks always have IPv4") }
        var configuration = NetworkConfiguration(name: name)
        configuration.enableIPv6 = ContainerCreateRequest.bool(body["EnableIPv6"])
        configuration.isInternal = ContainerCreateRequest.bool(body["Internal"])
        if let labels = body["Labels"] as? [String: Any] {
            configuration.labels = try labels.mapValues { value in
                guard let text = value as? String else { throw APIError(400, "network \(name): Labels values must be strings") }
                return text
            }
        }
        for (key, value) in body["Options"] as? [String: Any] ?? [:] {
            let text = value as? String ?? "\(value)"
            switch key {
            case "com.docker.network.driver.mtu":
                guard let mtu = UInt32(text), mtu >= 68 else { throw APIError(400, "network \(name): invalid MTU \(text)") }
                configuration.mtu = mtu
            case "com.docker.network.bridge.name": configuration.bridgeName = text
            default: throw refuse("driver option \(key)")
            }
        }
        if let ipam = body["IPAM"] as? [String: Any] {
            let ipamDriver = ipam["Driver"] as? String ?? ""
            guard ipamDriver.isEmpty || ipamDriver == "default" else { throw refuse("IPAM driver \(ipamDriver)") }
            if !ContainerCreateRequest.isDefault(ipam["Options"]) { throw refuse("IPAM.Options") }
            for case let entry as [String: Any] in ipam["Config"] as? [Any] ?? [] {
                var subnet = SubnetConfiguration()
                for (key, value) in entry where !["Subnet", "IPRange", "Gateway"].contains(key) && !ContainerCreateRequest.isDefault(value) {
                    throw refuse("IPAM.Config[].\(key)")
                }
                if let text = entry["Subnet"] as? String, !text.isEmpty {
                    guard let parsed = IPSubnet(text) else { throw APIError(400, "network \(name): invalid subnet \(text)") }
                    subnet.subnet = parsed
                }
                if let text = entry["IPRange"] as? String, !text.isEmpty {
                    guard let parsed = IPSubnet(text) else { throw APIError(400, "network \(name): invalid IP range \(text)") }
                    subnet.ipRange = parsed
                }
                if let text = entry["Gateway"] as? String, !text.isEmpty {
                    guard let parsed = IPAddress(text) else { throw APIError(400, "network \(name): invalid gateway \(text)") }
                    subnet.gateway = parsed
                }
                configuration.subnets.append(subnet)
            }
        }
        return configuration
    }
}
