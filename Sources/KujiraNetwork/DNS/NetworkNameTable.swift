import Synchronization

/// What the embedded DNS server asks about names: the addresses a name has for one
/// querying container, and the reverse. Only networks the querier shares with the target
/// count, so networks stay isolated at the name level too.
public protocol ContainerNameLookup: Sendable {
    /// The addresses `name` resolves to for `containerID`, or nil when it names nothing
    /// on the container's networks (the query is then forwarded upstream).
    func addresses(of name: String, from containerID: String) -> [IPAddress]?
    /// The name of the container holding `address` on a network shared with `containerID`.
    func name(of address: IPAddress, from containerID: String) -> String?
}

/// The name records of a ``NetworkManager`` root, read straight from its database on
/// every query, so names added or removed by any process are seen at once. Holds its own
/// read connection (SQLite WAL lets it read while the manager writes).
public final class NetworkNameTable: ContainerNameLookup {
    private let store: Mutex<NetworkStore>

    /// Opens the records of the engine root `root` (the same root as the manager's).
    public convenience init(root: String) throws {
        try self.init(stateDirectory: NetworkManagerConfiguration(root: root).stateDirectory)
    }

    /// Opens the records in a manager's state directory.
    public init(stateDirectory: String) throws {
        store = Mutex(try NetworkStore(path: stateDirectory + "/network.db"))
    }

    /// Addresses of the containers called `name` on the user networks `containerID` is on.
    public func addresses(of name: String, from containerID: String) -> [IPAddress]? {
        let wanted = name.lowercased()
        var found: [IPAddress]?
        for peer in peers(of: containerID) where peer.names.contains(where: { $0.lowercased() == wanted }) {
            found = (found ?? []) + peer.addresses.map(\.address)
        }
        return found
    }

    /// `name.network` of the container holding `address` on a network shared with `containerID`.
    public func name(of address: IPAddress, from containerID: String) -> String? {
        guard let peer = peers(of: containerID).first(where: { $0.addresses.contains { $0.address == address } }) else { return nil }
        let name = peer.containerName ?? String(peer.containerID.prefix(12))
        return "\(name).\(peer.networkName)"
    }

    /// Attachments on the user networks `containerID` is on (itself included).
    private func peers(of containerID: String) -> [Attachment] {
        store.withLock { store in
            guard let mine = try? store.attachments(container: containerID) else { return [] }
            var result: [Attachment] = []
            for (attachment, _) in mine where attachment.usesEmbeddedDNS {
                result += ((try? store.attachments(network: attachment.networkID)) ?? []).filter { $0.1 == .attached }.map(\.0)
            }
            return result
        }
    }
}
