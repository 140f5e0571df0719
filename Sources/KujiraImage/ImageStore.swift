import KujiraSQLite
public import KujiraOCI
import Foundation
import Synchronization

/// The image store: names pointing to manifests or indexes in a ``ContentStore``, kept in
/// `<root>/metadata.db` (SQLite, WAL mode). Any number of threads, instances and processes
/// may use the same root at once, and a `kill -9` at any point leaves it consistent: blobs
/// appear only complete and verified, and a tag is one SQLite transaction.
///
/// Names are opaque, non-empty strings; callers normalise references first (for example
/// `busybox` → `docker.io/library/busybox:latest`).
///
/// ```swift
/// let store = try ImageStore(root: "/var/lib/kujira")
/// try store.withWriteLease {
///     let manifest = try store.content.write(manifestJSON, mediaType: MediaType.imageManifest)
///     try store.put(name: "docker.io/library/app:1", target: manifest)
/// }
/// let image = try store.lookup("3f5a")   // short ID, digest or name
/// ```
public final class ImageStore: Sendable {
    /// The root directory.
    public let root: String
    /// The content store under the same root.
    public let content: ContentStore
    /// The path of the metadata database.
    public var databasePath: String { "\(root)/metadata.db" }

    let lock: StoreLock
    private let database: Mutex<SQLiteDatabase>

    /// The schema version this code writes (`PRAGMA user_version`).
    static let schemaVersion = 1

    /// Opens the store at `root`, creating the content store, the lock file and the
    /// database schema as needed.
    /// - Throws: ``ImageStoreError`` `.io` or `.database`; `.database` also when the
    ///   database was written by a newer Kujira.
    public init(root: String) throws {
        self.content = try ContentStore(root: root)
        self.root = content.root
        self.lock = StoreLock(path: "\(content.root)/lock")
        let db = try SQLiteDatabase(path: "\(content.root)/metadata.db") { ImageStoreError(.database, $0) }
        try Self.migrate(db)
        self.database = Mutex(db)
    }

    private static func migrate(_ db: SQLiteDatabase) throws {
        if try db.userVersion == schemaVersion { return }
        try db.transaction {
            let version = try db.userVersion
            if version > schemaVersion {
                throw ImageStoreError(.database, "metadata database \(db.path) has schema version \(version), newer than this Kujira understands (\(schemaVersion)); upgrade Kujira")
            }
            if version < 1 {
                try db.execute("""
                    CREATE TABLE images (
                        name TEXT PRIMARY KEY NOT NULL CHECK (length(name) > 0),
                        target_digest TEXT NOT NULL,
                        target TEXT NOT NULL,
                        config_digest TEXT,
                        created_ns INTEGER NOT NULL,
                        updated_ns INTEGER NOT NULL
                    );
                    CREATE INDEX images_by_target ON images (target_digest);
                    CREATE INDEX images_by_config ON images (config_digest);
                    CREATE TABLE image_labels (
                        image TEXT NOT NULL REFERENCES images (name) ON DELETE CASCADE ON UPDATE CASCADE,
                        key TEXT NOT NULL,
                        value TEXT NOT NULL,
                        PRIMARY KEY (image, key)
                    ) WITHOUT ROWID;
                    """)
            }
            try db.execute("PRAGMA user_version = \(schemaVersion)")
        }
    }

    /// Runs `body` holding the store lock shared. Wrap "ingest blobs, then tag them" in a
    /// lease so that a concurrent ``garbageCollect(ingestOlderThan:)``, which takes the lock
    /// exclusively, cannot remove the blobs before the tag makes them reachable.
    public func withWriteLease<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock(exclusive: false, body)
    }

    /// Every image, sorted by name.
    public func list() throws -> [ImageRecord] {
        try withDatabase { db in
            let labels = try Self.labels(db, name: nil)
            return try db.query("SELECT \(Self.columns) FROM images ORDER BY name").map { try Self.record($0, labels: labels) }
        }
    }

    /// The image named `name`, or nil.
    public func get(_ name: String) throws -> ImageRecord? {
        try withDatabase { db in
            guard let row = try db.query("SELECT \(Self.columns) FROM images WHERE name = ?1", [.text(name)]).first else { return nil }
            return try Self.record(row, labels: Self.labels(db, name: name))
        }
    }

    /// Points `name` at `target` (a tag), creating or updating the record.
    ///
    /// The target blob must already be in the content store; its config digest is read
    /// from it (for an index, from the host platform's manifest when present).
    /// - Parameter labels: when non-nil, replace the record's labels.
    /// - Throws: ``ImageStoreError`` `.invalidArgument` for an empty name,
    ///   `.unsupportedMediaType` when the target is not a manifest or index,
    ///   `.blobNotFound` when its blob is missing.
    @discardableResult
    public func put(name: String, target: Descriptor, labels: [String: String]? = nil) throws -> ImageRecord {
        guard !name.isEmpty else {
            throw ImageStoreError(.invalidArgument, "an image name must not be empty; give a reference such as docker.io/library/busybox:latest")
        }
        try ImageGraph.checkReferable(target, image: name)
        let configDigest = try self.configDigest(of: target, image: name)
        let targetJSON = try Self.encode(target)
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
        try withDatabase { db in
            try db.transaction {
                try db.query("""
                    INSERT INTO images (name, target_digest, target, config_digest, created_ns, updated_ns)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                    ON CONFLICT (name) DO UPDATE SET target_digest = excluded.target_digest,
                        target = excluded.target, config_digest = excluded.config_digest,
                        updated_ns = excluded.updated_ns
                    """, [.text(name), .text(target.digest.description), .text(targetJSON),
                          configDigest.map { .text($0.description) } ?? .null, .integer(now)])
                if let labels {
                    try db.query("DELETE FROM image_labels WHERE image = ?1", [.text(name)])
                    let insert = try db.prepare("INSERT INTO image_labels (image, key, value) VALUES (?1, ?2, ?3)")
                    for (key, value) in labels {
                        try insert.bind([.text(name), .text(key), .text(value)])
                        _ = try insert.step()
                    }
                }
            }
        }
        guard let record = try get(name) else {
            throw ImageStoreError(.imageNotFound, "image \(name) was removed by another process right after it was tagged; tag it again")
        }
        return record
    }

    /// Removes the name `name`. Blobs stay until ``garbageCollect(ingestOlderThan:)``.
    /// - Returns: the removed record.
    /// - Throws: ``ImageStoreError`` `.imageNotFound` when there is no such name.
    @discardableResult
    public func remove(_ name: String) throws -> ImageRecord {
        try withDatabase { db in
            try db.transaction {
                guard let row = try db.query("SELECT \(Self.columns) FROM images WHERE name = ?1", [.text(name)]).first else {
                    throw ImageStoreError(.imageNotFound, "no image named \(name); list the images to see the names")
                }
                let record = try Self.record(row, labels: Self.labels(db, name: name))
                try db.query("DELETE FROM images WHERE name = ?1", [.text(name)])
                return record
            }
        }
    }

    /// Finds an image the way `docker` commands accept one: by exact name, by digest
    /// (`sha256:…`) of its target or its config, or by a unique hex prefix of either, at
    /// least 4 characters long, with or without `sha256:` (a short ID). When several names
    /// point to the same target, the first name in sort order is returned.
    /// - Throws: ``ImageStoreError`` `.imageNotFound`, or `.ambiguousReference` when a
    ///   prefix matches images with different targets.
    public func lookup(_ idOrNameOrDigest: String) throws -> ImageRecord {
        let key = idOrNameOrDigest
        if let record = try get(key) { return record }
        var hex = Substring(key)
        for algorithm in Digest.Algorithm.allCases where hex.hasPrefix("\(algorithm.rawValue):") {
            hex = hex.dropFirst(algorithm.rawValue.count + 1)
        }
        let isHex = !hex.isEmpty && hex.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        guard isHex else {
            throw ImageStoreError(.imageNotFound, "no image named \(key); list the images to see names and IDs")
        }
        guard hex.count >= 4 else {
            throw ImageStoreError(.imageNotFound, "no image named \(key), and \"\(hex)\" is too short for an image ID prefix (at least 4 hex digits)")
        }
        let matches = try withDatabase { db in
            let labels = try Self.labels(db, name: nil)
            let prefix = String(hex)
            let sql = key.contains(":")
                ? "SELECT \(Self.columns) FROM images WHERE substr(target_digest, 1, length(?1)) = ?1 OR substr(config_digest, 1, length(?1)) = ?1 ORDER BY name"
                : "SELECT \(Self.columns) FROM images WHERE substr(target_digest, instr(target_digest, ':') + 1, length(?1)) = ?1 OR substr(config_digest, instr(config_digest, ':') + 1, length(?1)) = ?1 ORDER BY name"
            return try db.query(sql, [.text(key.contains(":") ? key : prefix)]).map { try Self.record($0, labels: labels) }
        }
        guard let first = matches.first else {
            throw ImageStoreError(.imageNotFound, "no image with name, digest or ID \(key); list the images to see names and IDs")
        }
        let targets = Set(matches.map(\.target.digest))
        guard targets.count == 1 else {
            let names = matches.map { "\($0.name) (\($0.target.digest))" }.joined(separator: ", ")
            throw ImageStoreError(.ambiguousReference, "image ID prefix \(key) matches \(targets.count) different images: \(names); give more digits or a name")
        }
        return first
    }

    /// The children of `descriptor` in the image graph, read from the content store and
    /// verified: an index's manifests, a manifest's config then layers, nothing for other
    /// media types.
    /// - Throws: ``ImageStoreError`` `.blobNotFound`, `.digestMismatch`, `.malformedDocument`.
    public func children(of descriptor: Descriptor) throws -> [Descriptor] {
        guard ImageGraph.hasChildren(descriptor) else { return [] }
        return try ImageGraph.children(of: descriptor, content: content.read(descriptor.digest), image: descriptor.digest.description, strict: false)
    }

    /// The config digest of a manifest, or of the host platform's manifest of an index.
    func configDigest(of target: Descriptor, image: String) throws -> Digest? {
        let bytes = try content.read(target.digest)
        if MediaType.manifestTypes.contains(target.mediaType) {
            let manifest = try ImageGraph.decode(Manifest.self, bytes, descriptor: target, what: "manifest", image: image)
            return manifest.config.digest
        }
        let index = try ImageGraph.decode(Index.self, bytes, descriptor: target, what: "index", image: image)
        guard let entry = ImageGraph.hostManifest(in: index), content.contains(entry.digest) else { return nil }
        return try configDigest(of: entry, image: image)
    }

    func withDatabase<T: Sendable>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        try database.withLock { db in try body(db) }
    }

    private static let columns = "name, target, config_digest, created_ns, updated_ns"

    private static func labels(_ db: SQLiteDatabase, name: String?) throws -> [String: [String: String]] {
        let rows = name == nil
            ? try db.query("SELECT image, key, value FROM image_labels")
            : try db.query("SELECT image, key, value FROM image_labels WHERE image = ?1", [.text(name ?? "")])
        var result = [String: [String: String]]()
        for row in rows {
            if let image = row.text(0), let key = row.text(1), let value = row.text(2) { result[image, default: [:]][key] = value }
        }
        return result
    }

    private static func record(_ row: SQLiteRow, labels: [String: [String: String]]) throws -> ImageRecord {
        guard let name = row.text(0), let json = row.text(1) else {
            throw ImageStoreError(.database, "an image row in the metadata database has no name or target; remove it with sqlite3 or re-tag the image")
        }
        let target: Descriptor
        do {
            target = try JSONDecoder().decode(Descriptor.self, from: Data(json.utf8))
        } catch {
            throw ImageStoreError(.database, "image \(name) has a malformed target descriptor in the metadata database (\(ImageGraph.summary(of: error))); remove the image and pull it again")
        }
        let configDigest = try row.text(2).map { try Digest(parsing: $0) }
        func date(_ ns: Int?) -> Date { Date(timeIntervalSince1970: Double(ns ?? 0) / 1_000_000_000) }
        return ImageRecord(name: name, target: target, configDigest: configDigest, created: date(row.int(3)), updated: date(row.int(4)), labels: labels[name] ?? [:])
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
