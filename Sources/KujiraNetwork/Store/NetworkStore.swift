import KujiraSQLite
import Foundation

/// The network database `<root>/network/network.db` (SQLite, WAL, `synchronous=NORMAL`): networks, attachments,
/// address allocations and published ports. Uniqueness that matters is enforced by the
/// schema (one row per allocated address, one per published host port), and every change
/// runs in one `BEGIN IMMEDIATE` transaction, so a crash never leaves half a change behind
/// and two processes never hand out the same address.
///
/// An attachment is written in state `pending` before the kernel is touched and becomes
/// `attached` afterwards; reconciliation undoes any `pending` row it finds while holding
/// the network lock, because the process that wrote it has died mid-attach.
final class NetworkStore {
    let database: SQLiteDatabase
    private let encoder: JSONEncoder
    private let decoder = JSONDecoder()

    /// `pending`: the kernel is being changed (attach or detach in flight); `attached`: done.
    enum AttachmentState: String { case pending, attached }

    init(path: String) throws {
        database = try SQLiteDatabase(path: path) { NetworkError(.database, $0) }
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        decoder.dateDecodingStrategy = .iso8601
        // WAL with synchronous=NORMAL: a commit is in the WAL (the page cache) before it
        // returns, so a kill -9 of the writer at any point keeps it; only a power loss can
        // drop the last commits, and reconciliation after the reboot rebuilds the kernel
        // side from whatever rows survived (every attachment is gone with the namespaces
        // anyway). It saves two fsyncs per attach and two per detach.
        try database.execute("PRAGMA synchronous = NORMAL")
        try migrate()
    }

    private func migrate() throws {
        guard try database.userVersion < 1 else { return }
        try database.transaction {
            try database.execute("""
                CREATE TABLE IF NOT EXISTS networks (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS attachments (
                    container_id TEXT NOT NULL, network_id TEXT NOT NULL REFERENCES networks(id),
                    state TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (container_id, network_id));
                CREATE TABLE IF NOT EXISTS allocations (
                    network_id TEXT NOT NULL REFERENCES networks(id), address TEXT NOT NULL,
                    container_id TEXT NOT NULL, PRIMARY KEY (network_id, address));
                CREATE TABLE IF NOT EXISTS ports (
                    proto TEXT NOT NULL, host_ip TEXT NOT NULL, host_port INTEGER NOT NULL,
                    container_id TEXT NOT NULL, network_id TEXT NOT NULL,
                    PRIMARY KEY (proto, host_ip, host_port));
                PRAGMA user_version = 1;
                """)
        }
    }

    /// Runs `body` in one transaction.
    func transaction<T>(_ body: () throws -> T) throws -> T { try database.transaction(body) }

    /// Runs `body` in one transaction on attachments. Like every commit of this database
    /// (`synchronous = NORMAL`, WAL), it does not wait for the disk: a `kill -9` at any point
    /// still leaves the old or the new state, and only a power failure may undo the last
    /// commits, after which every attachment is stale anyway (the reboot took the namespaces
    /// and veths; `reconcile` releases them).
    func attachmentTransaction<T>(_ body: () throws -> T) throws -> T {
        try database.transaction(body)
    }

    // MARK: networks

    func networks() throws -> [Network] {
        try database.query("SELECT body FROM networks ORDER BY name").map { try decode(Network.self, $0.text(0)) }
    }

    func network(named nameOrID: String) throws -> Network? {
        let rows = try database.query("SELECT body FROM networks WHERE name = ?1 OR id = ?1", [.text(nameOrID)])
        if let row = rows.first { return try decode(Network.self, row.text(0)) }
        guard nameOrID.count >= 3, nameOrID.allSatisfy(\.isHexDigit) else { return nil }
        let prefixed = try database.query("SELECT body FROM networks WHERE id LIKE ?1", [.text(nameOrID + "%")])
        guard prefixed.count == 1, let only = prefixed.first else { return nil }
        return try decode(Network.self, only.text(0))
    }

    func insert(_ network: Network) throws {
        try database.query("INSERT INTO networks (id, name, body) VALUES (?1, ?2, ?3)",
                           [.text(network.id), .text(network.name), .text(encode(network))])
    }

    func deleteNetwork(id: String) throws {
        try database.query("DELETE FROM ports WHERE network_id = ?1", [.text(id)])
        try database.query("DELETE FROM allocations WHERE network_id = ?1", [.text(id)])
        try database.query("DELETE FROM attachments WHERE network_id = ?1", [.text(id)])
        try database.query("DELETE FROM networks WHERE id = ?1", [.text(id)])
    }

    // MARK: attachments

    func attachments(network id: String? = nil, container: String? = nil) throws -> [(Attachment, AttachmentState)] {
        var sql = "SELECT body, state FROM attachments WHERE 1=1"
        var parameters: [SQLiteValue] = []
        if let id { parameters.append(.text(id)); sql += " AND network_id = ?\(parameters.count)" }
        if let container { parameters.append(.text(container)); sql += " AND container_id = ?\(parameters.count)" }
        return try database.query(sql + " ORDER BY rowid", parameters).map {
            (try decode(Attachment.self, $0.text(0)), AttachmentState(rawValue: $0.text(1) ?? "") ?? .pending)
        }
    }

    /// Records an attachment with its addresses and ports; the schema refuses duplicates.
    func insert(_ attachment: Attachment, state: AttachmentState) throws {
        try database.query("INSERT INTO attachments (container_id, network_id, state, body) VALUES (?1, ?2, ?3, ?4)",
                           [.text(attachment.containerID), .text(attachment.networkID), .text(state.rawValue), .text(encode(attachment))])
        for address in attachment.addresses {
            try database.query("INSERT INTO allocations (network_id, address, container_id) VALUES (?1, ?2, ?3)",
                               [.text(attachment.networkID), .text(address.address.description), .text(attachment.containerID)])
        }
        for port in attachment.ports {
            try database.query("INSERT INTO ports (proto, host_ip, host_port, container_id, network_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                               [.text(port.proto.rawValue), .text(port.hostIP?.description ?? ""), .integer(Int64(port.hostPort)),
                                .text(attachment.containerID), .text(attachment.networkID)])
        }
    }

    /// Records the addresses of an attachment made without them (a CNI attachment learns
    /// its addresses from the ADD result).
    func insertAllocations(_ attachment: Attachment) throws {
        for address in attachment.addresses {
            try database.query("INSERT INTO allocations (network_id, address, container_id) VALUES (?1, ?2, ?3)",
                               [.text(attachment.networkID), .text(address.address.description), .text(attachment.containerID)])
        }
    }

    func update(_ attachment: Attachment, state: AttachmentState) throws {
        try database.query("UPDATE attachments SET state = ?3, body = ?4 WHERE container_id = ?1 AND network_id = ?2",
                           [.text(attachment.containerID), .text(attachment.networkID), .text(state.rawValue), .text(encode(attachment))])
    }

    /// Deletes an attachment and releases its addresses and ports.
    func deleteAttachment(container: String, network: String) throws {
        let keys: [SQLiteValue] = [.text(container), .text(network)]
        try database.query("DELETE FROM ports WHERE container_id = ?1 AND network_id = ?2", keys)
        try database.query("DELETE FROM allocations WHERE container_id = ?1 AND network_id = ?2", keys)
        try database.query("DELETE FROM attachments WHERE container_id = ?1 AND network_id = ?2", keys)
    }

    // MARK: allocations and ports

    func allocatedAddresses(network id: String) throws -> Set<IPAddress> {
        Set(try database.query("SELECT address FROM allocations WHERE network_id = ?1", [.text(id)]).compactMap { $0.text(0).flatMap(IPAddress.init) })
    }

    func allocationCount() throws -> Int {
        try database.query("SELECT count(*) FROM allocations").first?.int(0) ?? 0
    }

    func publishedPorts() throws -> [PublishedPort] {
        try database.query("SELECT proto, host_ip, host_port FROM ports").compactMap { row in
            guard let proto = row.text(0).flatMap(PortProtocol.init(rawValue:)), let port = row.int(2) else { return nil }
            let ip = row.text(1).flatMap { $0.isEmpty ? nil : IPAddress($0) }
            return PublishedPort(hostIP: ip, hostPort: UInt16(clamping: port), containerPort: 0, proto: proto)
        }
    }

    // MARK: coding

    private func encode(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ text: String?) throws -> T {
        do {
            return try decoder.decode(type, from: Data((text ?? "").utf8))
        } catch {
            throw NetworkError(.database, "a row of the network database does not decode as \(type); the database was written by an incompatible version", cause: error)
        }
    }
}
