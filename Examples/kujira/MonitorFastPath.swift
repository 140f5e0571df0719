import Foundation
import Kujira

/// `kujira __monitor --root R --state S [--attach-fd N] ID`, parsed by hand. The monitor is
/// started for every container, always with exactly these arguments (`Engine.spawnMonitor`),
/// and ArgumentParser's reflection over the whole command tree is a measurable part of a
/// container's start (Docs/performance.md, "Whole containers"). Any other form — an unknown
/// flag, a missing value — returns nil and goes through ArgumentParser, which explains the
/// error.
struct MonitorFastPath: Equatable {
    var root: String
    var state: String
    var attachFD: Int32 = -1
    var id: String

    /// Parses `arguments` (`CommandLine.arguments`, the executable first).
    init?(_ arguments: [String]) {
        guard arguments.count >= 3, arguments[1] == "__monitor" else { return nil }
        var root: String?, state: String?, attachFD: Int32 = -1, id: String?
        var index = 2
        while index < arguments.count {
            let argument = arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : nil
            switch argument {
            case "--root":
                guard let value, root == nil else { return nil }
                root = value
                index += 2
            case "--state":
                guard let value, state == nil else { return nil }
                state = value
                index += 2
            case "--attach-fd":
                guard let value, let fd = Int32(value), fd >= 0 else { return nil }
                attachFD = fd
                index += 2
            default:
                guard !argument.hasPrefix("-"), id == nil else { return nil }
                id = argument
                index += 1
            }
        }
        guard let root, let state, let id else { return nil }
        self.root = root
        self.state = state
        self.attachFD = attachFD
        self.id = id
    }

    /// Runs the monitor as `MonitorCommand` does and returns the exit status.
    func run() -> Int32 {
        do {
            return try Engine(root: root, state: state).runMonitor(id: id, syncFD: 3, attachFD: attachFD)
        } catch let error as EngineError {
            FileHandle.standardError.write(Data("kujira: \(error.description)\n".utf8))
            return error.dockerExitCode
        } catch {
            FileHandle.standardError.write(Data("kujira: \(error)\n".utf8))
            return 125
        }
    }
}
