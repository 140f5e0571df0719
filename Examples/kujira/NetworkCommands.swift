import ArgumentParser
import Foundation
import Kujira
import KujiraNetwork

/// `kujira network create|ls|inspect|rm|prune|connect|disconnect`, as Docker's.
struct NetworkGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", abstract: "Manage networks.",
        subcommands: [NetworkCreate.self, NetworkList.self, NetworkInspect.self, NetworkRemove.self, NetworkPrune.self,
                      NetworkConnect.self, NetworkDisconnect.self, NetworkTeardown.self])
    @OptionGroup var globals: GlobalOptions
}

/// Runs `body` as an engine command, reporting KujiraNetwork's errors the same way.
func networkCommand<T>(_ body: () throws -> T) throws -> T {
    try engineCommand {
        do {
            return try body()
        } catch let error as NetworkError {
            throw CLIError(error.description, exitCode: 1)
        }
    }
}

/// `kujira network create [--driver bridge] [--subnet] [--gateway] [--ip-range] [--internal] [--ipv6] [--label] NAME`,
/// or `kujira network create --driver cni --cni-conflist FILE NAME`.
struct NetworkCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a network.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "Driver to manage the network: bridge (native) or cni (with --cni-conflist).") var driver: String = "bridge"
    @Option(name: .customLong("cni-conflist"), help: "The CNI configuration list (.conflist) of a --driver cni network; its plugins come from $CNI_PATH, else /usr/lib/cni and /opt/cni/bin.") var cniConflist: String?
    @Option(help: "Subnet in CIDR format (one per IP family).") var subnet: [String] = []
    @Option(help: "Gateway for the subnet (in the order of --subnet).") var gateway: [String] = []
    @Option(name: .customLong("ip-range"), help: "Allocate container addresses from a sub-range (in the order of --subnet).") var ipRange: [String] = []
    @Flag(help: "Restrict external access to the network.") var `internal` = false
    @Flag(help: "Enable IPv6 networking.") var ipv6 = false
    @Option(help: "Set metadata on a network (KEY=VALUE).") var label: [String] = []
    @Option(name: [.customShort("o"), .customLong("opt")], help: "Driver options: com.docker.network.driver.mtu=N, com.docker.network.bridge.name=NAME.") var opt: [String] = []
    @Argument(help: "The network's name.") var name: String

    func run() throws {
        if driver == "cni" {
            guard let cniConflist else { throw CLIError("--driver cni needs --cni-conflist FILE (a CNI configuration list)", exitCode: 1) }
            guard subnet.isEmpty, gateway.isEmpty, ipRange.isEmpty, !`internal`, !ipv6, opt.isEmpty else {
                throw CLIError("--driver cni takes its addressing from the conflist: drop --subnet, --gateway, --ip-range, --internal, --ipv6 and -o", exitCode: 1)
            }
            guard let json = FileManager.default.contents(atPath: cniConflist) else {
                throw CLIError("cannot read the CNI configuration list \(cniConflist)", exitCode: 1)
            }
            var configuration = NetworkConfiguration(name: name, cniConfigList: json)
            configuration.labels = try Self.labels(label)
            try networkCommand { print(try openEngine(globals).createNetwork(configuration).id) }
            return
        }
        guard driver == "bridge" else {
            throw CLIError("network driver \(driver) is not supported: use --driver bridge (the native driver) or --driver cni --cni-conflist FILE", exitCode: 1)
        }
        guard cniConflist == nil else { throw CLIError("--cni-conflist needs --driver cni", exitCode: 1) }
        var subnets: [SubnetConfiguration] = []
        let count = max(subnet.count, gateway.count, ipRange.count)
        for i in 0..<count {
            var config = SubnetConfiguration()
            if i < subnet.count {
                guard let value = IPSubnet(subnet[i]) else { throw CLIError("invalid --subnet \(subnet[i]): expected CIDR like 10.1.0.0/24") }
                config.subnet = value
            }
            if i < gateway.count {
                guard let value = IPAddress(gateway[i]) else { throw CLIError("invalid --gateway \(gateway[i]): expected an IP address") }
                config.gateway = value
            }
            if i < ipRange.count {
                guard let value = IPSubnet(ipRange[i]) else { throw CLIError("invalid --ip-range \(ipRange[i]): expected CIDR") }
                config.ipRange = value
            }
            subnets.append(config)
        }
        var configuration = NetworkConfiguration(name: name, subnets: subnets, enableIPv6: ipv6, isInternal: `internal`)
        configuration.labels = try Self.labels(label)
        for entry in opt {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            switch (parts.first ?? "", parts.count) {
            case ("com.docker.network.driver.mtu", 2):
                guard let mtu = UInt32(parts[1]), mtu >= 68 else { throw CLIError("invalid MTU \(parts[1])") }
                configuration.mtu = mtu
            case ("com.docker.network.bridge.name", 2):
                configuration.bridgeName = parts[1]
            default:
                throw CLIError("unsupported network option \(entry): use com.docker.network.driver.mtu=N or com.docker.network.bridge.name=NAME")
            }
        }
        try networkCommand {
            print(try openEngine(globals).createNetwork(configuration).id)
        }
    }
}

extension NetworkCreate {
    /// `--label KEY=VALUE` (or `KEY`) entries.
    static func labels(_ entries: [String]) throws -> [String: String] {
        var labels: [String: String] = [:]
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let key = parts.first, !key.isEmpty else { throw CLIError("invalid --label \(entry): expected KEY=VALUE") }
            labels[key] = parts.count > 1 ? parts[1] : ""
        }
        return labels
    }
}

/// `kujira network ls [-q] [--no-trunc] [--filter KEY=VALUE]`.
struct NetworkList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks.", aliases: ["list"])
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Only display network IDs.") var quiet = false
    @Flag(name: .customLong("no-trunc"), help: "Do not truncate the output.") var noTrunc = false
    @Option(name: .shortAndLong, help: "Filter: name=, id=, driver=, label=KEY[=VALUE], type=custom|builtin.") var filter: [String] = []

    func run() throws {
        try networkCommand {
            let networks = try openEngine(globals).listNetworks().filter { network in
                try filter.allSatisfy { try Self.matches(network, $0) }
            }.sorted { $0.name < $1.name }
            let id: (Network) -> String = { noTrunc ? $0.id : String($0.id.prefix(12)) }
            if quiet {
                networks.forEach { print(id($0)) }
                return
            }
            printTable([["NETWORK ID", "NAME", "DRIVER", "SCOPE"]] + networks.map { [id($0), $0.name, $0.driver, "local"] })
        }
    }

    static func matches(_ network: Network, _ filter: String) throws -> Bool {
        let parts = filter.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw CLIError("invalid filter \(filter): expected KEY=VALUE") }
        let value = parts[1]
        switch parts[0] {
        case "name": return network.name.contains(value)
        case "id": return network.id.hasPrefix(value)
        case "driver": return network.driver == value
        case "type": return value == "builtin" ? network.isDefault : value == "custom" ? !network.isDefault : false
        case "label":
            let kv = value.split(separator: "=", maxSplits: 1).map(String.init)
            guard let label = network.labels[kv[0]] else { return false }
            return kv.count == 1 || label == kv[1]
        default: throw CLIError("unsupported filter \(parts[0]): use name, id, driver, label or type")
        }
    }
}

/// `kujira network inspect NETWORK…`: Docker's JSON array.
struct NetworkInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on networks.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "Networks (names or ids).") var networks: [String]

    func run() throws {
        try networkCommand {
            let engine = try openEngine(globals)
            let names = Dictionary(try engine.list().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            let documents = try networks.map { NetworkDocument(try engine.inspectNetwork($0), names: names) }
            try printJSON(documents)
        }
    }
}

/// `kujira network rm NETWORK…`.
struct NetworkRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more networks.", aliases: ["remove"])
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "Networks (names or ids).") var networks: [String]

    func run() throws {
        try networkCommand {
            let engine = try openEngine(globals)
            for network in networks {
                try engine.removeNetwork(network)
                print(network)
            }
        }
    }
}

/// `kujira network prune [-f]`.
struct NetworkPrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all unused networks.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false

    func run() throws {
        if !force {
            print("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ", terminator: "")
            guard let answer = readLine(), answer.lowercased().hasPrefix("y") else { return }
        }
        try networkCommand {
            let removed = try openEngine(globals).pruneNetworks()
            if !removed.isEmpty { print("Deleted Networks:\n" + removed.joined(separator: "\n")) }
        }
    }
}

/// `kujira network connect [--ip] [--ip6] [--alias] NETWORK CONTAINER`.
struct NetworkConnect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect", abstract: "Connect a container to a network.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "IPv4 address.") var ip: String?
    @Option(help: "IPv6 address.") var ip6: String?
    @Option(help: "Add a network-scoped alias for the container.") var alias: [String] = []
    @Argument(help: "The network.") var network: String
    @Argument(help: "The container.") var container: String

    func run() throws {
        try networkCommand {
            try openEngine(globals).connect(network: network, container: container, ipv4: ip, ipv6: ip6, aliases: alias)
        }
    }
}

/// `kujira network disconnect [-f] NETWORK CONTAINER`.
struct NetworkDisconnect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disconnect", abstract: "Disconnect a container from a network.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Force the container to disconnect from a network.") var force = false
    @Argument(help: "The network.") var network: String
    @Argument(help: "The container.") var container: String

    func run() throws {
        try networkCommand {
            try openEngine(globals).disconnect(network: network, container: container, force: force)
        }
    }
}

/// `kujira network __teardown`: removes every network of the root, the default one and the
/// nftables table included (hidden; for uninstalling and test roots).
struct NetworkTeardown: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__teardown", abstract: "Remove every network of this root (internal).",
                                                    shouldDisplay: false)
    @OptionGroup var globals: GlobalOptions

    func run() throws {
        try networkCommand { try openEngine(globals).destroyNetworks() }
    }
}
