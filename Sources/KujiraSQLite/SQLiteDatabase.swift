import CSQLite

/// A small wrapper around one SQLite connection: open in WAL mode with a busy timeout and
/// foreign keys, prepared statements with bound parameters, and `BEGIN IMMEDIATE`
/// transactions. Errors carry SQLite's message and are made by the owning module (its own
/// error type's `.database` code), so each module keeps one error type.
///
/// Package-internal: shared by KujiraImage (`metadata.db`) and KujiraNetwork (`network.db`),
/// not part of Kujira's public API.
///
/// The connection is opened `SQLITE_OPEN_NOMUTEX`: callers serialise use of one connection
/// themselves (behind a `Mutex`), and other processes are kept apart
/// by SQLite's file locks. SQLite's unix VFS opens its database, WAL and shm files with
/// `O_CLOEXEC` on Linux, so no descriptor leaks into a container process.
package final class SQLiteDatabase {
    /// The database file.
    package let path: String
    private let handle: OpaquePointer
    /// Turns a message into the owning module's error.
    private let makeError: @Sendable (String) -> any Error

    /// Opens (creating if needed) the database at `path`.
    package init(path: String, busyTimeout: Duration = .seconds(10), makeError: @escaping @Sendable (String) -> any Error) throws {
        self.path = path
        self.makeError = makeError
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw makeError("cannot open the metadata database \(path): \(message); check that the directory exists and is writable")
        }
        self.handle = db
        sqlite3_extended_result_codes(db, 1)
        let ms = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(db, Int32(clamping: ms))
        do {
            // WAL: readers never block the writer and a kill -9 at any point leaves either
            // the old or the new state. FULL sync makes a committed tag survive power loss.
            // Switching a new database to WAL takes an exclusive lock for which SQLite does not
            // always call the busy handler (several processes creating the file at once get
            // SQLITE_BUSY at once): retry for as long as the busy timeout allows.
            var waited: Int64 = 0
            while true {
                do {
                    try execute("PRAGMA journal_mode = WAL")
                    break
                } catch where sqlite3_errcode(db) & 0xff == SQLITE_BUSY && waited < ms {
                    sqlite3_sleep(10)
                    waited += 10
                }
            }
            try execute("PRAGMA synchronous = FULL")
            try execute("PRAGMA foreign_keys = ON")
        } catch {
            sqlite3_close_v2(db)
            throw error
        }
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs one or more statements that take no parameters and return no rows of interest.
    package func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(errorMessage)
            throw failure(rc, message, sql: sql)
        }
    }

    /// Prepares a statement.
    package func prepare(_ sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw failure(rc, lastMessage, sql: sql) }
        return SQLiteStatement(database: self, handle: statement, sql: sql)
    }

    /// Runs `sql` with `parameters` and returns every row.
    @discardableResult
    package func query(_ sql: String, _ parameters: [SQLiteValue] = []) throws -> [SQLiteRow] {
        let statement = try prepare(sql)
        try statement.bind(parameters)
        var rows = [SQLiteRow]()
        while let row = try statement.step() { rows.append(row) }
        return rows
    }

    /// The number of rows the last INSERT, UPDATE or DELETE changed.
    package var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so
    /// two processes never deadlock upgrading read locks; SQLite's busy timeout waits for the
    /// other writer. Commits when `body` returns, rolls back when it throws.
    package func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        let result: T
        do {
            result = try body()
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        return result
    }

    /// The user_version pragma, used as the schema version.
    package var userVersion: Int {
        get throws { try query("PRAGMA user_version").first?.int(0) ?? 0 }
    }

    fileprivate var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    fileprivate func failure(_ rc: Int32, _ message: String, sql: String) -> any Error {
        let what = (rc & 0xff) == SQLITE_BUSY
            ? "; another process holds the database \(path) locked for too long, retry"
            : ""
        return makeError("metadata database \(path): \(message) (SQLite code \(rc)) in \"\(sql)\"\(what)")
    }
}

/// A value bound to a statement parameter or read from a column.
package enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
}

/// One result row, its columns read by index.
package struct SQLiteRow: Sendable {
    /// The columns, in SELECT order.
    package let values: [SQLiteValue]

    /// Column `i` as text, or nil when NULL.
    package func text(_ i: Int) -> String? {
        if case .text(let s) = values[i] { return s }
        if case .integer(let n) = values[i] { return String(n) }
        return nil
    }

    /// Column `i` as an integer, or nil when NULL or not an integer.
    package func int(_ i: Int) -> Int? {
        if case .integer(let n) = values[i] { return Int(n) }
        return nil
    }
}

/// A prepared statement, finalised when released.
package final class SQLiteStatement {
    private let database: SQLiteDatabase
    private let handle: OpaquePointer
    private let sql: String

    fileprivate init(database: SQLiteDatabase, handle: OpaquePointer, sql: String) {
        self.database = database
        self.handle = handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and binds `parameters` to `?1`, `?2`, ….
    package func bind(_ parameters: [SQLiteValue]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .integer(let n): rc = sqlite3_bind_int64(handle, index, n)
            case .text(let s): rc = sqlite3_bind_text(handle, index, s, -1, sqliteTransient)
            }
            if rc != SQLITE_OK { throw database.failure(rc, database.lastMessage, sql: sql) }
        }
    }

    /// Steps once: the next row, or nil when done.
    package func step() throws -> SQLiteRow? {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_DONE { return nil }
        guard rc == SQLITE_ROW else { throw database.failure(rc, database.lastMessage, sql: sql) }
        var values = [SQLiteValue]()
        for column in 0..<sqlite3_column_count(handle) {
            switch sqlite3_column_type(handle, column) {
            case SQLITE_NULL: values.append(.null)
            case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(handle, column)))
            default:
                if let text = sqlite3_column_text(handle, column) {
                    values.append(.text(String(cString: text)))
                } else {
                    values.append(.null)
                }
            }
        }
        return SQLiteRow(values: values)
    }
}

/// SQLITE_TRANSIENT, a C macro Swift cannot import: SQLite copies the bound text at once.
private let sqliteTransient = unsafeBitCast(-1 as Int, to: sqlite3_destructor_type.self)
