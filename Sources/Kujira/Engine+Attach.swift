// `attach`: connect to a running container's monitor to receive its output and send it stdin
// and terminal sizes; `startAttached` starts a container with a client already attached, so
// no byte of output is missed (what `kujira run` and `start -a` use).
//
//     let connection = try engine.attach("web", streams: .all)
//     while let chunk = connection.readOutput() { … }
//     let code = try engine.wait("web")
//
// A daemon can hand ``AttachConnection/fd`` to its client as is: without a TTY, what it
// reads is Docker's multiplexed stream (8-byte stdcopy headers); with a TTY, raw bytes.

internal import CKujiraRuntime
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A client's connection to a container's monitor (see AttachProtocol.swift).
public final class AttachConnection: Sendable {
    /// The connected socket: output to read; use the methods below to write.
    public let fd: Int32
    /// Whether the container has a TTY: output is raw bytes rather than stdcopy frames.
    public let tty: Bool
    private let open = Mutex(true)

    init(fd: Int32, tty: Bool) {
        self.fd = fd
        self.tty = tty
    }

    deinit { close() }

    private func send(_ type: UInt8, _ payload: [UInt8]) -> Bool {
        open.withLock { open in open && AttachFrame.writeAll(fd, AttachFrame.encode(type, payload)) }
    }

    /// Sends `bytes` to the container's stdin; false once the connection is gone.
    @discardableResult
    public func sendStdin(_ bytes: [UInt8]) -> Bool { send(AttachFrame.stdin, bytes) }

    /// Says that this client's stdin has ended (with `StdinOnce`, the container's stdin closes).
    @discardableResult
    public func closeStdin() -> Bool { send(AttachFrame.stdinEnd, []) }

    /// Sets the size of the container's terminal (ignored without a TTY).
    @discardableResult
    public func resize(_ size: TerminalSize) -> Bool { send(AttachFrame.resize, AttachFrame.sizePayload(size)) }

    /// The next piece of output: the stream (1 stdout, 2 stderr; always 1 with a TTY) and
    /// its bytes; nil once the container's process has exited (or the connection ended).
    public func readOutput() -> (stream: UInt8, bytes: [UInt8])? {
        if tty {
            var buffer = [UInt8](repeating: 0, count: 32 * 1024)
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return nil }
                return (AttachFrame.stdout, Array(buffer[0..<count]))
            }
        }
        while let frame = AttachFrame.read(fd) {
            if frame.payload.isEmpty { continue }
            return (frame.type, frame.payload)
        }
        return nil
    }

    /// Ends the connection for reading and writing; a blocked ``readOutput()`` returns nil.
    /// Detaching this way leaves the container running.
    public func detach() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Closes the connection (once).
    public func close() {
        open.withLock { open in
            guard open else { return }
            open = false
            Glibc.close(fd)
        }
    }
}

extension Engine {
    /// The per-container directory in the state root: the attach socket, exec records.
    func attachDirectory(_ id: String) -> String { "\(state)/containers/\(id)" }

    /// Attaches to running container `nameOrID`. `.stdin` is dropped unless the container
    /// keeps stdin open (`-i`); `size` sets its terminal's size (with `-t`).
    /// - Throws: ``EngineError`` `.invalidState` for a container that is not running.
    public func attach(_ nameOrID: String, streams: AttachStreams, size: TerminalSize? = nil) throws -> AttachConnection {
        let record = try container(nameOrID)
        guard record.state.status == .running || record.state.status == .paused else {
            throw EngineError(.invalidState, "container \(record.name) is not running: start it first (kujira start -a \(record.name))")
        }
        let fd = AttachFrame.withSocketPath(directory: attachDirectory(record.id), name: "attach") { kujira_unix_connect($0) }
        guard fd >= 0 else { throw EngineError.posix("connecting to the monitor of container \(record.name)", errno: errno) }
        let connection = AttachConnection(fd: fd, tty: record.config.tty)
        guard connection.sendHello(Self.effective(streams, record), size) else {
            throw EngineError(.io, "the monitor of container \(record.name) closed the attach connection")
        }
        return connection
    }

    /// Starts container `nameOrID` (as ``start(_:attachedClient:)``) with a client attached
    /// before its process runs, and returns the record and that client's connection. A
    /// container that already runs is attached to.
    public func startAttached(_ nameOrID: String, streams: AttachStreams, size: TerminalSize? = nil,
                              attachedClient: Int32 = 0) throws -> (ContainerRecord, AttachConnection) {
        let record = try container(nameOrID)
        if record.state.isActive { return (record, try attach(record.id, streams: streams, size: size)) }
        var sockets: [Int32] = [-1, -1]
        guard kujira_socketpair(Int32(SOCK_STREAM.rawValue), &sockets) == 0 else { throw EngineError.posix("socketpair", errno: errno) }
        let connection = AttachConnection(fd: sockets[0], tty: record.config.tty)
        defer { Glibc.close(sockets[1]) }
        _ = connection.sendHello(Self.effective(streams, record), size)
        let started = try start(record.id, attachedClient: attachedClient, attachFD: sockets[1])
        return (started, connection)
    }

    /// Sets the terminal size of running container `nameOrID` (Docker's `resize`).
    public func resize(_ nameOrID: String, size: TerminalSize) throws {
        let connection = try attach(nameOrID, streams: [], size: size)
        connection.close()
    }

    private static func effective(_ streams: AttachStreams, _ record: ContainerRecord) -> AttachStreams {
        record.config.openStdin ? streams : streams.subtracting(.stdin)
    }
}

extension AttachConnection {
    func sendHello(_ streams: AttachStreams, _ size: TerminalSize?) -> Bool {
        let sizeBytes = size.map(AttachFrame.sizePayload) ?? [0, 0, 0, 0]
        return open.withLock { open in
            open && AttachFrame.writeAll(fd, AttachFrame.encode(AttachFrame.hello, [streams.rawValue] + sizeBytes))
        }
    }
}
