import ArgumentParser
import Foundation
import KujiraImage
import KujiraOCI

/// `--format` values.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// Prints a value as indented JSON with sorted keys.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Prints rows as left-aligned columns separated by three spaces, like docker's tables.
func printTable(_ rows: [[String]]) {
    guard let first = rows.first else { return }
    var widths = Array(repeating: 0, count: first.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    for row in rows {
        let cells = row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }
        print(cells.joined(separator: "   "))
    }
}

/// Sizes as docker prints them: decimal units, three significant digits.
func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
    if unit == 0 { return "\(bytes)B" }
    return String(format: value < 10 ? "%.2f%@" : value < 100 ? "%.1f%@" : "%.0f%@", value, units[unit])
}

/// `docker.io/library/busybox:latest` → `busybox:latest`; other names as they are.
func displayName(_ name: String) -> String {
    (try? Reference(parsing: name, defaultTag: nil).familiarString) ?? name
}

/// "3 hours ago", like docker.
func relativeTime(_ date: Date, now: Date = Date()) -> String {
    let seconds = Int(now.timeIntervalSince(date))
    if seconds < 1 { return "Less than a second ago" }
    let steps: [(Int, String)] = [(60, "second"), (60, "minute"), (24, "hour"), (7, "day"), (4, "week"), (12, "month"), (Int.max, "year")]
    var value = seconds
    for (limit, unit) in steps {
        if value < limit || limit == Int.max {
            return value == 1 ? "1 \(unit) ago" : "\(value) \(unit)s ago"
        }
        value /= limit
    }
    return "\(value) years ago"
}

/// One row of `kujira images`.
struct ImageSummary: Encodable {
    var repository: String
    var tag: String
    var id: String
    var digest: String
    var created: Date?
    var size: Int64

    var shortID: String { String(id.split(separator: ":").last?.prefix(12) ?? "") }
    var createdDescription: String { created.map { relativeTime($0) } ?? "N/A" }

    init(record: ImageRecord, store: ImageStore) throws {
        let shown = displayName(record.name)
        if let reference = try? Reference(parsing: record.name, defaultTag: nil) {
            repository = reference.familiarName
            tag = reference.tag ?? "<none>"
        } else {
            repository = shown
            tag = "<none>"
        }
        id = record.id.description
        digest = record.target.digest.description
        let details = try? store.details(of: record)
        created = details?.configuration.createdTimestamp.map { Date(timeIntervalSince1970: Double($0.secondsSinceEpoch)) }
        size = details?.size ?? record.target.size
    }
}

/// One element of `kujira image inspect`, shaped like docker's.
struct ImageInspection: Encodable {
    var Id: String
    var RepoTags: [String]
    var RepoDigests: [String]
    var Created: String?
    var Author: String?
    var Architecture: String
    var Os: String
    var Variant: String?
    var Config: ImageConfig?
    var RootFS: RootFS
    var History: [History]?
    var Size: Int64
    var Descriptor: Descriptor
    var Manifest: Manifest

    init(record: ImageRecord, allRecords: [ImageRecord], store: ImageStore) throws {
        let details = try store.details(of: record)
        let names = allRecords.filter { $0.target.digest == record.target.digest }.map(\.name)
        Id = record.id.description
        RepoTags = names.map(displayName)
        RepoDigests = names.compactMap { name in
            (try? Reference(parsing: name, defaultTag: nil)).map { "\($0.familiarName)@\(record.target.digest)" }
        }
        let configuration = details.configuration
        Created = configuration.created
        Author = configuration.author
        Architecture = configuration.architecture
        Os = configuration.os
        Variant = configuration.variant
        Config = configuration.config
        self.RootFS = configuration.rootfs
        self.History = configuration.history
        Size = details.size
        Descriptor = record.target
        Manifest = details.manifest
    }
}
