// kujira-registry-bench: pulls an image into a Kujira store, for Benchmarks/registry/pull.sh.
//
//   kujira-registry-bench pull REFERENCE STORE_ROOT [--unpack]
import Foundation
import KujiraImage
import KujiraOCI
import KujiraRegistry

let arguments = CommandLine.arguments
guard arguments.count >= 4, arguments[1] == "pull" else {
    FileHandle.standardError.write(Data("usage: kujira-registry-bench pull REFERENCE STORE_ROOT [--unpack]\n".utf8))
    exit(2)
}
do {
    let store = try ImageStore(root: arguments[3])
    var configuration = RegistryConfiguration()
    configuration.credentials = .anonymous
    let client = RegistryClient(configuration: configuration)
    let record = try await client.pull(try Reference(parsing: arguments[2]), into: store, unpack: arguments.contains("--unpack"))
    print("\(record.name) \(record.target.digest)")
} catch {
    FileHandle.standardError.write(Data("kujira-registry-bench: \(error)\n".utf8))
    exit(1)
}
