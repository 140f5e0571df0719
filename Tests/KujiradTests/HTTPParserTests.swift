import Foundation
import Testing
@testable import KujiraDaemon

/// Bytes in memory as a ``ByteInput``, handed out in pieces of `step` bytes to exercise
/// reads that split lines and chunks.
final class MemoryInput: ByteInput {
    var bytes: [UInt8]
    let step: Int
    init(_ text: String, step: Int = 7) {
        bytes = Array(text.utf8)
        self.step = step
    }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(step, buffer.count, bytes.count)
        for i in 0..<count { buffer[i] = bytes[i] }
        bytes.removeFirst(count)
        return count
    }
}

/// A ``ByteOutput`` collecting what is written.
final class MemoryOutput: ByteOutput {
    var bytes: [UInt8] = []
    func write(_ buffer: UnsafeRawBufferPointer) throws { bytes += buffer }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

@Suite("kujirad HTTP parser")
struct HTTPParserTests {
    func head(_ text: String, step: Int = 7) throws -> (RequestHead?, BufferedInput) {
        let input = BufferedInput(MemoryInput(text, step: step))
        return (try RequestParser.readHead(from: input), input)
    }

    @Test func parsesRequestLineAndHeaders() throws {
        let (parsed, _) = try head("GET /v1.45/containers/json?all=1&filters=%7B%7D HTTP/1.1\r\nHost: docker\r\nX-Two:  a b \r\n\r\n")
        let request = try #require(parsed)
        #expect(request.method == "GET")
        #expect(request.target == "/v1.45/containers/json?all=1&filters=%7B%7D")
        #expect(request.headers["host"] == "docker")
        #expect(request.headers["X-Two"] == "a b")
        #expect(request.keepAlive)
    }

    @Test func decodesPathAndQuery() throws {
        let (parsed, input) = try head("GET /images/localhost%3A5000%2Fa/json?t=a+b&t=c%2Fd&flag HTTP/1.1\r\n\r\n")
        let request = HTTPRequest(head: try #require(parsed), body: try RequestBody(head: try #require(parsed), input: input),
                                  connection: FileOutput(fd: -1, closeOnDeinit: false), input: input)
        #expect(request.path == "/images/localhost:5000/a/json")
        #expect(request.query.map(\.name) == ["t", "t", "flag"])
        #expect(request.query.map(\.value) == ["a b", "c/d", ""])
    }

    @Test func keepAliveServesSeveralRequestsOnOneConnection() throws {
        let input = BufferedInput(MemoryInput("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.0\r\n\r\n", step: 3))
        let first = try #require(try RequestParser.readHead(from: input))
        let body = try RequestBody(head: first, input: input)
        #expect(try body.readAll() == Array("hello".utf8))
        let second = try #require(try RequestParser.readHead(from: input))
        #expect(second.target == "/b")
        #expect(second.keepAlive)
        let third = try #require(try RequestParser.readHead(from: input))
        #expect(third.target == "/c")
        #expect(!third.keepAlive, "HTTP/1.0 closes unless asked to keep alive")
        #expect(try RequestParser.readHead(from: input) == nil)
    }

    @Test func unreadBodyIsDrainedBeforeTheNextRequest() throws {
        let input = BufferedInput(MemoryInput("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /b HTTP/1.1\r\n\r\n"))
        let first = try #require(try RequestParser.readHead(from: input))
        try RequestBody(head: first, input: input).drain()
        #expect(try RequestParser.readHead(from: input)?.target == "/b")
    }

    @Test func chunkedBodies() throws {
        let text = "POST /build HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nGET /next HTTP/1.1\r\n\r\n"
        for step in [1, 2, 5, 64] {
            let input = BufferedInput(MemoryInput(text, step: step))
            let first = try #require(try RequestParser.readHead(from: input))
            let body = try RequestBody(head: first, input: input)
            #expect(body.isPresent)
            #expect(String(decoding: try body.readAll(), as: UTF8.self) == "Wikipedia in\r\n\r\nchunks.")
            #expect(try RequestParser.readHead(from: input)?.target == "/next")
        }
    }

    @Test(arguments: [
        "GARBAGE\r\n\r\n",
        "GET /x\r\n\r\n",
        "GET x HTTP/1.1\r\n\r\n",
        "GET /x HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET /x HTTP/1.1\r\n: empty name\r\n\r\n",
        "G(T /x HTTP/1.1\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\n",
    ])
    func malformedHeadsAre400(_ text: String) throws {
        #expect(throws: HTTPError.self) { _ = try head(text) }
        do {
            _ = try head(text)
        } catch let error as HTTPError {
            #expect(error.status == 400, "\(text.debugDescription): \(error)")
        }
    }

    @Test func unsupportedVersionIs505() throws {
        do {
            _ = try head("GET / HTTP/2.0\r\n\r\n")
            Issue.record("HTTP/2.0 was accepted")
        } catch let error as HTTPError {
            #expect(error.status == 505)
        }
    }

    @Test func oversizedHeadersAre431() throws {
        let big = "GET / HTTP/1.1\r\n" + (0..<2000).map { "X-Header-\($0): \(String(repeating: "v", count: 40))\r\n" }.joined() + "\r\n"
        do {
            _ = try head(big, step: 4096)
            Issue.record("an oversized head was accepted")
        } catch let error as HTTPError {
            #expect(error.status == 431)
        }
        let longLine = "GET /" + String(repeating: "a", count: 70_000) + " HTTP/1.1\r\n\r\n"
        do {
            _ = try head(longLine, step: 4096)
            Issue.record("an oversized request line was accepted")
        } catch let error as HTTPError {
            #expect(error.status == 431)
        }
    }

    @Test(arguments: [
        ("Content-Length: abc\r\n", 400),
        ("Content-Length: -1\r\n", 400),
        ("Content-Length: 1\r\nContent-Length: 2\r\n", 400),
        ("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", 400),
        ("Transfer-Encoding: gzip\r\n", 501),
    ])
    func badBodyFramingIsRefused(_ header: String, _ status: Int) throws {
        let input = BufferedInput(MemoryInput("POST /x HTTP/1.1\r\n\(header)\r\n"))
        let parsed = try #require(try RequestParser.readHead(from: input))
        do {
            _ = try RequestBody(head: parsed, input: input)
            Issue.record("\(header.debugDescription) was accepted")
        } catch let error as HTTPError {
            #expect(error.status == status)
        }
    }

    @Test(arguments: ["zz\r\nab\r\n0\r\n\r\n", "3\r\nabcX\r\n0\r\n\r\n", "5\r\nab"])
    func badChunksAre400(_ chunks: String) throws {
        let input = BufferedInput(MemoryInput("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks))
        let body = try RequestBody(head: try #require(try RequestParser.readHead(from: input)), input: input)
        do {
            _ = try body.readAll()
            Issue.record("\(chunks.debugDescription) was accepted")
        } catch let error as HTTPError {
            #expect(error.status == 400)
        }
    }

    @Test func serverAnswersBadRequestsWithJSONAndCloses() throws {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]) }
        let request = "GET /x HTTP/1.1\r\nBroken header\r\n\r\n"
        _ = request.withCString { write(fds[0], $0, strlen($0)) }
        shutdown(fds[0], Int32(SHUT_WR))
        HTTPServer.serve(connection: FileOutput(fd: fds[1], closeOnDeinit: true)) { _, writer in
            try? writer.send(status: 200)
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fds[0], &buffer, buffer.count)
            if count <= 0 { break }
            answer += buffer[0..<count]
        }
        let text = String(decoding: answer, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 400 "))
        #expect(text.contains("Connection: close"))
        #expect(text.contains("{\"message\":\"malformed header field"))
    }
}

@Suite("kujirad responses and routes")
struct ResponseTests {
    @Test func chunkedStreamAndFrames() throws {
        let output = MemoryOutput()
        let writer = ResponseWriter(output: output, keepAlive: true, isHead: false)
        try writer.beginStream(contentType: "application/json")
        try writer.write(StreamFrame.encode(stream: 2, Array("hi\n".utf8)))
        try writer.finish()
        let text = output.text
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(text.contains("Transfer-Encoding: chunked\r\n"))
        let expected: [UInt8] = Array("b\r\n".utf8) + [2, 0, 0, 0, 0, 0, 0, 3] + Array("hi\n\r\n0\r\n\r\n".utf8)
        #expect(Array(output.bytes.suffix(expected.count)) == expected)
    }

    @Test func headResponsesHaveNoBody() throws {
        let output = MemoryOutput()
        let writer = ResponseWriter(output: output, keepAlive: true, isHead: true)
        try writer.send(status: 200, contentType: "text/plain", body: Array("OK".utf8))
        #expect(output.text.hasSuffix("Content-Length: 2\r\n\r\n"))
    }

    @Test func routesMatchVersionsAndNamesWithSlashes() throws {
        let router = Router()
        nonisolated(unsafe) var seen: [String] = []
        router.add("GET", "/images/json") { _, writer in seen.append("list"); try writer.send(status: 200) }
        router.add("GET", "/images/{name*}/json") { request, writer in
            seen.append("inspect \(request.parameter("name")) \(request.apiVersion)")
            try writer.send(status: 200)
        }
        router.add("DELETE", "/images/{name*}") { request, writer in seen.append("delete \(request.parameter("name"))"); try writer.send(status: 200) }
        func call(_ method: String, _ target: String) throws -> String {
            let input = BufferedInput(MemoryInput("\(method) \(target) HTTP/1.1\r\n\r\n"))
            let head = try #require(try RequestParser.readHead(from: input))
            let output = MemoryOutput()
            router.handle(HTTPRequest(head: head, body: try RequestBody(head: head, input: input),
                                      connection: FileOutput(fd: -1, closeOnDeinit: false), input: input),
                          ResponseWriter(output: output, keepAlive: true, isHead: method == "HEAD"))
            return output.text
        }
        #expect(try call("GET", "/v1.45/images/json").hasPrefix("HTTP/1.1 200"))
        #expect(try call("GET", "/v1.41/images/localhost:5000/a/b:1/json").hasPrefix("HTTP/1.1 200"))
        #expect(try call("DELETE", "/images/busybox:latest").hasPrefix("HTTP/1.1 200"))
        #expect(seen == ["list", "inspect localhost:5000/a/b:1 1.41", "delete busybox:latest"])
        let tooNew = try call("GET", "/v1.99/images/json")
        #expect(tooNew.hasPrefix("HTTP/1.1 400"))
        #expect(tooNew.contains("client version 1.99 is too new. Maximum supported API version is 1.45"))
        #expect(try call("GET", "/v1.12/images/json").hasPrefix("HTTP/1.1 400"))
        #expect(try call("GET", "/nothing/here").hasPrefix("HTTP/1.1 404"))
        #expect(try call("POST", "/images/json").hasPrefix("HTTP/1.1 405"))
    }

    @Test func createRefusesUnsupportedFieldsAndMapsTheRest() throws {
        let body: [String: Any] = [
            "Image": "busybox", "Cmd": ["echo", "hi"], "Env": ["A=1"], "Tty": false, "Labels": ["k": "v"],
            "HostConfig": ["AutoRemove": true, "Memory": 33554432, "NetworkMode": "default", "Binds": NSNull(),
                           "PortBindings": [String: Any](), "ConsoleSize": [0, 0], "LogConfig": ["Type": "", "Config": [String: String]()]],
        ]
        let options = try ContainerCreateRequest.options(body: body, name: "/web")
        #expect(options.name == "web")
        #expect(options.command == ["echo", "hi"])
        #expect(options.autoRemove)
        #expect(options.memory == "33554432")
        #expect(options.labels == ["k=v"])
        #expect(options.network == "bridge")

        var withPorts = body
        withPorts["ExposedPorts"] = ["80/tcp": [String: Any](), "53/udp": [String: Any]()]
        withPorts["HostConfig"] = ["PortBindings": ["80/tcp": [["HostIp": "127.0.0.1", "HostPort": "8080"]], "53/udp": [["HostIp": "::1", "HostPort": ""]]],
                                   "PublishAllPorts": true, "Dns": ["10.0.0.1"], "DnsSearch": ["example.test"], "ExtraHosts": ["db:10.0.0.2"]]
        withPorts["NetworkingConfig"] = ["EndpointsConfig": ["web": ["Aliases": ["w"], "IPAMConfig": ["IPv4Address": "10.9.0.5"]], "other": [String: Any]()]]
        (withPorts["HostConfig"] as? [String: Any]).map { host in
            var host = host
            host["NetworkMode"] = "web"
            withPorts["HostConfig"] = host
        }
        let networked = try ContainerCreateRequest.options(body: withPorts, name: nil)
        #expect(networked.publish == ["[::1]::53/udp", "127.0.0.1:8080:80/tcp"])
        #expect(networked.publishAll)
        #expect(networked.network == "web")
        #expect(networked.additionalNetworks == ["other"])
        #expect(networked.networkAliases == ["w"])
        #expect(networked.ip == "10.9.0.5")
        #expect(networked.dns == ["10.0.0.1"] && networked.dnsSearch == ["example.test"] && networked.addHosts == ["db:10.0.0.2"])

        var withExpose = body
        withExpose["ExposedPorts"] = ["9000/tcp": [String: Any]()]
        do {
            _ = try ContainerCreateRequest.options(body: withExpose, name: nil)
            Issue.record("--expose without -p was accepted")
        } catch let error as APIError {
            #expect(error.status == 400)
            #expect(error.message.contains("Config.ExposedPorts 9000/tcp"))
        }
        var withLinks = body
        withLinks["HostConfig"] = ["Links": ["db:db"]]
        #expect(throws: APIError.self) { _ = try ContainerCreateRequest.options(body: withLinks, name: nil) }
        var interactive = body
        interactive["Tty"] = true
        interactive["OpenStdin"] = true
        interactive["StdinOnce"] = true
        let terminal = try ContainerCreateRequest.options(body: interactive, name: nil)
        #expect(terminal.tty && terminal.interactive && terminal.stdinOnce)
        var onceWithoutStdin = body
        onceWithoutStdin["StdinOnce"] = true
        #expect(throws: APIError.self) { _ = try ContainerCreateRequest.options(body: onceWithoutStdin, name: nil) }
        var withEntrypoint = body
        withEntrypoint["Entrypoint"] = ["sh", "-c"]
        withEntrypoint["Cmd"] = ["echo hi"]
        let mapped = try ContainerCreateRequest.options(body: withEntrypoint, name: nil)
        #expect(mapped.entrypoint == "sh")
        #expect(mapped.command == ["-c", "echo hi"])
    }

    @Test func healthcheckMapsOntoTheHealthOptions() throws {
        var body: [String: Any] = ["Image": "busybox"]
        body["Healthcheck"] = ["Test": ["CMD-SHELL", "test -e /ready"], "Interval": 100_000_000, "Timeout": 0, "Retries": 2]
        let options = try ContainerCreateRequest.options(body: body, name: nil)
        #expect(options.healthCmd == "test -e /ready" && options.healthInterval == "100000000ns")
        #expect(options.healthTimeout == nil && options.healthRetries == 2 && !options.noHealthcheck)
        body["Healthcheck"] = ["Test": ["NONE"]]
        #expect(try ContainerCreateRequest.options(body: body, name: nil).noHealthcheck)
        body["Healthcheck"] = ["Test": ["CMD", "true"]]
        do {
            _ = try ContainerCreateRequest.options(body: body, name: nil)
            Issue.record("a CMD-form health check was accepted")
        } catch let error as APIError {
            #expect(error.status == 400 && error.message.contains("CMD-SHELL"))
        }
    }

    @Test func mountsBecomeMountFlags() throws {
        let volume: [String: Any] = ["Type": "volume", "Source": "data", "Target": "/data", "ReadOnly": true,
                                     "VolumeOptions": ["NoCopy": true, "Labels": ["a": "b"]]]
        #expect(try ContainerCreateRequest.mountFlag(volume) == "type=volume,source=data,target=/data,readonly,volume-nocopy,volume-label=a=b")
        let tmpfs: [String: Any] = ["Type": "tmpfs", "Target": "/run", "TmpfsOptions": ["SizeBytes": 1024, "Mode": 448]]
        #expect(try ContainerCreateRequest.mountFlag(tmpfs) == "type=tmpfs,target=/run,tmpfs-size=1024,tmpfs-mode=700")
        #expect(throws: APIError.self) { _ = try ContainerCreateRequest.mountFlag(["Type": "npipe", "Target": "/x"]) }
        #expect(throws: APIError.self) { _ = try ContainerCreateRequest.mountFlag(["Type": "bind", "Source": "/a", "Target": "/b", "ClusterOptions": ["x": 1]]) }
        let options = try ContainerCreateRequest.options(body: ["Image": "busybox", "Volumes": ["/anon": [String: Any]()],
                                                                "HostConfig": ["Binds": ["named:/n"], "VolumesFrom": ["other:ro"]]], name: nil)
        #expect(options.volumes == ["named:/n", "/anon"])
        #expect(options.volumesFrom == ["other:ro"])
        let pyStyle = try ContainerCreateRequest.options(body: ["Image": "busybox", "Volumes": ["/v": [String: Any]()],
                                                                "HostConfig": ["Binds": ["data:/v:rw"]]], name: nil)
        #expect(pyStyle.volumes == ["data:/v:rw"], "a bind's destination listed in Volumes is not also an anonymous volume")
    }

    @Test func timestamps() {
        #expect(Timestamps.seconds("1970-01-01T00:01:40.5Z") == 100.5)
        #expect(Timestamps.seconds("0001-01-01T00:00:00Z") == nil)
        #expect(Timestamps.seconds("1970-01-01T01:00:00+01:00") == 0)
        #expect(Timestamps.human(0.2) == "Less than a second")
        #expect(Timestamps.human(75) == "About a minute")
        #expect(Timestamps.human(3 * 3600) == "3 hours")
    }
}

@Suite("kujirad network requests")
struct NetworkRequestTests {
    @Test func createBodyMapsOntoTheEngineConfiguration() throws {
        let body: [String: Any] = [
            "Name": "web", "Driver": "bridge", "Internal": true, "EnableIPv6": false, "CheckDuplicate": true, "Attachable": false,
            "Labels": ["team": "a"], "Options": ["com.docker.network.driver.mtu": "1400", "com.docker.network.bridge.name": "br-web"],
            "IPAM": ["Driver": "default", "Config": [["Subnet": "10.77.0.0/24", "Gateway": "10.77.0.1", "IPRange": "10.77.0.128/25"]]],
        ]
        let configuration = try Daemon.networkConfiguration(body)
        #expect(configuration.name == "web")
        #expect(configuration.isInternal && !configuration.enableIPv6)
        #expect(configuration.labels == ["team": "a"])
        #expect(configuration.mtu == 1400 && configuration.bridgeName == "br-web")
        #expect(configuration.subnets.count == 1)
        #expect(configuration.subnets.first?.subnet?.description == "10.77.0.0/24")
        #expect(configuration.subnets.first?.gateway?.description == "10.77.0.1")
        #expect(configuration.subnets.first?.ipRange?.description == "10.77.0.128/25")

        for bad: [String: Any] in [
            ["Name": "x", "Driver": "overlay"], ["Name": "x", "Ingress": true], ["Name": "x", "Options": ["com.docker.network.bridge.enable_icc": "false"]],
            ["Name": "x", "IPAM": ["Driver": "dhcp"]], ["Name": "x", "IPAM": ["Config": [["Subnet": "not-a-subnet"]]]], ["Driver": "bridge"],
        ] {
            do {
                _ = try Daemon.networkConfiguration(bad)
                Issue.record("accepted \(bad)")
            } catch let error as APIError {
                #expect(error.status == 400)
            }
        }
    }

    @Test func listFilters() {
        let user: [String: Any] = ["Name": "web", "Id": "abcdef", "Driver": "bridge", "Labels": ["team": "a"], "Containers": [String: Any]()]
        let bridge: [String: Any] = ["Name": "bridge", "Id": "123456", "Driver": "bridge", "Labels": [String: String](), "Containers": ["c": [String: Any]()]]
        #expect(Daemon.networkMatches(user, ["name": ["we"]]))
        #expect(!Daemon.networkMatches(bridge, ["name": ["we"]]))
        #expect(Daemon.networkMatches(user, ["id": ["abc"]]) && !Daemon.networkMatches(bridge, ["id": ["abc"]]))
        #expect(Daemon.networkMatches(user, ["type": ["custom"]]) && Daemon.networkMatches(bridge, ["type": ["builtin"]]))
        #expect(Daemon.networkMatches(user, ["label": ["team=a"]]) && !Daemon.networkMatches(bridge, ["label": ["team"]]))
        #expect(Daemon.networkMatches(user, ["dangling": ["true"]]) && !Daemon.networkMatches(bridge, ["dangling": ["true"]]))
        let host = Daemon.predefinedDocument("host", driver: "host")
        #expect(host["Id"] as? String == Daemon.predefinedID("host"))
        #expect((host["Id"] as? String)?.count == 64)
    }

    @Test func portBindingsBecomePublishArguments() throws {
        let bindings: [String: Any] = ["80/tcp": [["HostIp": "", "HostPort": "8080"], ["HostIp": "127.0.0.1", "HostPort": ""]], "9000/udp": NSNull()]
        #expect(try ContainerCreateRequest.portBindings(bindings) == ["8080:80/tcp", "127.0.0.1::80/tcp", "9000/udp"])
        #expect(try ContainerCreateRequest.portBindings(NSNull()) == [])
        #expect(throws: APIError.self) { _ = try ContainerCreateRequest.portBindings(["80/tcp"]) }
    }
}
