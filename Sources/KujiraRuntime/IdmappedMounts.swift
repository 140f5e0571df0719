import KujiraOCI

/// An id-mapped bind mount (runtime-spec 1.2, config.md "Mounts": `uidMappings`,
/// `gidMappings`, and the `idmap`/`ridmap` options), as the plan carries it to kujira-init.
///
/// kujira-init clones the source with `open_tree(OPEN_TREE_CLONE)` in the intermediate, before
/// it joins or creates any namespace, gives the clone `MOUNT_ATTR_IDMAP` with a helper user
/// namespace holding these maps (`containerID hostID size` lines, written as uid_map is for
/// the container: a file owned by `containerID` on the source's filesystem shows as `hostID`
/// through the mount, and a file created by `hostID` lands as `containerID`; with the
/// container's own maps, files owned by 0 on disk belong to the container's root), and
/// attaches it in the container with `move_mount`. To show a host directory owned by 1000 as
/// root's in a container without a user namespace: `{"containerID": 1000, "hostID": 0, "size": 1}`.
///
/// Rules, as runc 1.2 applies them: only bind mounts; maps of the mount's own need both
/// `uidMappings` and `gidMappings`; `idmap`/`ridmap` without maps use the container's
/// `linux.uidMappings`/`gidMappings`; maps without either option mean `idmap`. `ridmap` maps
/// every mount of an `rbind` (each filesystem must support id-mapped mounts), `idmap` only the
/// top one.
struct IDMappedMount: Sendable, Equatable {
    /// A pair of optional map lists (a mount's, or the container's).
    struct Maps: Sendable {
        var uid: [LinuxIDMapping]?
        var gid: [LinuxIDMapping]?
    }

    /// uid_map lines of the helper user namespace.
    var uidMap: String
    /// gid_map lines of the helper user namespace.
    var gidMap: String
    /// `ridmap`: every mount of the cloned tree is id-mapped.
    var recursive: Bool

    /// The kernel's limit on the lines of one uid_map or gid_map.
    static let maxLines = 340

    /// A mount with these maps, as they are.
    init(uidMap: String, gidMap: String, recursive: Bool) {
        self.uidMap = uidMap
        self.gidMap = gidMap
        self.recursive = recursive
    }

    /// Checks `mount` and builds its maps; `flags` are its parsed `MS_*` flags (with
    /// `MS_BIND` for type "bind").
    init(_ mount: Mount, options: MountOptions, flags: UInt64, destination: String, container: Maps?) throws {
        let what = "id-mapped mount \(destination)"
        guard flags & MountFlag.bind != 0 else {
            throw RuntimeError(.invalidConfig, "\(what): only bind mounts can be id-mapped (add \"bind\" or \"rbind\" to its options)")
        }
        let uids: [LinuxIDMapping], gids: [LinuxIDMapping]
        if mount.uidMappings != nil || mount.gidMappings != nil {
            guard let u = mount.uidMappings, !u.isEmpty, let g = mount.gidMappings, !g.isEmpty else {
                throw RuntimeError(.invalidConfig, "\(what): needs both uidMappings and gidMappings (non-empty)")
            }
            uids = u
            gids = g
        } else {
            guard let u = container?.uid, !u.isEmpty, let g = container?.gid, !g.isEmpty else {
                throw RuntimeError(.invalidConfig, "\(what): the idmap option without uidMappings/gidMappings of its own uses the container's linux.uidMappings and linux.gidMappings, and config.json has none")
            }
            uids = u
            gids = g
        }
        uidMap = try Self.lines(uids, what: what + " uidMappings")
        gidMap = try Self.lines(gids, what: what + " gidMappings")
        recursive = options.idmap == .recursive
    }

    /// Checks the maps (non-zero sizes, no overflow, at most 340 lines) and writes them in
    /// uid_map's format.
    static func lines(_ maps: [LinuxIDMapping], what: String) throws -> String {
        guard maps.count <= maxLines else {
            throw RuntimeError(.invalidConfig, "\(what): \(maps.count) entries; the kernel takes at most \(maxLines)")
        }
        for map in maps {
            guard map.size > 0,
                  UInt64(map.containerID) + UInt64(map.size) <= UInt64(UInt32.max),
                  UInt64(map.hostID) + UInt64(map.size) <= UInt64(UInt32.max) else {
                throw RuntimeError(.invalidConfig, "\(what): entry \(map.containerID) \(map.hostID) \(map.size) is out of range")
            }
        }
        return maps.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
    }
}
