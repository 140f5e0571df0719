import ArgumentParser
import Foundation
import KujiraRegistry
import Synchronization

/// Options of the commands that talk to registries.
struct RegistryOptions: ParsableArguments {
    @Option(help: "Verify registries' TLS certificates.") var tlsVerify = true
    @Option(help: "A registry (HOST[:PORT]) to reach over plain HTTP or unverified TLS; repeatable.")
    var insecureRegistry: [String] = []

    /// The client configuration these options describe.
    func configuration() -> RegistryConfiguration {
        var configuration = RegistryConfiguration()
        configuration.tlsVerify = tlsVerify
        configuration.insecureHosts = Set(insecureRegistry)
        return configuration
    }
}

/// `kujira login [SERVER] -u USER [-p PASS | --password-stdin]`: checks the credentials
/// against the registry, then stores them in `~/.docker/config.json` (or its helper).
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Log in to a registry.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var registry: RegistryOptions
    @Option(name: .shortAndLong, help: "User name.") var username: String
    @Option(name: .shortAndLong, help: "Password (prefer --password-stdin).") var password: String?
    @Flag(help: "Read the password from standard input.") var passwordStdin = false
    @Argument(help: "The registry (default: docker.io).") var server: String?

    func run() async throws {
        let secret: String
        if passwordStdin {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        } else if let password {
            secret = password
        } else {
            throw CLIError("give a password with --password-stdin or -p")
        }
        let client = RegistryClient(configuration: registry.configuration())
        try await client.login(registry: server ?? "docker.io", username: username, password: secret)
        print("Login Succeeded")
    }
}

/// `kujira logout [SERVER]`.
struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Log out of a registry.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The registry (default: docker.io).") var server: String?

    func run() async throws {
        let registry = server ?? "docker.io"
        try await RegistryClient().logout(registry: registry)
        print("Removing login credentials for \(registry)")
    }
}

/// Draws pull and push progress: one line per blob, redrawn in place on a terminal, and a
/// plain line per state change otherwise (never one per chunk of bytes).
final class ProgressRenderer: Sendable {
    private struct State {
        var order: [String] = []
        var lines: [String: String] = [:]
        var drawn = 0
    }
    private let state = Mutex(State())
    private let enabled: Bool
    private let terminal: Bool

    init(enabled: Bool) {
        self.enabled = enabled
        self.terminal = isatty(STDOUT_FILENO) == 1
    }

    /// Handles a pull event.
    var pull: @Sendable (PullEvent) -> Void {
        { [self] event in
            guard case .blob(let blob, let blobState) = event else { return }
            let text: String
            switch blobState {
            case .waiting: text = "Waiting"
            case .alreadyExists: text = "Already exists"
            case .downloading(let bytes, let total): text = "Downloading " + bar(bytes, total)
            case .retrying(let attempt, let from, let reason): text = "Retrying (attempt \(attempt) from byte \(from)): \(reason)"
            case .verifying: text = "Verifying"
            case .extracting: text = "Extracting"
            case .done: text = "Pull complete"
            }
            update(String(blob.digest.encoded.prefix(12)), text, transient: { if case .downloading = blobState { true } else { false } }())
        }
    }

    /// Handles a push event.
    var push: @Sendable (PushEvent) -> Void {
        { [self] event in
            guard case .blob(let blob, let blobState) = event else { return }
            let text: String
            switch blobState {
            case .waiting: text = "Waiting"
            case .alreadyExists: text = "Layer already exists"
            case .mounted(let from): text = "Mounted from \(from)"
            case .uploading(let bytes, let total): text = "Pushing " + bar(bytes, total)
            case .done: text = "Pushed"
            }
            update(String(blob.digest.encoded.prefix(12)), text, transient: { if case .uploading = blobState { true } else { false } }())
        }
    }

    /// Ends the drawing (nothing to do for plain output).
    func finish() {}

    private func bar(_ bytes: Int64, _ total: Int64) -> String {
        guard total > 0 else { return formatBytes(bytes) }
        let width = 30
        let filled = min(width, Int(Double(bytes) / Double(total) * Double(width)))
        return "[" + String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1)) + "] \(formatBytes(bytes))/\(formatBytes(total))"
    }

    private func update(_ id: String, _ text: String, transient: Bool) {
        guard enabled else { return }
        state.withLock { state in
            let previous = state.lines[id]
            if previous == nil { state.order.append(id) }
            state.lines[id] = text
            if !terminal {
                if !transient && previous != text { print("\(id): \(text)") }
                return
            }
            // Move up over what was drawn and draw every line again.
            var out = state.drawn > 0 ? "\u{1B}[\(state.drawn)A" : ""
            for key in state.order { out += "\u{1B}[2K\(key): \(state.lines[key] ?? "")\n" }
            state.drawn = state.order.count
            FileHandle.standardOutput.write(Data(out.utf8))
        }
    }
}
