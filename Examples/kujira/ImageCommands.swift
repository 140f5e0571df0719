import ArgumentParser
import Foundation
import KujiraImage
import KujiraOCI

/// Opens the image store at the global `--root`.
func openStore(_ globals: GlobalOptions) throws -> ImageStore {
    try ImageStore(root: globals.root)
}

/// The store name for a user-given image reference: `busybox` → `docker.io/library/busybox:latest`.
func normalizedName(_ text: String) throws -> String {
    try Reference(parsing: text).description
}

/// `kujira images`: lists images as a table or JSON.
struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List images.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Output format: table or json.") var format: OutputFormat = .table
    @Flag(name: .shortAndLong, help: "Only show image IDs.") var quiet = false

    func run() throws {
        let store = try openStore(globals)
        let summaries = try store.list().map { try ImageSummary(record: $0, store: store) }
        if quiet {
            var seen = Set<String>()
            for summary in summaries where seen.insert(summary.shortID).inserted { print(summary.shortID) }
            return
        }
        switch format {
        case .json:
            try printJSON(summaries)
        case .table:
            var rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]]
            for s in summaries {
                rows.append([s.repository, s.tag, s.shortID, s.createdDescription, formatBytes(s.size)])
            }
            printTable(rows)
        }
    }
}

/// `kujira image …`: the image management group, as in `docker image`.
struct ImageGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Manage images.",
        subcommands: [ImageList.self, ImageInspect.self, Tag.self, ImageRemove.self, Pull.self, Push.self,
                      Save.self, Load.self, Import.self, ImagePrune.self, ImageUnpack.self,
                      ImageMount.self, ImageUnmount.self])
    @OptionGroup var globals: GlobalOptions
}

/// `kujira image ls`.
struct ImageList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.", aliases: ["list"])
    @OptionGroup var images: Images
    func run() throws { try images.run() }
}

/// `kujira image inspect IMAGE…`: prints a JSON array, like `docker image inspect`.
struct ImageInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show details of images as JSON.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "Image names, IDs or digests.") var images: [String]

    func run() throws {
        let store = try openStore(globals)
        let all = try store.list()
        var out: [ImageInspection] = []
        for text in images {
            let record = try lookupImage(text, in: store)
            out.append(try ImageInspection(record: record, allRecords: all, store: store))
        }
        try printJSON(out)
    }
}

/// Finds an image by name (normalised), ID, digest or ID prefix.
func lookupImage(_ text: String, in store: ImageStore) throws -> ImageRecord {
    if let name = try? normalizedName(text), let record = try store.get(name) { return record }
    do {
        return try store.lookup(text)
    } catch let error as ImageStoreError where error.code == .imageNotFound {
        throw CLIError("no such image: \(text) (see `kujira images`)")
    }
}

/// `kujira tag SOURCE TARGET`.
struct Tag: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Give an image another name.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The existing image.") var source: String
    @Argument(help: "The new name.") var target: String

    func run() throws {
        let store = try openStore(globals)
        let record = try lookupImage(source, in: store)
        let name = try normalizedName(target)
        try store.put(name: name, target: record.target, labels: record.labels)
        imageEvent(globals, "tag", name: name, id: record.id.description)
    }
}

/// `kujira rmi IMAGE…`: removes names; removing by ID removes every name of that image
/// (with `--force` when there are several, as docker does), then collects unreferenced blobs.
struct Rmi: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove images.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Remove every name of an image given by ID.") var force = false
    @Argument(help: "Image names or IDs.") var images: [String]

    func run() throws {
        let store = try openStore(globals)
        for text in images {
            if let name = try? normalizedName(text), try store.get(name) != nil {
                try store.remove(name)
                print("Untagged: \(displayName(name))")
                imageEvent(globals, "untag", name: name, id: name)
                continue
            }
            let record = try lookupImage(text, in: store)
            let names = try store.list().filter { $0.id == record.id }.map(\.name)
            if names.count > 1 && !force {
                throw CLIError("image \(text) has \(names.count) names (\(names.map(displayName).joined(separator: ", "))): remove them by name, or use --force")
            }
            for name in names {
                try store.remove(name)
                print("Untagged: \(displayName(name))")
                imageEvent(globals, "untag", name: name, id: record.id.description)
            }
            imageEvent(globals, "delete", name: record.name, id: record.id.description)
        }
        let report = try store.garbageCollect()
        for digest in report.removed { print("Deleted: \(digest)") }
        try store.pruneSnapshots()
    }
}

/// `kujira image rm` (and `image rmi`): the same as `kujira rmi`.
struct ImageRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove images.", aliases: ["rmi"])
    @OptionGroup var rmi: Rmi
    func run() throws { try rmi.run() }
}

/// `kujira image prune`: removes blobs no image refers to.
struct ImagePrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove blobs and snapshots no image refers to.")
    @OptionGroup var globals: GlobalOptions

    func run() throws {
        let store = try openStore(globals)
        let report = try store.garbageCollect()
        for digest in report.removed { print("Deleted: \(digest)") }
        for chain in try store.pruneSnapshots() { print("Deleted snapshot: \(chain)") }
        print("Total reclaimed space: \(formatBytes(report.bytesFreed))")
    }
}

/// `kujira image unpack IMAGE DIR`: an OCI runtime bundle, as `umoci unpack` writes it.
struct ImageUnpack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpack", abstract: "Write an OCI runtime bundle (rootfs/ and config.json) for an image.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The image.") var image: String
    @Argument(help: "The bundle directory (new or empty).") var directory: String

    func run() throws {
        let store = try openStore(globals)
        let record = try lookupImage(image, in: store)
        try store.unpackBundle(record.name, to: directory)
    }
}

/// `kujira image mount IMAGE DIR`: the image's root filesystem for inspection.
struct ImageMount: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount", abstract: "Mount an image's root filesystem (read-only unless --writable).")
    @OptionGroup var globals: GlobalOptions
    @Flag(help: "Mount with a throwaway upper layer that umount discards.") var writable = false
    @Argument(help: "The image.") var image: String
    @Argument(help: "The mount point (created if missing).") var directory: String

    func run() throws {
        let store = try openStore(globals)
        let record = try lookupImage(image, in: store)
        let mount = try store.mount(record.name, at: directory, readOnly: !writable)
        print(mount.target)
    }
}

/// `kujira image umount DIR`.
struct ImageUnmount: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "umount", abstract: "Unmount what `image mount` mounted.", aliases: ["unmount"])
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The mount point.") var directory: String

    func run() throws {
        try openStore(globals).unmount(directory)
    }
}
