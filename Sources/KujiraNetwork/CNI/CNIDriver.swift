import Foundation

/// Runs CNI plugins (CNI spec 1.1.0 §"Execution protocol") for setups that use them instead
/// of the native driver: ADD, CHECK, DEL, GC, STATUS and VERSION over a configuration list.
///
/// Every ADD is cached *before* the first plugin runs, in
/// `<cacheDir>/results/<network>-<container>-<ifname>` (as libcni does, plus the intent),
/// with the configuration list and, once known, the result; DEL reads the cache, so it
/// always runs with the configuration and `prevResult` of the ADD even when the conflist
/// file has since changed or vanished, or when ADD was interrupted by a crash.
///
/// ```swift
/// let cni = CNIDriver(pluginPaths: ["/usr/lib/cni"], cacheDir: "/var/lib/kujira/cni")
/// let list = try CNIConfigurationList(contentsOf: "/etc/cni/net.d/10-web.conflist")
/// let result = try cni.add(list, containerID: id, netnsPath: ns, interfaceName: "eth0")
/// try cni.delete(networkName: list.name, containerID: id, interfaceName: "eth0")
/// ```
public struct CNIDriver: Sendable {
    /// Directories searched for plugin binaries (`CNI_PATH`).
    public var pluginPaths: [String]
    /// Where results are cached.
    public var cacheDir: String

    /// Creates a driver.
    public init(pluginPaths: [String], cacheDir: String) {
        self.pluginPaths = pluginPaths
        self.cacheDir = cacheDir
    }

    /// The runtime's side of an attachment, for the CNI environment and `runtimeConfig`.
    private struct Invocation {
        var containerID: String
        var netnsPath: String?
        var interfaceName: String
        var args: [String: String]
        var runtimeConfig: [String: Any]
    }

    /// Runs ADD through the chain; returns the final result. On failure the chain is
    /// deleted again (DEL is idempotent) and the error thrown.
    /// `runtimeConfig` carries capability arguments such as `portMappings`
    /// (`[["hostPort": 8080, "containerPort": 80, "protocol": "tcp"]]`), `ips`, `mac`.
    @discardableResult
    public func add(_ list: CNIConfigurationList, containerID: String, netnsPath: String, interfaceName: String = "eth0",
                    args: [String: String] = [:], runtimeConfig: [String: any Sendable] = [:]) throws -> CNIResult {
        let invocation = Invocation(containerID: containerID, netnsPath: netnsPath, interfaceName: interfaceName,
                                    args: args, runtimeConfig: runtimeConfig)
        try writeCache(list, invocation, result: nil)
        var previous: Data?
        do {
            for plugin in list.plugins {
                previous = try run("ADD", plugin: plugin, list: list, invocation, previous: previous)
            }
        } catch {
            _ = try? runDelete(list, invocation, previous: nil)
            removeCache(list.name, containerID, interfaceName)
            throw error
        }
        guard let previous else { throw NetworkError(.cni, "the CNI chain \(list.name) returned no result") }
        try writeCache(list, invocation, result: previous)
        return CNIResult(json: previous)
    }

    /// Runs CHECK through the chain with the cached result (CNI ≥ 0.4.0, unless the list
    /// sets `disableCheck`).
    public func check(networkName: String, containerID: String, interfaceName: String = "eth0") throws {
        guard let (list, invocation, result) = try readCache(networkName, containerID, interfaceName) else {
            throw NetworkError(.cni, "no cached CNI result for container \(containerID.prefix(12)) on \(networkName); it was never added")
        }
        guard !list.disableCheck, CNIConfigurationList.version(list.cniVersion, atLeast: "0.4.0") else { return }
        for plugin in list.plugins {
            _ = try run("CHECK", plugin: plugin, list: list, invocation, previous: result)
        }
    }

    /// Runs DEL through the chain in reverse with the cached configuration and result, then
    /// drops the cache. Without a cache entry, `fallback` (the current conflist) is used;
    /// without either there is nothing to delete.
    public func delete(networkName: String, containerID: String, interfaceName: String = "eth0",
                       netnsPath: String? = nil, fallback: CNIConfigurationList? = nil) throws {
        if let (list, invocation, result) = try readCache(networkName, containerID, interfaceName) {
            var inv = invocation
            if let netnsPath { inv.netnsPath = netnsPath }
            if let ns = inv.netnsPath, !NetworkNamespace.exists(at: ns) { inv.netnsPath = nil }  // spec: DEL without a netns
            try runDelete(list, inv, previous: result)
        } else if let fallback {
            try runDelete(fallback, Invocation(containerID: containerID, netnsPath: netnsPath, interfaceName: interfaceName,
                                                args: [:], runtimeConfig: [:]), previous: nil)
        }
        removeCache(networkName, containerID, interfaceName)
    }

    /// Garbage collection (CNI 1.1.0 GC): every cached attachment of `list` that is not in
    /// `valid` is deleted; then, for lists of version 1.1.0 or later, each plugin gets GC
    /// with `cni.dev/valid-attachments` to release what it knows of beyond the cache.
    public func garbageCollect(_ list: CNIConfigurationList, valid: [(containerID: String, interfaceName: String)]) throws {
        let keep = Set(valid.map { "\(list.name)-\($0.containerID)-\($0.interfaceName)" })
        let directory = cacheDir + "/results"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where entry.hasPrefix(list.name + "-") && !keep.contains(entry) {
            guard let (cached, invocation, _) = try readCacheFile(directory + "/" + entry), cached.name == list.name else { continue }
            try delete(networkName: list.name, containerID: invocation.containerID, interfaceName: invocation.interfaceName)
        }
        guard !list.disableGC, CNIConfigurationList.version(list.cniVersion, atLeast: "1.1.0") else { return }
        let attachments: [[String: String]] = valid.map { ["containerID": $0.containerID, "ifname": $0.interfaceName] }
        let invocation = Invocation(containerID: "", netnsPath: nil, interfaceName: "", args: [:],
                                    runtimeConfig: [:])
        for plugin in list.plugins {
            _ = try run("GC", plugin: plugin, list: list, invocation, previous: nil, extra: ["cni.dev/valid-attachments": attachments])
        }
    }

    /// STATUS (CNI 1.1.0): whether every plugin of the list is ready to ADD. Lists of
    /// older versions are assumed ready.
    public func status(_ list: CNIConfigurationList) throws {
        guard CNIConfigurationList.version(list.cniVersion, atLeast: "1.1.0") else { return }
        let invocation = Invocation(containerID: "", netnsPath: nil, interfaceName: "", args: [:], runtimeConfig: [:])
        for plugin in list.plugins {
            _ = try run("STATUS", plugin: plugin, list: list, invocation, previous: nil)
        }
    }

    /// VERSION: the spec versions plugin `type` supports.
    public func supportedVersions(of type: String) throws -> [String] {
        let plugin = try JSONSerialization.data(withJSONObject: ["type": type, "cniVersion": "1.0.0"])
        let list = try CNIConfigurationList(json: try JSONSerialization.data(withJSONObject: ["name": "version", "cniVersion": "1.0.0", "type": type]))
        let invocation = Invocation(containerID: "", netnsPath: nil, interfaceName: "", args: [:], runtimeConfig: [:])
        let output = try run("VERSION", plugin: plugin, list: list, invocation, previous: nil)
        let object = (try? JSONSerialization.jsonObject(with: output)) as? [String: Any]
        return object?["supportedVersions"] as? [String] ?? []
    }

    // MARK: execution

    private func runDelete(_ list: CNIConfigurationList, _ invocation: Invocation, previous: Data?) throws {
        var firstError: (any Error)?
        for plugin in list.plugins.reversed() {
            do {
                _ = try run("DEL", plugin: plugin, list: list, invocation, previous: previous)
            } catch {
                firstError = firstError ?? error  // keep going: later plugins must still release
            }
        }
        if let firstError { throw firstError }
    }

    private func run(_ command: String, plugin: Data, list: CNIConfigurationList, _ invocation: Invocation,
                     previous: Data?, extra: [String: Any] = [:]) throws -> Data {
        guard var config = try JSONSerialization.jsonObject(with: plugin) as? [String: Any],
              let type = config["type"] as? String else {
            throw NetworkError(.cni, "a plugin of CNI network \(list.name) has no type")
        }
        config["name"] = list.name
        config["cniVersion"] = list.cniVersion
        if let capabilities = config["capabilities"] as? [String: Bool] {
            let wanted = invocation.runtimeConfig.filter { capabilities[$0.key] == true }
            if !wanted.isEmpty { config["runtimeConfig"] = wanted }
        }
        if let previous, let object = try? JSONSerialization.jsonObject(with: previous) { config["prevResult"] = object }
        for (key, value) in extra { config[key] = value }
        let stdin = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])

        guard let executable = locate(type) else {
            throw NetworkError(.cni, "CNI plugin \(type) not found in \(pluginPaths.joined(separator: ":")); install containernetworking-plugins or fix CNI_PATH")
        }
        var environment = ["CNI_COMMAND": command, "CNI_PATH": pluginPaths.joined(separator: ":"),
                           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        if command != "VERSION" && command != "GC" && command != "STATUS" {
            environment["CNI_CONTAINERID"] = invocation.containerID
            environment["CNI_IFNAME"] = invocation.interfaceName
            environment["CNI_NETNS"] = invocation.netnsPath ?? ""
            if !invocation.args.isEmpty {
                environment["CNI_ARGS"] = invocation.args.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
            }
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.environment = environment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw NetworkError(.cni, "cannot run CNI plugin \(executable)", cause: error)
        }
        input.fileHandleForWriting.write(stdin)
        try? input.fileHandleForWriting.close()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let object = (try? JSONSerialization.jsonObject(with: stdout)) as? [String: Any]
            let message = object?["msg"] as? String ?? String(decoding: stderr.isEmpty ? stdout : stderr, as: UTF8.self)
            let code = object?["code"].map { " (CNI error \($0))" } ?? ""
            let details = (object?["details"] as? String).map { ": \($0)" } ?? ""
            throw NetworkError(.cni, "CNI plugin \(type) \(command) for network \(list.name) failed\(code): \(message)\(details)")
        }
        return stdout
    }

    private func locate(_ type: String) -> String? {
        guard !type.contains("/") else { return nil }
        return pluginPaths.map { "\($0)/\(type)" }.first { access($0, X_OK) == 0 }
    }

    // MARK: cache

    private func cachePath(_ network: String, _ container: String, _ ifname: String) -> String {
        "\(cacheDir)/results/\(network)-\(container)-\(ifname)"
    }

    private func writeCache(_ list: CNIConfigurationList, _ invocation: Invocation, result: Data?) throws {
        var entry: [String: Any] = [
            "kind": "cniCacheV1", "containerId": invocation.containerID, "ifName": invocation.interfaceName,
            "networkName": list.name, "config": list.source.base64EncodedString(),
            "netns": invocation.netnsPath ?? "", "cniArgs": invocation.args,
        ]
        if let result, let object = try? JSONSerialization.jsonObject(with: result) { entry["result"] = object }
        if JSONSerialization.isValidJSONObject(invocation.runtimeConfig) { entry["runtimeConfig"] = invocation.runtimeConfig }
        let data = try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])
        do {
            try FileManager.default.createDirectory(atPath: cacheDir + "/results", withIntermediateDirectories: true)
            // Atomic replace: a crash leaves the old entry or the new one, never half a file.
            try data.write(to: URL(fileURLWithPath: cachePath(list.name, invocation.containerID, invocation.interfaceName)), options: .atomic)
        } catch {
            throw NetworkError(.cni, "cannot write the CNI cache in \(cacheDir)", cause: error)
        }
    }

    private func readCache(_ network: String, _ container: String, _ ifname: String) throws -> (CNIConfigurationList, Invocation, Data?)? {
        try readCacheFile(cachePath(network, container, ifname))
    }

    private func readCacheFile(_ path: String) throws -> (CNIConfigurationList, Invocation, Data?)? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let entry = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let config = (entry["config"] as? String).flatMap({ Data(base64Encoded: $0) }) else {
            throw NetworkError(.cni, "the CNI cache entry \(path) is corrupt; delete it after releasing the attachment by hand")
        }
        let list = try CNIConfigurationList(json: config)
        let netns = entry["netns"] as? String
        let invocation = Invocation(containerID: entry["containerId"] as? String ?? "", netnsPath: netns?.isEmpty == false ? netns : nil,
                                    interfaceName: entry["ifName"] as? String ?? "eth0",
                                    args: entry["cniArgs"] as? [String: String] ?? [:],
                                    runtimeConfig: entry["runtimeConfig"] as? [String: Any] ?? [:])
        let result = entry["result"].flatMap { try? JSONSerialization.data(withJSONObject: $0) }
        return (list, invocation, result)
    }

    private func removeCache(_ network: String, _ container: String, _ ifname: String) {
        try? FileManager.default.removeItem(atPath: cachePath(network, container, ifname))
    }
}
