// ADD of HTTP(S) URLs: the file is downloaded (following redirects) into the build's
// temporary directory, checked against `--checksum` when given, and added like a context
// file with Docker's rules for remote sources: mode 0600, the modification time from
// `Last-Modified` (else the epoch), the name from the URL's last path component when the
// destination is a directory, and no unpacking of archives (unless `--unpack`).

import KujiraOCI
import KujiraRegistry
import KujiraDockerfile
import Foundation
import Glibc

/// A downloaded ADD source.
struct RemoteFile {
    var url: String
    var path: String
    var name: String
    var mtime: Int64
    var digest: Digest
}

extension BuildRun {
    /// Whether an ADD source is a URL Kujira downloads.
    static func isRemote(_ source: String) -> Bool {
        source.hasPrefix("http://") || source.hasPrefix("https://")
    }

    /// Whether an ADD source names a git repository.
    static func isGit(_ source: String) -> Bool {
        source.hasPrefix("git@") || source.hasPrefix("git://") || source.hasSuffix(".git")
            || source.contains(".git#") || (source.contains("://") && source.contains(".git?"))
    }

    /// Downloads `url` into `directory`; checks `checksum` (`sha256:…`).
    func download(_ url: String, into directory: String, checksum: String?, context: StepContext) throws -> RemoteFile {
        guard let parsed = HTTPURL(string: url) else {
            throw context.error(.invalidArgument, "ADD \(url): not a valid URL")
        }
        var expected: Digest?
        if let checksum {
            guard let digest = try? Digest(parsing: checksum) else {
                throw context.error(.invalidArgument, "ADD --checksum=\(checksum): expected sha256:<64 hex digits>")
            }
            expected = digest
        }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw BuildError(.io, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let path = "\(directory)/download"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BuildError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let response: HTTPResponse
        do {
            response = try HTTPClient.shared.send(HTTPRequest(method: "GET", url: parsed)) { head in
                guard head.status == 200 else { return nil }
                return { chunk in
                    var offset = 0
                    while offset < chunk.count {
                        let n = write(fd, chunk.baseAddress?.advanced(by: offset), chunk.count - offset)
                        if n < 0 && errno == EINTR { continue }
                        guard n > 0 else { throw BuildError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
                        offset += n
                    }
                }
            }
        } catch let error as BuildError {
            throw error
        } catch {
            throw context.error(.io, "ADD \(url): download failed: \(error)", cause: error)
        }
        guard response.status == 200 else {
            throw context.error(.sourceNotFound, "ADD \(url): the server answered \(response.status) \(response.head.reason)")
        }
        let digest = try CopyPlan.fileDigest(path)
        if let expected, expected != digest {
            throw context.error(.invalidArgument, "ADD \(url): checksum mismatch: expected \(expected), got \(digest)")
        }
        var name = parsed.pathAndQuery.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        name = name.split(separator: "/").last.map { String($0).removingPercentEncoding ?? String($0) } ?? ""
        if name.isEmpty || name == "." || name == ".." { name = "__unnamed__" }
        var mtime: Int64 = 0
        if let modified = response.headers["Last-Modified"], let date = Self.httpDate(modified) {
            mtime = Int64(date.timeIntervalSince1970)
        }
        return RemoteFile(url: url, path: path, name: name, mtime: mtime, digest: digest)
    }

    /// Parses an RFC 7231 date (`Sun, 06 Nov 1994 08:49:37 GMT`).
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}

extension HTTPClient {
    /// The client ADD downloads with.
    static let shared = HTTPClient()
}
