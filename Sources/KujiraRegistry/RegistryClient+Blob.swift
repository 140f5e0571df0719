import KujiraImage
import KujiraOCI

extension RegistryClient {
    /// Downloads one blob into the content store, hashing as it streams, and commits it
    /// verified. A transfer that breaks is resumed with `Range: bytes=N-` into the same
    /// ingest (a registry that ignores the range and answers 200 restarts it); a blob that
    /// does not hash to its digest is an error at once, never retried.
    ///
    /// - Parameter report: called with each state change and the number of new bytes.
    func downloadBlob(
        _ descriptor: Descriptor, from repository: Repository, into content: ContentStore, cancellation: CancellationFlag,
        report: @escaping (PullEvent.BlobState, Int64) -> Void
    ) throws {
        var writer = try storeCall(repository) { try content.ingest(expectedDigest: descriptor.digest, expectedSize: descriptor.size) }
        defer { writer.abort() }
        let path = "/v2/\(repository.path)/blobs/\(descriptor.digest)"
        var attempt = 0
        var lastReported: Int64 = 0
        while true {
            attempt += 1
            let offset = writer.written
            var headers = HTTPHeaders()
            if offset > 0 { headers.set("Range", "bytes=\(offset)-") }
            do {
                _ = try perform(
                    "GET", repository, path: path, headers: headers, accept: [200, 206],
                    what: "blob \(descriptor.digest)", cancellation: cancellation
                ) { head in
                    if offset > 0 {
                        if head.status == 206 {
                            guard let range = head.headers["Content-Range"].flatMap(ContentRange.init(parsing:)), range.first == offset else {
                                throw RegistryError(.protocolError, "\(repository.domain) answered the range request for blob \(descriptor.digest) from byte \(offset) with Content-Range \(head.headers["Content-Range"] ?? "(none)")")
                            }
                        } else {
                            // The whole blob again: start the ingest over.
                            writer.abort()
                            writer = try self.storeCall(repository) { try content.ingest(expectedDigest: descriptor.digest, expectedSize: descriptor.size) }
                            lastReported = 0
                        }
                    }
                    if let length = head.headers["Content-Length"].flatMap({ Int64($0) }), head.status == 200, length != descriptor.size {
                        throw RegistryError(.digestMismatch, "\(repository.display) serves blob \(descriptor.digest) with \(length) bytes, but the manifest says \(descriptor.size); the image is broken, nothing was stored")
                    }
                    return { bytes in
                        try cancellation.check()
                        do {
                            try writer.write(bytes)
                        } catch {
                            throw RegistryError(.digestMismatch, "\(repository.display) sent more than the \(descriptor.size) bytes of blob \(descriptor.digest); nothing was stored", cause: error)
                        }
                        // Report every 512 KiB, and at the end.
                        if writer.written - lastReported >= 512 * 1024 || writer.written == descriptor.size {
                            report(.downloading(bytes: writer.written, total: descriptor.size), writer.written - lastReported)
                            lastReported = writer.written
                        }
                    }
                }
            } catch let error as RegistryError where error.isTransient && attempt < configuration.maximumAttempts {
                report(.retrying(attempt: attempt, fromByte: writer.written, reason: error.message), 0)
                try backoff(attempt: attempt, retryAfter: nil, cancellation: cancellation)
                continue
            }
            guard writer.written == descriptor.size else {
                // A body shorter than announced without a network error (close-delimited).
                if attempt < configuration.maximumAttempts {
                    report(.retrying(attempt: attempt, fromByte: writer.written, reason: "the body ended early"), 0)
                    continue
                }
                throw RegistryError(.network, "\(repository.display) sent \(writer.written) of the \(descriptor.size) bytes of blob \(descriptor.digest)")
            }
            report(.verifying, 0)
            do {
                try writer.commit()
            } catch let error as ImageStoreError where error.code == .digestMismatch {
                throw RegistryError(
                    .digestMismatch,
                    "\(repository.display) served blob \(descriptor.digest) with content that hashes to something else: the registry's storage is corrupt or something between is tampering with it; nothing was stored or tagged",
                    cause: error)
            } catch {
                throw RegistryError(.store, "cannot store blob \(descriptor.digest) of \(repository.display): \(error)", cause: error)
            }
            report(.done, 0)
            return
        }
    }

    /// Runs a content-store call, wrapping its error.
    func storeCall<T>(_ repository: Repository, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as RegistryError {
            throw error
        } catch {
            throw RegistryError(.store, "content store error while transferring \(repository.display): \(error)", cause: error)
        }
    }
}
