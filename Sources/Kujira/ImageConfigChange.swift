// The Dockerfile instructions `docker commit --change` and `docker import --change` accept,
// applied to an image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD is not among
// them (Docker refuses it too), STOPSIGNAL, USER, VOLUME, WORKDIR.
//
//     let config = try ImageConfigChange.apply(["CMD [\"sh\"]", "ENV A=1"], to: base)

public import KujiraOCI
import Foundation

/// Applies `--change` instructions to an image config.
public enum ImageConfigChange {
    /// The instructions accepted.
    public static let instructions = ["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"]

    /// `start` with every change of `changes` applied in order.
    /// - Throws: ``EngineError`` `.invalidArgument` naming the change that is malformed or
    ///   not one of ``instructions``.
    public static func apply(_ changes: [String], to start: ImageConfig) throws -> ImageConfig {
        var config = start
        for change in changes {
            let trimmed = change.trimmingCharacters(in: .whitespaces)
            let parts = trimmed.split(separator: " ", maxSplits: 1)
            guard let keyword = parts.first?.uppercased(), parts.count == 2 else {
                throw EngineError(.invalidArgument, "--change \"\(change)\": expected INSTRUCTION ARGUMENTS, e.g. CMD [\"sh\"]")
            }
            let argument = String(parts[1]).trimmingCharacters(in: .whitespaces)
            switch keyword {
            case "CMD": config.cmd = command(argument)
            case "ENTRYPOINT": config.entrypoint = command(argument)
            case "WORKDIR": config.workingDir = argument
            case "USER": config.user = argument
            case "STOPSIGNAL": config.stopSignal = argument
            case "ENV":
                for (key, value) in try pairs(argument, change: change) {
                    var env = (config.env ?? []).filter { !$0.hasPrefix("\(key)=") }
                    env.append("\(key)=\(value)")
                    config.env = env
                }
            case "LABEL":
                var labels = config.labels ?? [:]
                for (key, value) in try pairs(argument, change: change) { labels[key] = value }
                config.labels = labels
            case "EXPOSE":
                var ports = config.exposedPorts ?? []
                for port in argument.split(separator: " ") {
                    ports.keys.insert(port.contains("/") ? String(port) : "\(port)/tcp")
                }
                config.exposedPorts = ports
            case "VOLUME":
                var volumes = config.volumes ?? []
                let paths = argument.hasPrefix("[") ? command(argument) : argument.split(separator: " ").map(String.init)
                for path in paths { volumes.keys.insert(path) }
                config.volumes = volumes
            default:
                throw EngineError(.invalidArgument, "--change \"\(change)\": \(keyword) is not one of \(instructions.joined(separator: ", "))")
            }
        }
        return config
    }

    /// Exec form (a JSON array of strings) or shell form (`/bin/sh -c …`), as Docker does.
    static func command(_ argument: String) -> [String] {
        if argument.hasPrefix("["),
           let array = try? JSONDecoder().decode([String].self, from: Data(argument.utf8)) {
            return array
        }
        return ["/bin/sh", "-c", argument]
    }

    /// `k=v k2="v 2"` or the legacy `k v` form.
    static func pairs(_ argument: String, change: String) throws -> [(String, String)] {
        guard argument.contains("=") else {
            let parts = argument.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { throw EngineError(.invalidArgument, "--change \"\(change)\": expected KEY=VALUE") }
            return [(String(parts[0]), String(parts[1]))]
        }
        var result: [(String, String)] = []
        var current = "", quote: Character? = nil
        var words: [String] = []
        for ch in argument {
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
            } else if ch == "\"" || ch == "'" {
                quote = ch
            } else if ch == " " {
                if !current.isEmpty { words.append(current); current = "" }
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { words.append(current) }
        for word in words {
            guard let eq = word.firstIndex(of: "="), eq != word.startIndex else {
                throw EngineError(.invalidArgument, "--change \"\(change)\": \"\(word)\" is not KEY=VALUE")
            }
            result.append((String(word[..<eq]), String(word[word.index(after: eq)...])))
        }
        return result
    }
}
