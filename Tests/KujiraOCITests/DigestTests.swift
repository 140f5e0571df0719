import KujiraOCI
import Testing

@Suite("Digest")
struct DigestTests {
    static let hex64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    static let hex128 = String(repeating: "0123456789abcdef", count: 8)

    @Test(arguments: [
        "sha256:\(hex64)",
        "sha512:\(hex128)",
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ])
    func parsesValidDigests(_ text: String) throws {
        let digest = try Digest(parsing: text)
        #expect(digest.description == text)
    }

    @Test(arguments: [
        "",
        "sha256",
        "sha256:",
        ":\(hex64)",
        "\(hex64)",
        "sha256:\(hex64.uppercased())",
        "sha256:\(hex64.dropLast())",
        "sha256:\(hex64)0",
        "sha256:\(hex64.dropLast())g",
        "sha384:\(hex64)",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "SHA256:\(hex64)",
        "sha512:\(hex64)",
        " sha256:\(hex64)",
    ])
    func rejectsInvalidDigests(_ text: String) {
        let error = expectOCIError(.invalidDigest) { _ = try Digest(parsing: text) }
        #expect(error?.message.contains("invalid digest") == true)
    }

    @Test func hashesKnownVectors() {
        #expect(Digest.sha256(of: [UInt8]()).encoded == Self.hex64)
        #expect(Digest.of(Array("abc".utf8)).encoded == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Digest.of(Array("abc".utf8), algorithm: .sha512).encoded
                == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
    }

    @Test func hashesIncrementally() {
        var hasher = DigestHasher()
        hasher.update(Array("a".utf8))
        hasher.update(Array("bc".utf8))
        #expect(hasher.finalize() == Digest.of(Array("abc".utf8)))
    }

    @Test func codesAsJSONString() throws {
        let digest = try Digest(parsing: "sha256:\(Self.hex64)")
        #expect(try CanonicalJSON.encode([digest]) == Array("[\"sha256:\(Self.hex64)\"]".utf8))
        let error = expectOCIError(.malformedDocument) {
            _ = try CanonicalJSON.decode([Digest].self, from: Array("[\"sha256:nothex\"]".utf8), what: "digest list")
        }
        #expect(error?.message.hasPrefix("malformed digest list: ") == true)
        #expect(error?.message.contains("invalid digest") == true)
    }
}
