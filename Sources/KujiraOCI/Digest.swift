internal import CCrypto

/// A content digest, `algorithm:encoded`, as defined by the OCI image spec
/// (descriptor.md, "Digests"). Only the registered algorithms `sha256` and `sha512` are
/// accepted, with lower-case hex of the exact length.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// A registered digest algorithm.
    public enum Algorithm: String, Sendable, CaseIterable, Codable {
        /// SHA-256, 64 hex characters. The canonical algorithm.
        case sha256
        /// SHA-512, 128 hex characters.
        case sha512

        /// The number of hex characters of an encoded digest of this algorithm.
        public var encodedLength: Int { self == .sha256 ? 64 : 128 }
    }

    /// The algorithm.
    public let algorithm: Algorithm
    /// The lower-case hex encoding of the hash.
    public let encoded: String

    /// Parses and validates `algorithm:encoded`.
    /// - Throws: ``OCIError`` with code ``OCIError/Code/invalidDigest``.
    public init(parsing string: String) throws {
        guard let colon = string.firstIndex(of: ":") else {
            throw OCIError(.invalidDigest, "invalid digest \"\(string)\": expected algorithm:hex, e.g. sha256:<64 hex digits>")
        }
        let alg = String(string[..<colon])
        let enc = String(string[string.index(after: colon)...])
        guard let algorithm = Algorithm(rawValue: alg) else {
            throw OCIError(.invalidDigest, "invalid digest \"\(string)\": unsupported algorithm \"\(alg)\" (use sha256 or sha512)")
        }
        try self.init(algorithm: algorithm, encoded: enc)
    }

    /// Creates a digest from its parts, validating the encoding.
    public init(algorithm: Algorithm, encoded: String) throws {
        guard encoded.utf8.count == algorithm.encodedLength,
              encoded.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            throw OCIError(.invalidDigest, "invalid digest \"\(algorithm.rawValue):\(encoded)\": expected \(algorithm.encodedLength) lower-case hex digits")
        }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    /// The SHA-256 digest of `bytes`.
    public static func sha256<Bytes: Sequence>(of bytes: Bytes) -> Digest where Bytes.Element == UInt8 {
        var hasher = DigestHasher(.sha256)
        hasher.update(Array(bytes))
        return hasher.finalize()
    }

    /// The digest of `bytes` with `algorithm`.
    public static func of(_ bytes: [UInt8], algorithm: Algorithm = .sha256) -> Digest {
        var hasher = DigestHasher(algorithm)
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// `algorithm:encoded`, e.g. `sha256:e3b0…`.
    public var description: String { "\(algorithm.rawValue):\(encoded)" }

    /// Orders digests by their string form, for stable listings.
    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    /// Decodes `algorithm:encoded` from a JSON string. An invalid digest is reported as a
    /// `DecodingError` at its coding path, so the message says which field is wrong.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch let error as OCIError {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.message, underlyingError: error))
        }
    }

    /// Encodes `algorithm:encoded` as a JSON string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An incremental hasher that produces a ``Digest``, backed by OpenSSL's libcrypto (which
/// uses the CPU's SHA extensions where present). libcrypto is opened on the first hash, not
/// when the program starts (`Sources/CCrypto`): programs that link KujiraOCI but never hash,
/// like kujira-runtime on its container path, do not pay for loading it. Copying a hasher is
/// not supported: it is a non-copyable value that owns its OpenSSL context.
public struct DigestHasher: ~Copyable {
    private let context: UnsafeMutableRawPointer
    /// The algorithm this hasher computes.
    public let algorithm: Digest.Algorithm

    /// Creates a hasher for `algorithm`.
    ///
    /// Stops the program with a message naming the library when libcrypto cannot be loaded
    /// (before, such a program did not start at all) or the context cannot be allocated.
    public init(_ algorithm: Digest.Algorithm = .sha256) {
        self.algorithm = algorithm
        var error: UnsafePointer<CChar>?
        guard let context = kujira_digest_new(algorithm == .sha512 ? 1 : 0, &error) else {
            preconditionFailure(error.map { String(cString: $0) } ?? "cannot start a digest")
        }
        self.context = context
    }

    deinit { kujira_digest_free(context) }

    /// Feeds bytes into the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        kujira_digest_update(context, base, bytes.count)
    }

    /// Feeds bytes into the hash.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Finishes the hash and returns the digest. The hasher must not be used afterwards.
    public consuming func finalize() -> Digest {
        var out = [UInt8](repeating: 0, count: Int(KUJIRA_DIGEST_MAX_SIZE))
        let length = out.withUnsafeMutableBufferPointer { buffer in
            Int(kujira_digest_final(context, buffer.baseAddress))
        }
        let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(length * 2)
        for byte in out.prefix(length) {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0f)])
        }
        // The encoding is valid by construction.
        return Digest(uncheckedAlgorithm: algorithm, encoded: String(decoding: hex, as: UTF8.self))
    }
}

extension Digest {
    init(uncheckedAlgorithm algorithm: Algorithm, encoded: String) {
        self.algorithm = algorithm
        self.encoded = encoded
    }
}
