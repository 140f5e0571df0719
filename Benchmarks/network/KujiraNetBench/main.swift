// kujira-netbench: the network attach benchmark (Benchmarks/network/run.sh) and the
// crash helper the leak tests kill -9 mid-attach.
//
//   kujira-netbench attach ITERATIONS POOL          native driver vs Debian's CNI bridge plugin
//   kujira-netbench churn ROOT TABLE POOL NETWORK NETNS   attach/detach forever (for kill -9)
import Foundation
import Glibc
import KujiraNetwork

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("kujira-netbench: \(message)\n".utf8))
    exit(2)
}

func configuration(root: String, table: String, pool: String) -> NetworkManagerConfiguration {
    var config = NetworkManagerConfiguration(root: root)
    config.tableName = table
    config.bridgePrefix = "kj-test-"
    config.defaultBridge = "kj-test-dflt"
    config.vethPrefix = "kjt"
    guard let subnet = IPSubnet(pool) else { fail("bad pool \(pool)") }
    config.ipv4Pools = [AddressPool(base: subnet, size: 24)]
    config.enableIPForwarding = false
    return config
}

/// Opens a TCP listener on 0.0.0.0:port inside `netns` (no process needed: the socket is
/// made on a thread inside the namespace and accepted from here).
func listener(in netns: String, port: UInt16) throws -> Int32 {
    try NetworkNamespace.withNamespace(at: netns) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 16)
        return fd
    }
}

/// Connects from the host until `ip:port` accepts; "reachable".
func waitReachable(_ ip: IPAddress, port: UInt16) {
    guard case .v4(let v) = ip else { fail("IPv4 only") }
    while true {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr = in_addr(s_addr: v.bigEndian)
        let rc = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        close(fd)
        if rc == 0 { return }
        usleep(200)
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func benchAttach(iterations: Int, pool: String) async throws {
    let id = String(UUID().uuidString.prefix(6)).lowercased()
    let root = "/tmp/kujira-netbench-\(id)"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let manager = try NetworkManager(configuration: configuration(root: root, table: "kujira_test_\(id)", pool: pool))
    let network = try await manager.create(NetworkConfiguration(name: "bench"))
    guard let cniBase = IPSubnet(pool), let cniStart = cniBase.address.advanced(by: 200 * 256),
          let cniSubnet = IPSubnet(address: cniStart, prefixLength: 24) else { fail("pool too small") }
    let conflist = """
        {"cniVersion":"1.0.0","name":"kjbench\(id)","plugins":[{"type":"bridge","bridge":"kj-test-c\(id)","isGateway":true,
         "ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":"\(cniSubnet)"}]],"dataDir":"\(root)/ipam"}}]}
        """
    let list = try CNIConfigurationList(json: Data(conflist.utf8))
    let cni = CNIDriver(pluginPaths: ["/usr/lib/cni"], cacheDir: root + "/cni")
    let forwarding = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8)) ?? "0"
    var native: [Double] = [], viaCNI: [Double] = []
    for i in 0..<iterations {
        let ns = "\(root)/ns\(i)"
        try NetworkNamespace.create(at: ns)
        let fd = try listener(in: ns, port: 8080)
        var start = DispatchTime.now()
        let attachment = try await manager.attach(containerID: "bench\(i)", netnsPath: ns, network: network.name)
        guard let ip = attachment.ipv4 else { fail("no address") }
        waitReachable(ip, port: 8080)
        native.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6)
        try await manager.detach(containerID: "bench\(i)", network: network.name)

        start = DispatchTime.now()
        let result = try cni.add(list, containerID: "bench\(i)", netnsPath: ns, interfaceName: "eth0")
        guard let cniIP = result.addresses.first?.address else { fail("CNI returned no address") }
        waitReachable(cniIP, port: 8080)
        viaCNI.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6)
        try cni.delete(networkName: list.name, containerID: "bench\(i)", interfaceName: "eth0")
        close(fd)
        try NetworkNamespace.remove(at: ns)
    }
    try await manager.destroyAll()
    // The bridge plugin with isGateway turns ip_forward on; put it back as it was.
    try? forwarding.write(toFile: "/proc/sys/net/ipv4/ip_forward", atomically: false, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    process.arguments = ["link", "delete", "kj-test-c\(id)"]
    try? process.run()
    process.waitUntilExit()
    try? FileManager.default.removeItem(atPath: root)
    func line(_ name: String, _ v: [Double]) -> String {
        String(format: "%@  median %.2f ms  p90 %.2f ms  min %.2f ms  (n=%d)", name, percentile(v, 0.5), percentile(v, 0.9), v.min() ?? 0, v.count)
    }
    print(line("kujira native bridge      ", native))
    print(line("CNI bridge+host-local     ", viaCNI))
    print(String(format: "ratio (CNI / native, median) %.1fx", percentile(viaCNI, 0.5) / percentile(native, 0.5)))
}

func churn(root: String, table: String, pool: String, network: String, netns: String) async throws {
    let manager = try NetworkManager(configuration: configuration(root: root, table: table, pool: pool))
    // What an engine does at start-up: undo whatever the previous (killed) process left.
    try await manager.reconcile(liveContainers: [])
    var first = true
    while true {
        _ = try await manager.attach(containerID: "churn", netnsPath: netns, network: network,
                                     options: AttachOptions(ports: try PortMapping.parse("127.0.0.1:18098:80")))
        if first {
            FileHandle.standardOutput.write(Data("ready\n".utf8))
            first = false
        }
        try await manager.detach(containerID: "churn", network: network)
    }
}

let arguments = CommandLine.arguments
do {
    switch arguments.dropFirst().first {
    case "attach" where arguments.count == 4:
        try await benchAttach(iterations: Int(arguments[2]) ?? 20, pool: arguments[3])
    case "churn" where arguments.count == 7:
        try await churn(root: arguments[2], table: arguments[3], pool: arguments[4], network: arguments[5], netns: arguments[6])
    default:
        fail("usage: kujira-netbench attach ITERATIONS POOL | churn ROOT TABLE POOL NETWORK NETNS")
    }
} catch {
    fail("\(error)")
}
