import Foundation

/// Runs the `nft` tool: scripts are fed on stdin to `nft -f -`, which applies them as one
/// transaction (all or nothing).
struct NFTables: Sendable {
    /// The `nft` executable.
    var executable: String

    /// Finds `nft` in the usual places.
    static func locate() -> NFTables? {
        for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"] where access("\(dir)/nft", X_OK) == 0 {
            return NFTables(executable: "\(dir)/nft")
        }
        return nil
    }

    /// Applies `script` atomically.
    func apply(_ script: String) throws {
        let (status, output) = try run(["-f", "-"], input: script)
        guard status == 0 else {
            throw NetworkError(.firewall, "nft rejected Kujira's ruleset: \(output.trimmingCharacters(in: .whitespacesAndNewlines))\n--- script ---\n\(script)")
        }
    }

    /// `nft list table inet NAME`, or nil when the table does not exist.
    func listTable(_ name: String) throws -> String? {
        let (status, output) = try run(["list", "table", "inet", name], input: nil)
        return status == 0 ? output : nil
    }

    private func run(_ arguments: [String], input: String?) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        do {
            try process.run()
        } catch {
            throw NetworkError(.firewall, "cannot run \(executable); install nftables", cause: error)
        }
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
