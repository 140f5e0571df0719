import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a container's output in Docker's json-file format, one object per line:
/// `{"log":"hi\n","stream":"stdout","time":"2024-01-01T00:00:00.000000000Z"}`. Each line is
/// one `write` to an `O_APPEND` file under the file's lock, so the stdout and stderr pumps
/// never interleave within a line; the file rotates by `max-size`/`max-file`
/// (LogRotation.swift). With the `none` driver the output is read and dropped.
struct JSONLogWriter: Sendable {
    /// The most bytes of a line before it is written as a partial entry (Docker's 16 KiB).
    static let maxLine = 16 * 1024
    /// The file written; nil for the `none` driver.
    let file: RotatingLogFile?

    init(path: String, config: LogConfig = .jsonFile) throws {
        guard config.type != "none" else {
            file = nil
            return
        }
        let limits = try config.limits()
        file = try RotatingLogFile(path: path, maxSize: limits.maxSize, maxFiles: limits.maxFiles)
    }

    /// A running pump: a thread copying `fd` (closed at EOF) into the log.
    struct Pump: Sendable {
        let done: DispatchSemaphore
        func wait() { done.wait() }
    }

    /// Starts a pump of `source` into the log as `stream`; `tee` also gets every chunk read
    /// (the monitor's attached clients).
    func pump(fd source: Int32, stream: String, tee: (@Sendable ([UInt8]) -> Void)? = nil) -> Pump {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 32 * 1024)
            while true {
                let count = read(source, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                tee?(Array(buffer[0..<count]))
                pending += buffer[0..<count]
                while let newline = pending.firstIndex(of: 0x0A) {
                    write(Array(pending[...newline]), stream: stream)
                    pending.removeSubrange(...newline)
                }
                if pending.count >= Self.maxLine {
                    write(pending, stream: stream)
                    pending.removeAll()
                }
            }
            if !pending.isEmpty { write(pending, stream: stream) }
            close(source)
            done.signal()
        }
        thread.start()
        return Pump(done: done)
    }

    func write(_ line: [UInt8], stream: String) {
        guard let file else { return }
        let entry = "{\"log\":\(Self.quote(String(decoding: line, as: UTF8.self))),\"stream\":\"\(stream)\",\"time\":\"\(SystemSupport.timestamp())\"}\n"
        file.append(Array(entry.utf8))
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
