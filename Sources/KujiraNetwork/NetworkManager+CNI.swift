import Foundation

// CNI networks (`kujira network create --driver cni --cni-conflist FILE NAME`): the network
// record holds the configuration list; an attach runs ADD through its plugins (CNIDriver,
// which caches the configuration and result before the first plugin runs) and records the
// addresses the result names, so IPAM queries, `network inspect`, `/etc/hosts` and the
// embedded DNS server see CNI containers like native ones. Every detach — disconnect,
// container exit, removal, reconciliation after a crash — runs DEL from that cache.

extension NetworkManager {
    /// The CNI driver of this root: plugins from the configuration's paths, results cached
    /// in `<state>/cni`.
    var cniDriver: CNIDriver {
        CNIDriver(pluginPaths: configuration.cniPluginPaths, cacheDir: configuration.stateDirectory + "/cni")
    }

    /// Records a CNI network after checking its configuration list and that every plugin
    /// it names is installed. Nothing is created in the kernel: the plugins do that at the
    /// first ADD.
    func createCNILocked(_ request: NetworkConfiguration) throws -> Network {
        guard let json = request.cniConfigList else { throw NetworkError(.invalidArgument, "network \(request.name): no CNI configuration list") }
        if !request.subnets.isEmpty || request.enableIPv6 || request.isInternal || request.mtu != nil || request.bridgeName != nil {
            throw NetworkError(.invalidArgument, "network \(request.name) uses the cni driver: --subnet, --gateway, --ip-range, --ipv6, --internal and the MTU come from the conflist, not from flags")
        }
        let list = try CNIConfigurationList(json: json)
        for plugin in list.plugins {
            let object = (try? JSONSerialization.jsonObject(with: plugin)) as? [String: Any]
            guard let type = object?["type"] as? String, !type.isEmpty, !type.contains("/") else {
                throw NetworkError(.invalidArgument, "CNI configuration list \(list.name): a plugin has no valid \"type\"")
            }
            guard configuration.cniPluginPaths.contains(where: { FileManager.default.isExecutableFile(atPath: $0 + "/" + type) }) else {
                throw NetworkError(.invalidArgument, "CNI plugin \(type) (network \(request.name)) is not in \(configuration.cniPluginPaths.joined(separator: ":")); install containernetworking-plugins or set CNI_PATH")
            }
        }
        if let other = try store.networks().first(where: { $0.cniConfigList.flatMap { try? CNIConfigurationList(json: $0).name } == list.name }) {
            throw NetworkError(.networkExists, "network \(other.name) already uses the CNI configuration list named \(list.name); give the conflist another \"name\"")
        }
        let network = Network(id: Self.randomID(), name: request.name, driver: "cni", bridge: "", subnets: [], enableIPv6: false,
                              isInternal: false, labels: request.labels, mtu: nil, created: Date(), isDefault: false,
                              cniConfigList: json)
        try store.transaction { try store.insert(network) }
        return network
    }

    /// Attaches through the network's CNI plugins: the attachment is recorded as pending
    /// (with its host ports, so no two containers publish the same one), ADD runs, and the
    /// result's addresses are recorded with the attachment marked attached in one
    /// transaction. `--ip`, `--ip6` and `--mac-address` are refused: plugins take them only
    /// through capabilities a conflist may not enable.
    func attachCNILocked(containerID: String, netnsPath: String, network: Network, options: AttachOptions,
                         current: [Attachment]) throws -> Attachment {
        guard options.ipv4 == nil, options.ipv6 == nil, options.macAddress == nil else {
            throw NetworkError(.unsupported, "network \(network.name) uses the cni driver: --ip, --ip6 and --mac-address are not supported there; set addresses in the conflist's ipam")
        }
        guard let json = network.cniConfigList else { throw NetworkError(.invalidArgument, "network \(network.name) has no CNI configuration list") }
        let list = try CNIConfigurationList(json: json)
        let ports = try resolvePorts(options.ports, network: network)
        let interfaceName = try options.interfaceName ?? nextInterfaceName(current)
        var attachment = Attachment(
            containerID: containerID, networkID: network.id, networkName: network.name,
            containerName: options.containerName, hostname: options.hostname, aliases: options.aliases,
            netnsPath: netnsPath, interfaceName: interfaceName, hostInterface: "", macAddress: "", addresses: [],
            gateways: [], isDefaultRoute: !current.contains { $0.isDefaultRoute }, ports: ports, usesEmbeddedDNS: network.hasEmbeddedDNS)
        do {
            try store.transaction { try store.insert(attachment, state: .pending) }
        } catch let error as NetworkError where error.code == .database && error.message.contains("UNIQUE") {
            throw NetworkError(.portInUse, "a host port for container \(containerID.prefix(12)) on \(network.name) was taken concurrently; retry", cause: error)
        }
        Self.crashPoint("attach-pending")
        do {
            var runtimeConfig: [String: any Sendable] = [:]
            if !ports.isEmpty {
                let mappings: [[String: any Sendable]] = ports.map { port in
                    var mapping: [String: any Sendable] = ["hostPort": Int(port.hostPort), "containerPort": Int(port.containerPort),
                                                           "protocol": port.proto.rawValue]
                    if let ip = port.hostIP { mapping["hostIP"] = ip.description }
                    return mapping
                }
                runtimeConfig["portMappings"] = mappings
            }
            let result = try cniDriver.add(list, containerID: containerID, netnsPath: netnsPath, interfaceName: interfaceName,
                                           runtimeConfig: runtimeConfig)
            Self.crashPoint("attach-veth")
            attachment.addresses = result.addresses.sorted { $0.address.isV4 && !$1.address.isV4 }
            attachment.gateways = result.gateways
            try store.transaction {
                try store.insertAllocations(attachment)
                try store.update(attachment, state: .attached)
            }
        } catch {
            _ = try? cniDriver.delete(networkName: list.name, containerID: containerID, interfaceName: interfaceName, netnsPath: netnsPath)
            _ = try? store.transaction { try store.deleteAttachment(container: containerID, network: network.id) }
            throw error
        }
        return attachment
    }

    /// Undoes an attachment in the kernel: deletes the veth pair of a native one, runs DEL
    /// from the cached configuration and result of a CNI one (a missing namespace is
    /// fine: DEL then runs without it, as the spec asks).
    func releaseInterface(_ attachment: Attachment) throws {
        if !attachment.hostInterface.isEmpty {
            try dataplane.deleteVeth(hostInterface: attachment.hostInterface)
            return
        }
        guard let network = try store.networks().first(where: { $0.id == attachment.networkID }), let json = network.cniConfigList else { return }
        let list = try CNIConfigurationList(json: json)
        try cniDriver.delete(networkName: list.name, containerID: attachment.containerID, interfaceName: attachment.interfaceName,
                             netnsPath: attachment.netnsPath, fallback: list)
    }
}
