import Foundation
import KujiraBuild
import Synchronization

/// `kujira build --progress=tty`: BuildKit's terminal display, compactly. Each finished step
/// stays as one line (`=> [2/4] RUN make  1.3s`, `=> CACHED [3/4] COPY …`); the steps still
/// running are redrawn below them with their time and last line of output. Stages that build
/// in parallel share the display. Plain progress (`#3 [2/4] RUN …` lines) is ``Build/print(_:)``.
final class TTYBuildProgress: Sendable {
    private struct Step {
        var label: String
        var started: Date
        var lastLine = ""
        var cached = false
    }
    private struct State {
        var active: [Int: Step] = [:]
        var drawn = 0
    }
    private let state = Mutex(State())
    private let start = Date()

    /// Handles one event (from any thread).
    func handle(_ event: BuildEvent) {
        state.withLock { state in
            var out = clear(&state)
            switch event {
            case .step(let number, let position, let text):
                state.active[number] = Step(label: "\(position) \(text)", started: Date())
            case .cached(let number):
                state.active[number]?.cached = true
            case .running:
                break
            case .output(let number, let line):
                state.active[number]?.lastLine = line
            case .done(let number):
                if let step = state.active.removeValue(forKey: number) {
                    out += step.cached ? "=> CACHED \(step.label)\n"
                        : "=> \(step.label)  \(Self.seconds(Date().timeIntervalSince(step.started)))\n"
                }
            case .warning(let text):
                out += "WARNING: \(text)\n"
            }
            out += draw(&state)
            FileHandle.standardError.write(Data(out.utf8))
        }
    }

    /// Clears the running steps' lines; the display ends with the finished steps.
    func finish() {
        state.withLock { state in
            let out = clear(&state) + "[+] Building \(Self.seconds(Date().timeIntervalSince(start))) FINISHED\n"
            FileHandle.standardError.write(Data(out.utf8))
        }
    }

    private func clear(_ state: inout State) -> String {
        defer { state.drawn = 0 }
        return String(repeating: "\u{1B}[1A\u{1B}[2K", count: state.drawn) + "\r"
    }

    private func draw(_ state: inout State) -> String {
        let columns = max(Int(Self.terminalColumns()) - 1, 20)
        var lines: [String] = []
        for number in state.active.keys.sorted() {
            guard let step = state.active[number] else { continue }
            let time = Self.seconds(Date().timeIntervalSince(step.started))
            lines.append(String("=> \(step.label)  \(time)".prefix(columns)))
            if !step.lastLine.isEmpty { lines.append(String("   \(step.lastLine)".prefix(columns))) }
        }
        state.drawn = lines.count
        return lines.map { $0 + "\n" }.joined()
    }

    static func seconds(_ interval: TimeInterval) -> String {
        String(Int(interval)) + "." + String(Int(interval * 10) % 10) + "s"
    }

    static func terminalColumns() -> UInt16 {
        var size = winsize()
        return ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? size.ws_col : 80
    }
}
