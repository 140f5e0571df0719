// "did you mean …?" for unknown instructions, flags, mount keys and mount types.

enum Suggest {
    /// The candidate closest to `value` by edit distance, when it is close enough to be a typo.
    static func closest(to value: String, in candidates: [String], caseSensitive: Bool = false) -> String? {
        let v = caseSensitive ? value : value.lowercased()
        guard !v.isEmpty else { return nil }
        var best: (String, Int)?
        for candidate in candidates {
            let c = caseSensitive ? candidate : candidate.lowercased()
            let d = distance(Array(v.unicodeScalars), Array(c.unicodeScalars))
            if let b = best, b.1 <= d { continue }
            best = (candidate, d)
        }
        guard let (candidate, d) = best else { return nil }
        // Allow about one edit per three characters, at least one, at most three.
        let limit = min(3, max(1, v.unicodeScalars.count / 3))
        return d <= limit && d > 0 ? candidate : nil
    }

    /// Levenshtein distance, with a transposition counted as one edit.
    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        // Inputs are short keywords; cap the work on hostile input.
        if a.count > 64 || b.count > 64 { return max(a.count, b.count) }
        var prev2 = [Int](repeating: 0, count: b.count + 1)
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    cur[j] = min(cur[j], prev2[j - 2] + 1)
                }
            }
            prev2 = prev
            prev = cur
        }
        return prev[b.count]
    }

    /// `message (did you mean X?)` or `message`.
    static func wrap(_ message: String, value: String, candidates: [String], format: (String) -> String = { $0 }) -> String {
        guard let s = closest(to: value, in: candidates) else { return message }
        return "\(message) (did you mean \(format(s))?)"
    }
}
