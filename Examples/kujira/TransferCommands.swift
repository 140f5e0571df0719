import ArgumentParser
import Foundation
import KujiraImage
import KujiraOCI
import KujiraRegistry

/// `kujira pull SOURCE [NAME]`: copies an image into the store.
struct Pull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy an image into the store from a registry (REF or docker://REF), oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF].")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var registry: RegistryOptions
    @Option(help: "The platform to pull from a multi-platform image, e.g. linux/arm64/v8 (default: this host's).")
    var platform: String?
    @Flag(help: "Pull every platform of a multi-platform image.") var allPlatforms = false
    @Option(help: "Unpack the layers into snapshots, ready for containers.") var unpack = true
    @Flag(name: .shortAndLong, help: "Print only the image name.") var quiet = false
    @Argument(help: "Where the image comes from.") var source: String
    @Argument(help: "The name to give it (default: from the source).") var name: String?

    func run() async throws {
        if case .registry(let reference) = try ImageLocation(parsing: source) {
            let store = try openStore(globals)
            let renderer = ProgressRenderer(enabled: !quiet)
            let client = RegistryClient(configuration: registry.configuration())
            let record = try await client.pull(
                reference, into: store, platform: try platform.map { try Platform(parsing: $0) },
                allPlatforms: allPlatforms, unpack: unpack, progress: renderer.pull)
            renderer.finish()
            imageEvent(globals, "pull", name: record.name, id: record.id.description)
            if let name {
                let target = try normalizedName(name)
                try store.withWriteLease { _ = try store.put(name: target, target: record.target, labels: record.labels) }
            }
            if quiet {
                print(displayName(record.name))
            } else {
                print("Digest: \(record.target.digest)")
                print("Status: Downloaded image for \(displayName(record.name))")
            }
            return
        }
        try copyIn()
    }

    /// The local transports.
    private func copyIn() throws {
        let location = try ImageLocation(parsing: source)
        let store = try openStore(globals)
        let given = try name.map(normalizedName)
        let records: [ImageRecord]
        switch location {
        case .ociLayout(let directory, let tag):
            let layout = try OCILayout.read(directory: directory)
            let chosen = try layout.resolve(tag: tag)
            let target = try given ?? defaultName(for: chosen, tag: tag, path: directory)
            records = [try store.importImage(from: layout, tag: tag, name: target)]
        case .ociArchive(let file, let tag):
            records = [try store.importOCIArchive(file: file, tag: tag, name: given)]
        case .dockerArchive(let file, let reference):
            let wanted = try reference.map(normalizedName)
            records = try store.loadDockerArchive(file: file, only: wanted, name: given)
        case .registry:
            return
        }
        for record in records {
            print("Loaded image: \(displayName(record.name)) (\(record.target.digest))")
            imageEvent(globals, "load", name: record.name, id: record.id.description)
        }
    }
}

/// The name of an image read from an OCI layout without one given: the ref-name annotation
/// when it is a whole reference (`io.containerd.image.name` first, as containerd writes),
/// else `localhost/<directory name>:<tag>` like podman.
func defaultName(for descriptor: Descriptor, tag: String?, path: String) throws -> String {
    for key in ["io.containerd.image.name", Descriptor.refNameAnnotation] {
        if let value = descriptor.annotations?[key], value.contains("/") || value.contains("."),
           let reference = try? Reference(parsing: value) {
            return reference.description
        }
    }
    let base = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent.lowercased()
    let repository = base.filter { $0.isLetter || $0.isNumber || "._-".contains($0) }
    let name = "localhost/\(repository.isEmpty ? "image" : repository):\(tag ?? descriptor.annotations?[Descriptor.refNameAnnotation] ?? "latest")"
    do {
        return try normalizedName(name)
    } catch {
        throw CLIError("cannot derive an image name from \(path): give one, e.g. `kujira pull oci:\(path) myimage:1`")
    }
}

/// `kujira push IMAGE [DEST]`: copies an image out of the store; without DEST, to the
/// registry its name points at (`kujira push localhost:5000/me/app:1`).
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy an image to a registry (REF or docker://REF), oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF].")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var registry: RegistryOptions
    @Flag(name: .shortAndLong, help: "Print only the digest.") var quiet = false
    @Argument(help: "The image to copy.") var image: String
    @Argument(help: "Where to copy it (default: the registry of the image's name).") var destination: String?

    func run() async throws {
        let store = try openStore(globals)
        let record = try lookupImage(image, in: store)
        let defaultTag = (try? Reference(parsing: record.name))?.tag ?? "latest"
        let location = try ImageLocation(parsing: destination ?? record.name)
        if case .registry(let reference) = location {
            let renderer = ProgressRenderer(enabled: !quiet)
            let client = RegistryClient(configuration: registry.configuration())
            let pushed = try await client.push(record.name, from: store, to: reference, progress: renderer.push)
            renderer.finish()
            print(quiet ? pushed.digest.description : "\(reference.tag ?? "latest"): digest: \(pushed.digest) size: \(pushed.size)")
            return
        }
        switch location {
        case .registry:
            return
        case .ociLayout(let directory, let tag):
            try store.exportImage(record.name, to: directory, tag: tag ?? defaultTag)
        case .ociArchive(let file, let tag):
            try store.exportOCIArchive(record.name, to: file, tag: tag ?? defaultTag)
        case .dockerArchive(let file, let reference):
            let name = try reference.map(normalizedName) ?? record.name
            try store.saveDockerArchive([(record.name, name)], to: file)
        }
    }
}

/// `kujira save -o FILE IMAGE…`: a `docker save` tarball (or an OCI archive).
struct Save: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write images to a tar archive (docker save format).")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "The file to write.") var output: String
    @Option(help: "Archive format: docker-archive or oci-archive.") var format: ArchiveFormat = .dockerArchive
    @Argument(help: "The images to save.") var images: [String]

    func run() throws {
        let store = try openStore(globals)
        let records = try images.map { try lookupImage($0, in: store) }
        switch format {
        case .dockerArchive:
            try store.saveDockerArchive(records.map { ($0.name, $0.name) }, to: output)
        case .ociArchive:
            guard records.count == 1, let record = records.first else {
                throw CLIError("--format oci-archive saves one image at a time")
            }
            let tag = (try? Reference(parsing: record.name))?.tag ?? "latest"
            try store.exportOCIArchive(record.name, to: output, tag: tag)
        }
        for record in records { imageEvent(globals, "save", name: record.name, id: record.id.description) }
    }
}

/// Archive formats of `kujira save`.
enum ArchiveFormat: String, ExpressibleByArgument, CaseIterable {
    case dockerArchive = "docker-archive"
    case ociArchive = "oci-archive"
}

/// `kujira load -i FILE`: reads a docker-archive or oci-archive tarball.
struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load images from a tar archive (docker-archive or oci-archive).")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "The archive to read.") var input: String

    func run() throws {
        let store = try openStore(globals)
        for record in try store.loadArchive(file: input) {
            print("Loaded image: \(displayName(record.name))")
            imageEvent(globals, "load", name: record.name, id: record.id.description)
        }
    }
}

/// `kujira import ROOTFS REF`: a one-layer image from a directory or a tarball.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a one-layer image from a directory or a tarball.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE).")
    var change: [String] = []
    @Argument(help: "A directory or a tar file (optionally gzip or zstd compressed).") var source: String
    @Argument(help: "The image name.") var name: String

    func run() throws {
        let store = try openStore(globals)
        let config = try ImportChange.apply(change, to: ImageConfig())
        let record = try store.importRootfs(from: source, name: try normalizedName(name), config: config)
        print(record.id)
        imageEvent(globals, "import", name: record.name, id: record.id.description)
    }
}
