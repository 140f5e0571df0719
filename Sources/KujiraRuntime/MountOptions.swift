/// The `MS_*` flags of mount(2) (linux/mount.h), as the kernel ABI defines them.
enum MountFlag {
    static let rdonly: UInt64 = 0x1
    static let nosuid: UInt64 = 0x2
    static let nodev: UInt64 = 0x4
    static let noexec: UInt64 = 0x8
    static let synchronous: UInt64 = 0x10
    static let remount: UInt64 = 0x20
    static let mandlock: UInt64 = 0x40
    static let dirsync: UInt64 = 0x80
    static let noatime: UInt64 = 0x400
    static let nodiratime: UInt64 = 0x800
    static let bind: UInt64 = 0x1000
    static let rec: UInt64 = 0x4000
    static let silent: UInt64 = 0x8000
    static let unbindable: UInt64 = 0x20000
    static let `private`: UInt64 = 0x40000
    static let slave: UInt64 = 0x80000
    static let shared: UInt64 = 0x100000
    static let relatime: UInt64 = 0x200000
    static let iversion: UInt64 = 0x800000
    static let strictatime: UInt64 = 0x1000000
    static let lazytime: UInt64 = 0x2000000
}

/// The `MOUNT_ATTR_*` bits of mount_setattr(2) (linux/mount.h).
enum MountAttr {
    static let rdonly: UInt64 = 0x1
    static let nosuid: UInt64 = 0x2
    static let nodev: UInt64 = 0x4
    static let noexec: UInt64 = 0x8
    static let atimeMask: UInt64 = 0x70
    static let relatime: UInt64 = 0x0
    static let noatime: UInt64 = 0x10
    static let strictatime: UInt64 = 0x20
    static let nodiratime: UInt64 = 0x80
    static let nosymfollow: UInt64 = 0x200000
}

/// A mount's `options` split the way runc splits them: flags to set, flags to clear,
/// propagation changes, and everything else joined as the filesystem's data string.
struct MountOptions: Equatable, Sendable {
    var flags: UInt64 = 0
    var propagation: UInt64 = 0
    var data: [String] = []

    /// Options that set (`true`) or clear (`false`) a flag, as in runc's `mountPropagationMapping`
    /// and `parseMountOptions`.
    static let flagOptions: [String: (Bool, UInt64)] = [
        "async": (false, MountFlag.synchronous), "atime": (false, MountFlag.noatime),
        "bind": (true, MountFlag.bind), "defaults": (true, 0), "dev": (false, MountFlag.nodev),
        "diratime": (false, MountFlag.nodiratime), "dirsync": (true, MountFlag.dirsync),
        "exec": (false, MountFlag.noexec), "iversion": (true, MountFlag.iversion),
        "lazytime": (true, MountFlag.lazytime), "loud": (false, MountFlag.silent),
        "mand": (true, MountFlag.mandlock), "noatime": (true, MountFlag.noatime),
        "nodev": (true, MountFlag.nodev), "nodiratime": (true, MountFlag.nodiratime),
        "noexec": (true, MountFlag.noexec), "noiversion": (false, MountFlag.iversion),
        "nolazytime": (false, MountFlag.lazytime), "nomand": (false, MountFlag.mandlock),
        "norelatime": (false, MountFlag.relatime), "nostrictatime": (false, MountFlag.strictatime),
        "nosuid": (true, MountFlag.nosuid), "rbind": (true, MountFlag.bind | MountFlag.rec),
        "relatime": (true, MountFlag.relatime), "remount": (true, MountFlag.remount),
        "ro": (true, MountFlag.rdonly), "rw": (false, MountFlag.rdonly),
        "silent": (true, MountFlag.silent), "strictatime": (true, MountFlag.strictatime),
        "suid": (false, MountFlag.nosuid), "sync": (true, MountFlag.synchronous),
    ]

    /// Propagation options.
    static let propagationOptions: [String: UInt64] = [
        "private": MountFlag.private, "rprivate": MountFlag.private | MountFlag.rec,
        "shared": MountFlag.shared, "rshared": MountFlag.shared | MountFlag.rec,
        "slave": MountFlag.slave, "rslave": MountFlag.slave | MountFlag.rec,
        "unbindable": MountFlag.unbindable, "runbindable": MountFlag.unbindable | MountFlag.rec,
    ]

    /// Recursive attribute options: (clear, set) `MOUNT_ATTR_*` bits applied with
    /// mount_setattr(AT_RECURSIVE) to the mount and every mount below it, as runc's
    /// `recAttrFlags` (Linux 5.12 or later).
    static let recursiveOptions: [String: (clear: UInt64, set: UInt64)] = [
        "rro": (0, MountAttr.rdonly), "rrw": (MountAttr.rdonly, 0),
        "rnosuid": (0, MountAttr.nosuid), "rsuid": (MountAttr.nosuid, 0),
        "rnodev": (0, MountAttr.nodev), "rdev": (MountAttr.nodev, 0),
        "rnoexec": (0, MountAttr.noexec), "rexec": (MountAttr.noexec, 0),
        "rnodiratime": (0, MountAttr.nodiratime), "rdiratime": (MountAttr.nodiratime, 0),
        "rrelatime": (MountAttr.atimeMask, MountAttr.relatime), "rnorelatime": (MountAttr.atimeMask, MountAttr.strictatime),
        "rnoatime": (MountAttr.atimeMask, MountAttr.noatime), "ratime": (MountAttr.atimeMask, 0),
        "rstrictatime": (MountAttr.atimeMask, MountAttr.strictatime), "rnostrictatime": (MountAttr.atimeMask, 0),
        "rnosymfollow": (0, MountAttr.nosymfollow), "rsymfollow": (MountAttr.nosymfollow, 0),
    ]

    /// `idmap` (`ridmap`: recursive): an id-mapped bind mount (IdmappedMounts.swift).
    enum IDMapOption: Equatable, Sendable { case topOnly, recursive }

    /// The options handled by IdmappedMounts.swift and kujira-init's tmpfs copy-up.
    static let extensionOptions = ["idmap", "ridmap", "tmpcopyup"]

    /// The last of `idmap` or `ridmap`, if any.
    var idmap: IDMapOption?
    /// `tmpcopyup` (a tmpfs gets the content of the directory it covers).
    var tmpCopyUp = false

    /// `MOUNT_ATTR_*` bits to clear recursively.
    var recursiveClear: UInt64 = 0
    /// `MOUNT_ATTR_*` bits to set recursively.
    var recursiveSet: UInt64 = 0

    /// Parses `options` of the mount at `destination`.
    init(_ options: [String], destination: String) throws {
        for option in options {
            if let (set, flag) = Self.flagOptions[option] {
                if set { flags |= flag } else { flags &= ~flag }
            } else if let propagation = Self.propagationOptions[option] {
                self.propagation = propagation
            } else if let (clear, set) = Self.recursiveOptions[option] {
                recursiveClear = (recursiveClear & ~set) | clear
                recursiveSet = (recursiveSet & ~clear) | set
            } else if option == "idmap" || option == "ridmap" {
                idmap = option == "idmap" ? .topOnly : .recursive
            } else if option == "tmpcopyup" {
                tmpCopyUp = true
            } else {
                data.append(option)
            }
        }
    }
}
