// Docker's `--gpus` value (docker/cli opts/gpus.go): a CSV list of `key=value` fields — count,
// device, capabilities, driver, options — where a bare field is the count (`all` or a number).
// `--gpus all`, `--gpus 2`, `--gpus device=0,2` … but a comma inside a value needs CSV
// quotes: `--gpus '"device=0,2",capabilities=utility'`. Fields after an unquoted
// `device=0` that look like plain device ids are taken as more ids, which is what a user
// typing `--gpus device=0,2` means.

/// A parsed `--gpus` request.
public struct GPURequest: Hashable, Sendable {
    /// How many GPUs: all of them, or the first N by index.
    public enum Count: Hashable, Sendable {
        /// Every GPU (`all`, `count=-1`).
        case all
        /// The first N GPUs.
        case first(Int)
    }

    /// The count, when the request gives no device list.
    public var count: Count?
    /// The requested GPUs by index or UUID (`device=0,2`, `device=GPU-…`).
    public var deviceIDs: [String]?
    /// The requested driver capabilities (`capabilities=compute,utility`); nil when not given.
    public var capabilities: Set<NVIDIACapability>?
    /// The driver (`driver=nvidia`); nil for the default.
    public var driver: String?
    /// Driver options (`options=k=v`), which Kujira does not use.
    public var options: [String: String]

    /// Creates a value.
    public init(count: Count? = nil, deviceIDs: [String]? = nil, capabilities: Set<NVIDIACapability>? = nil,
                driver: String? = nil, options: [String: String] = [:]) {
        self.count = count
        self.deviceIDs = deviceIDs
        self.capabilities = capabilities
        self.driver = driver
        self.options = options
    }

    /// Parses a `--gpus` value.
    public init(parsing text: String) throws {
        let fields = try GPURequest.csvFields(text)
        var seen: Set<String> = []
        var request = GPURequest()
        var lastKey: String?
        for field in fields {
            let (key, value): (String, String?) = {
                guard let eq = field.firstIndex(of: "=") else { return (field, nil) }
                return (String(field[..<eq]), String(field[field.index(after: eq)...]))
            }()
            guard let value else {
                // A bare field: the count, or (after device=…) another device id.
                if lastKey == "device", !seen.contains("count"), Int(key) != nil || key.hasPrefix("GPU-") || key.hasPrefix("MIG-") {
                    request.deviceIDs?.append(key)
                    continue
                }
                if lastKey == "capabilities", NVIDIACapability(rawValue: key) != nil || key == "all" {
                    request.capabilities?.formUnion(try NVIDIACapability.parseList(key))
                    continue
                }
                guard seen.insert("count").inserted else {
                    throw GPUError(.invalidRequest, "--gpus \(text): the count is given twice (quote lists: '\"device=0,1\"')")
                }
                request.count = try GPURequest.parseCount(key, in: text)
                lastKey = "count"
                continue
            }
            guard seen.insert(key).inserted else {
                throw GPUError(.invalidRequest, "--gpus \(text): gpu request key '\(key)' can be specified only once")
            }
            lastKey = key
            switch key {
            case "count":
                request.count = try GPURequest.parseCount(value, in: text)
            case "device":
                let ids = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard !ids.isEmpty else { throw GPUError(.invalidRequest, "--gpus \(text): device= needs GPU indexes or UUIDs") }
                request.deviceIDs = ids
            case "capabilities":
                request.capabilities = try NVIDIACapability.parseList(value.replacingOccurrences(of: "gpu", with: ""))
            case "driver":
                request.driver = value
            case "options":
                for option in try GPURequest.csvFields(value) {
                    let kv = option.split(separator: "=", maxSplits: 1).map(String.init)
                    request.options[kv[0]] = kv.count > 1 ? kv[1] : ""
                }
            default:
                throw GPUError(.invalidRequest, "--gpus \(text): unexpected key '\(key)' in '\(field)' (count, device, capabilities, driver, options)")
            }
        }
        if request.count != nil && request.deviceIDs != nil {
            throw GPUError(.invalidRequest, "--gpus \(text): give a count or a device list, not both")
        }
        // Docker: neither a count nor devices means one GPU.
        if request.count == nil && request.deviceIDs == nil { request.count = .first(1) }
        if let driver = request.driver, !driver.isEmpty, driver != "nvidia" {
            throw GPUError(.invalidRequest, "--gpus \(text): driver \"\(driver)\" is not supported; --gpus selects NVIDIA GPUs (use --device amd.com/gpu=all for AMD)")
        }
        self = request
    }

    static func parseCount(_ text: String, in whole: String) throws -> Count {
        if text == "all" || text == "-1" { return .all }
        guard let n = Int(text), n >= 0 else {
            throw GPUError(.invalidRequest, "--gpus \(whole): \"\(text)\" is not a count (all or a number); for devices write device=\(text)")
        }
        return .first(n)
    }

    /// One CSV record (RFC 4180 quoting, as Go's encoding/csv reads the flag).
    static func csvFields(_ text: String) throws -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false, wasQuoted = false
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { current.append("\""); chars.removeFirst() } else { quoted = false }
                } else {
                    current.append(c)
                }
            } else if c == "\"" && current.isEmpty && !wasQuoted {
                quoted = true
                wasQuoted = true
            } else if c == "," {
                fields.append(current)
                current = ""
                wasQuoted = false
            } else {
                current.append(c)
            }
        }
        if quoted { throw GPUError(.invalidRequest, "--gpus \(text): unterminated quote") }
        fields.append(current)
        return fields.filter { !$0.isEmpty }
    }
}
