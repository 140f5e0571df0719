import Foundation
import Glibc
import KujiraOCI
@testable import KujiraImage

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "kujira-image") throws {
        var template = Array("\(NSTemporaryDirectory())/\(label)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ImageStoreError(.io, "mkdtemp failed")
        }
        path = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Flips one bit of the byte at `offset` in the file at `path`, in place.
func flipByte(at path: String, offset: Int = 0) throws {
    chmod(path, 0o644)
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    guard var byte = try handle.read(upToCount: 1)?.first else { throw ImageStoreError(.io, "empty file \(path)") }
    byte ^= 0x01
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: [byte])
}

/// The result of running a tool.
struct ToolResult {
    let status: Int32
    let output: String
}

/// Runs `executable` with `arguments`, capturing stdout and stderr together.
@discardableResult
func runTool(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ToolResult {
    let process = Foundation.Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

/// The full path of `tool` on PATH, or nil.
func which(_ tool: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") where access("\(dir)/\(tool)", X_OK) == 0 {
        return "\(dir)/\(tool)"
    }
    return nil
}

/// Whether missing tools must fail tests instead of skipping them (CI).
var requirePrivileged: Bool { ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1" }

/// A small image written straight into a content store: config, two layers, manifest.
struct SyntheticImage {
    let config: Descriptor
    let layers: [Descriptor]
    let manifest: Descriptor

    init(in content: ContentStore, seed: String) throws {
        let configJSON = #"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Env":["SEED=\#(seed)"]}}"#
        config = try content.write(Array(configJSON.utf8), mediaType: MediaType.imageConfig)
        layers = try (0..<2).map { i in
            try content.write(Array("layer \(i) of \(seed)".utf8), mediaType: MediaType.layer)
        }
        let manifestValue = Manifest(config: config, layers: layers)
        let json = try ImageStore.encode(manifestValue)
        manifest = try content.write(Array(json.utf8), mediaType: MediaType.imageManifest)
    }

    var all: [Digest] { [config.digest, manifest.digest] + layers.map(\.digest) }
}
