// The `local` volume driver: one directory per volume under `<root>/volumes`, laid out as
// Docker lays it out (`<name>/_data`), with the metadata in `<name>/kujira-volume.json`.
//
//     let store = try VolumeStore(root: "/var/lib/kujira")
//     let data = try store.create(name: "data", labels: ["team": "web"])
//     let scratch = try store.create(name: "scratch", options: ["type": "tmpfs", "o": "size=64m"])
//
// Crash safety: the data directory is made first and the metadata written last, atomically
// (temporary file, fsync, rename), so a `kill -9` leaves either no volume or a complete one;
// removal unlinks the metadata first. A directory without metadata is not a volume: `list`
// skips it and a later `create` of that name reuses it. Every change runs under an `flock`
// on `<root>/volumes.lock`, so concurrent CLI invocations see one order.

import CKujiraSys
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The store of named and anonymous volumes of one Kujira root.
public struct VolumeStore: Sendable {
    /// The directory holding one folder per volume (`<root>/volumes`).
    public let directory: String
    /// The drivers the store knows.
    public static let drivers = ["local"]
    /// The `--opt` keys of the `local` driver.
    public static let optionKeys = ["type", "device", "o"]
    static let metadataName = "kujira-volume.json"

    /// Opens (and creates) the volume store under the Kujira root `root`.
    public init(root: String) throws {
        directory = "\(root)/volumes"
        if mkdir(directory, 0o701) != 0 && errno != EEXIST {
            throw VolumeError.posix("creating \(directory)", errno: errno)
        }
    }

    /// The folder of volume `name`.
    public func path(_ name: String) -> String { "\(directory)/\(name)" }
    /// The data directory (mount point) of volume `name`.
    public func dataPath(_ name: String) -> String { "\(directory)/\(name)/_data" }

    /// Runs `body` holding the store's exclusive lock (shared by every process on the root).
    public func withLock<T>(_ body: () throws -> T) throws -> T {
        let lockPath = "\(directory)/../volumes.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VolumeError.posix("opening \(lockPath)", errno: errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw VolumeError.posix("locking \(lockPath)", errno: errno) }
        }
        return try body()
    }

    // MARK: - Create, read, remove

    /// Creates volume `name` (nil: an anonymous volume named by 64 random hex digits and
    /// labelled `com.docker.volume.anonymous`). An existing volume of that name is returned
    /// as it is, as Docker does, unless its driver differs.
    /// - Throws: ``VolumeError`` `.invalidArgument` for a bad name, driver or option,
    ///   `.conflict` for an existing volume of another driver.
    public func create(name: String? = nil, driver: String = "local", labels: [String: String] = [:],
                       options: [String: String] = [:]) throws -> Volume {
        guard VolumeStore.drivers.contains(driver) else {
            throw VolumeError(.invalidArgument, "volume driver \(driver) is not supported: only local exists")
        }
        try VolumeStore.validate(options: options)
        var labels = labels
        let volumeName: String
        if let name {
            guard Volume.isValidName(name) else {
                throw VolumeError(.invalidArgument, "invalid volume name \"\(name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters")
            }
            volumeName = name
        } else {
            volumeName = VolumeStore.randomName()
            labels[Volume.anonymousLabel] = ""
        }
        return try withLock {
            if let existing = load(volumeName) {
                guard existing.driver == driver else {
                    throw VolumeError(.conflict, "volume \(volumeName) already exists with driver \(existing.driver); remove it first or use another name")
                }
                return existing
            }
            let folder = path(volumeName), data = dataPath(volumeName)
            for (dir, mode) in [(folder, mode_t(0o701)), (data, mode_t(0o755))] where mkdir(dir, mode) != 0 && errno != EEXIST {
                throw VolumeError.posix("creating \(dir)", errno: errno)
            }
            let volume = Volume(name: volumeName, driver: driver, labels: labels, options: options,
                                createdAt: VolumeStore.timestamp(), mountpoint: data)
            try save(volume)
            return volume
        }
    }

    /// The volume named `name`.
    /// - Throws: ``VolumeError`` `.notFound`.
    public func volume(_ name: String) throws -> Volume {
        guard let volume = load(name) else {
            throw VolumeError(.notFound, "no such volume: \(name)")
        }
        return volume
    }

    /// Every volume, sorted by name.
    public func list() -> [Volume] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().compactMap(load)
    }

    /// Removes volume `name` and its data: unmounts what the driver mounted, unlinks the
    /// metadata (from then on the volume is gone), then deletes the folder. `check` runs
    /// first, under the store's lock: the caller's test that no container uses the volume,
    /// throwing to keep it.
    /// - Throws: ``VolumeError`` `.notFound`, `.io` when the unmount fails, or what `check` throws.
    public func remove(_ name: String, check: (Volume) throws -> Void = { _ in }) throws {
        try withLock {
            let volume = try self.volume(name)
            try check(volume)
            try deactivate(volume)
            unlink("\(path(name))/\(VolumeStore.metadataName)")
            try? FileManager.default.removeItem(atPath: path(name))
        }
    }

    func load(_ name: String) -> Volume? {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..",
              let data = FileManager.default.contents(atPath: "\(path(name))/\(VolumeStore.metadataName)") else { return nil }
        return try? JSONDecoder().decode(Volume.self, from: data)
    }

    func save(_ volume: Volume) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes = Array(try encoder.encode(volume))
        let target = "\(path(volume.name))/\(VolumeStore.metadataName)"
        var stage: Int32 = 0
        let code = bytes.withUnsafeBytes {
            kujira_write_file_atomically(AT_FDCWD, target, $0.baseAddress, $0.count, 0o600, KUJIRA_ATOMIC_SYNC_FILE, &stage)
        }
        if code != 0 { throw VolumeError.posix("\(String(cString: kujira_atomic_stage_name(stage))) \(target)", errno: code) }
    }

    // MARK: - Mounting (`--opt type=…`)

    /// Mounts what the driver options describe at the volume's data directory, unless it is
    /// mounted already; nothing for a plain directory volume.
    /// - Throws: ``VolumeError`` `.io` with the kernel's reason.
    public func activate(_ volume: Volume) throws {
        guard volume.needsMount else { return }
        let target = dataPath(volume.name)
        guard !VolumeStore.isMountPoint(target) else { return }
        let plan = try LocalMountPlan(volume.options)
        if mkdir(target, 0o755) != 0 && errno != EEXIST { throw VolumeError.posix("creating \(target)", errno: errno) }
        guard mount(plan.device, target, plan.type, plan.flags, plan.data.isEmpty ? nil : plan.data) == 0 else {
            throw VolumeError.posix("mounting volume \(volume.name) (type \(plan.type), device \(plan.device)) at \(target)", errno: errno)
        }
        if plan.flags & LocalMountPlan.bind != 0 && plan.flags & ~(LocalMountPlan.bind | LocalMountPlan.recursive) != 0 {
            // A bind mount ignores the other flags until it is remounted with them.
            guard mount("", target, nil, plan.flags | LocalMountPlan.remount, nil) == 0 else {
                let code = errno
                umount2(target, Int32(MNT_DETACH))
                throw VolumeError.posix("remounting volume \(volume.name) with \(volume.options["o"] ?? "")", errno: code)
            }
        }
    }

    /// Unmounts what ``activate(_:)`` mounted (lazily, as a container may still hold it).
    public func deactivate(_ volume: Volume) throws {
        let target = dataPath(volume.name)
        guard volume.needsMount, VolumeStore.isMountPoint(target) else { return }
        guard umount2(target, Int32(MNT_DETACH)) == 0 else {
            throw VolumeError.posix("unmounting volume \(volume.name) at \(target)", errno: errno)
        }
    }

    /// Whether `path` is a mount point in this process's mount namespace.
    public static func isMountPoint(_ path: String) -> Bool {
        // Read to the end: Foundation's String(contentsOfFile:) stops after procfs's first
        // short read (about 4 KiB of mountinfo), which hid later mounts and leaked them.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/mountinfo"),
              let data = try? handle.readToEnd() else { return false }
        try? handle.close()
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 4, unescape(String(fields[4])) == path { return true }
        }
        return false
    }

    /// Decodes mountinfo's octal escapes (`\040` for a space).
    static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "\\"), i + 3 < raw.count,
               let value = UInt8(String(decoding: raw[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                i += 4
            } else {
                bytes.append(raw[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Validation and helpers

    /// Checks `--opt` keys and values of the `local` driver.
    /// - Throws: ``VolumeError`` `.invalidArgument`.
    public static func validate(options: [String: String]) throws {
        for key in options.keys.sorted() where !optionKeys.contains(key) {
            throw VolumeError(.invalidArgument, "invalid volume option \(key): the local driver takes type, device and o")
        }
        if !options.isEmpty { _ = try LocalMountPlan(options) }
    }

    /// 64 random hex digits.
    static func randomName() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let text = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }.joined()
    }

    /// Now, as RFC 3339 in UTC (Docker's `CreatedAt`).
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))Z"
    }
}

/// How the `local` driver mounts a volume with `--opt type=T,device=D,o=OPTIONS`: the
/// mount(2) arguments, as Docker's `local` driver computes them (flags out of `o`, the rest
/// passed as data).
struct LocalMountPlan {
    static let readOnly: UInt = 0x1, bind: UInt = 0x1000, recursive: UInt = 0x4000, remount: UInt = 0x20
    /// The flag words of `o` and their mount(2) flags (0: clears nothing, accepted as default).
    static let flagWords: [String: UInt] = [
        "ro": 0x1, "rw": 0, "nosuid": 0x2, "suid": 0, "nodev": 0x4, "dev": 0, "noexec": 0x8, "exec": 0,
        "sync": 0x10, "async": 0, "noatime": 0x400, "nodiratime": 0x800, "relatime": 0x200000,
        "strictatime": 0x1000000, "bind": 0x1000, "rbind": 0x5000,
    ]

    var type: String
    var device: String
    var flags: UInt = 0
    var data: String = ""

    init(_ options: [String: String]) throws {
        guard let type = options["type"], !type.isEmpty else {
            throw VolumeError(.invalidArgument, "volume options \(options.keys.sorted().joined(separator: ",")) need type: give --opt type=tmpfs, type=none (with o=bind) or a file system type")
        }
        self.type = type
        var words: [String] = []
        for word in (options["o"] ?? "").split(separator: ",").map(String.init) {
            if let flag = LocalMountPlan.flagWords[word] { flags |= flag } else { words.append(word) }
        }
        data = words.joined(separator: ",")
        switch type {
        case "tmpfs":
            device = options["device"].flatMap { $0.isEmpty ? nil : $0 } ?? "tmpfs"
        case "none":
            guard flags & LocalMountPlan.bind != 0 else {
                throw VolumeError(.invalidArgument, "volume option type=none needs o=bind (or o=rbind) and device=/host/path")
            }
            guard let path = options["device"], path.hasPrefix("/") else {
                throw VolumeError(.invalidArgument, "volume option type=none needs device=/absolute/host/path")
            }
            device = path
            self.type = ""
        default:
            guard let given = options["device"], !given.isEmpty else {
                throw VolumeError(.invalidArgument, "volume option type=\(type) needs device=… (the block device or source)")
            }
            device = given
        }
    }
}
