import CKujiraRuntime
import Glibc
import Testing

/// `kujira_sealed_image`: the base64 decoder that turns the embedded kujira-init into a sealed
/// memfd at every start. No root needed.
@Suite("Sealed copy of the embedded image")
struct SealedImageTests {
    /// The memfd's contents, or nil when `kujira_sealed_image` failed (errno in the second value).
    private func decode(_ text: String) -> ([UInt8]?, Int32) {
        var bytes = Array(text.utf8)
        let fd = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { kujira_sealed_image($0.baseAddress, $0.count) }
        }
        if fd < 0 { return (nil, errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        lseek(fd, 0, SEEK_SET)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            result += chunk[0..<n]
        }
        return (result, 0)
    }

    @Test(arguments: [("", []), ("TQ==", Array("M".utf8)), ("TWE=", Array("Ma".utf8)), ("TWFu", Array("Man".utf8)),
                      ("TWFuTQ", Array("ManM".utf8)), ("aGVsbG8gd29ybGQ=", Array("hello world".utf8)),
                      ("/+8A", [0xFF, 0xEF, 0x00])] as [(String, [UInt8])])
    func decodes(_ encoded: String, _ expected: [UInt8]) {
        let (bytes, error) = decode(encoded)
        #expect(bytes == expected, "\(encoded): errno \(error)")
    }

    @Test(arguments: ["TW@u", "T", "TWFuT", "TW\nu", "TWFu TWFu"])
    func refusesWhatIsNotBase64(_ encoded: String) {
        let (bytes, error) = decode(encoded)
        #expect(bytes == nil)
        #expect(error == EINVAL)
    }

    @Test func theCopyIsSealed() {
        var bytes = Array("TWFu".utf8)
        let fd = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { kujira_sealed_image($0.baseAddress, $0.count) }
        }
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(pwrite(fd, "x", 1, 0) < 0 && errno == EPERM)
        #expect(ftruncate(fd, 0) < 0)
    }
}
