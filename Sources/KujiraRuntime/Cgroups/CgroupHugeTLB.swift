// cgroup v1 hugetlb controller (Documentation/admin-guide/cgroup-v1/hugetlb.rst); v2 names
// the limit file `.max` instead of `.limit_in_bytes`.
import KujiraOCI

/// Writes the hugetlb controller's files.
enum CgroupHugeTLB {
    /// Applies `limits`, writing `hugetlb.<pageSize><suffix>` (`.limit_in_bytes` on v1,
    /// `.max` on v2) for each.
    static func apply(_ directory: String, _ limits: [LinuxHugepageLimit], suffix: String) throws {
        for limit in limits {
            let size = limit.pageSize
            guard !size.isEmpty, size.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw CgroupError(.invalidResources, "hugepage size \"\(size)\" is not a size such as 2MB or 1GB")
            }
            let file = "hugetlb.\(size)\(suffix)"
            guard CgroupFS.exists(directory + "/" + file) else {
                throw CgroupError(
                    .missingController,
                    "cannot set \(file) in \(directory): this host has no \(size) huge pages (see /sys/kernel/mm/hugepages)")
            }
            try CgroupFS.write(directory, file, String(limit.limit))
        }
    }
}
