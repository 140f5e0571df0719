import Foundation

/// A Docker credential helper, `docker-credential-NAME`, spoken to as Docker does: the verb
/// (`get`, `store`, `erase`) as the argument, the request on standard input, JSON
/// `{"ServerURL","Username","Secret"}` on standard output.
public struct CredentialHelper: Sendable {
    /// The helper's name (`pass`, `ecr-login`, `desktop`, …).
    public let name: String
    /// The executable run: `docker-credential-NAME`, found on `PATH`.
    public var executable: String { "docker-credential-\(name)" }

    /// The environment the helper runs with (nil: this process's); its `PATH` finds it.
    public var environment: [String: String]?

    /// Creates a helper by name.
    public init(name: String, environment: [String: String]? = nil) {
        self.name = name
        self.environment = environment
    }

    private struct Answer: Codable {
        var ServerURL: String?
        var Username: String?
        var Secret: String?
    }

    /// The credentials stored for `serverURL`, or nil when the helper has none.
    /// - Throws: ``RegistryError`` `.credentials` when the helper is missing or fails.
    public func get(serverURL: String) throws -> Credentials? {
        let (status, output, errorText) = try run(["get"], input: Array(serverURL.utf8))
        guard status == 0 else {
            let text = (String(bytes: output, encoding: .utf8) ?? "") + errorText
            if text.lowercased().contains("credentials not found") { return nil }
            throw RegistryError(.credentials, "credential helper \(executable) failed for \(serverURL): \(text.trimmingWhitespace())")
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(output)) else {
            throw RegistryError(.credentials, "credential helper \(executable) answered something that is not credentials JSON for \(serverURL)")
        }
        let secret = answer.Secret ?? ""
        if answer.Username == "<token>" { return Credentials(username: "", password: "", identityToken: secret) }
        return Credentials(username: answer.Username ?? "", password: secret)
    }

    /// Stores credentials for `serverURL`.
    public func store(_ credentials: Credentials, serverURL: String) throws {
        let answer = Answer(ServerURL: serverURL, Username: credentials.username, Secret: credentials.password)
        let input = try JSONEncoder().encode(answer)
        let (status, output, errorText) = try run(["store"], input: Array(input))
        guard status == 0 else {
            throw RegistryError(.credentials, "credential helper \(executable) could not store credentials for \(serverURL): \(((String(bytes: output, encoding: .utf8) ?? "") + errorText).trimmingWhitespace())")
        }
    }

    /// Removes the credentials for `serverURL`; missing ones are not an error.
    public func erase(serverURL: String) throws {
        let (status, output, errorText) = try run(["erase"], input: Array(serverURL.utf8))
        let text = (String(bytes: output, encoding: .utf8) ?? "") + errorText
        guard status == 0 || text.lowercased().contains("not found") else {
            throw RegistryError(.credentials, "credential helper \(executable) could not erase credentials for \(serverURL): \(text.trimmingWhitespace())")
        }
    }

    private func run(_ arguments: [String], input: [UInt8]) throws -> (Int32, [UInt8], String) {
        // Foundation.Process: KujiraOCI has a `Process` type too (the runtime spec's).
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        if let environment { process.environment = environment }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw RegistryError(.credentials, "cannot run credential helper \(executable): \(error); install it or remove it from config.json", cause: error)
        }
        stdin.fileHandleForWriting.write(Data(input))
        try? stdin.fileHandleForWriting.close()
        let errorData = ErrorCollector()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errorData.set(stderr.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        if process.terminationStatus == 127 {
            throw RegistryError(.credentials, "credential helper \(executable) is not installed (named in config.json); install it or remove it from config.json")
        }
        return (process.terminationStatus, Array(output), String(decoding: errorData.get(), as: UTF8.self))
    }
}

/// Collects a pipe's output on another thread.
private final class ErrorCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.lock(); data = value; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// Looks credentials up the way Docker does: a `credHelpers` entry for the host, else
/// `credsStore`, else `auths`.
struct CredentialResolver: Sendable {
    let source: CredentialSource
    let environment: [String: String]

    var configPath: String? {
        guard case .dockerConfig(let path) = source else { return nil }
        return path ?? DockerConfigFile.defaultPath(environment: environment.isEmpty ? ProcessInfo.processInfo.environment : environment)
    }

    /// Credentials for `registry` (`host[:port]` or `docker.io`), or nil for anonymous access.
    func credentials(for registry: String) throws -> Credentials? {
        switch source {
        case .anonymous:
            return nil
        case .fixed(let table):
            return table[registry] ?? table[DockerConfigFile.normalize(registry)]
        case .dockerConfig:
            guard let configPath else { return nil }
            let file = try DockerConfigFile(path: configPath)
            if let helper = file.helper(for: registry) {
                if let found = try CredentialHelper(name: helper, environment: environment.isEmpty ? nil : environment).get(serverURL: DockerConfigFile.key(for: registry)) { return found }
                if file.credHelpers.isEmpty == false, file.credsStore == nil { return nil }
            }
            guard let entry = file.authEntry(for: registry) else { return nil }
            return try file.credentials(in: entry, registry: registry)
        }
    }

    /// Saves credentials for `registry` (nil: removes them) where Docker would.
    func save(_ credentials: Credentials?, for registry: String) throws {
        guard let configPath else {
            throw RegistryError(.credentials, "this client was configured without a config.json, so it cannot save credentials for \(registry)")
        }
        var file = try DockerConfigFile(path: configPath)
        if let helper = file.helper(for: registry) {
            let tool = CredentialHelper(name: helper, environment: environment.isEmpty ? nil : environment)
            if let credentials {
                try tool.store(credentials, serverURL: DockerConfigFile.key(for: registry))
            } else {
                try tool.erase(serverURL: DockerConfigFile.key(for: registry))
            }
            // Docker leaves an empty auths entry behind for helper-stored credentials; we only
            // remove stale inline ones.
            if file.authEntry(for: registry) != nil { try file.setAuth(nil, for: registry) }
            return
        }
        if credentials == nil, file.authEntry(for: registry) == nil {
            throw RegistryError(.credentials, "not logged in to \(registry) (no entry in \(configPath))")
        }
        try file.setAuth(credentials, for: registry)
    }
}
