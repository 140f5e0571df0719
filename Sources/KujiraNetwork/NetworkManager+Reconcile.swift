extension NetworkManager {
    /// What ``NetworkManager/reconcile(liveContainers:)`` repaired.
    public struct ReconcileReport: Sendable, Hashable {
        /// Attachments removed (container ID, network name): their container is gone, their
        /// namespace is gone, or a crash interrupted their attach or detach.
        public var removedAttachments: [String] = []
        /// Interfaces deleted because no record owns them (left by a crash).
        public var removedLinks: [String] = []
        /// Bridges created again (after a reboot, or a crash during removal).
        public var restoredBridges: [String] = []
    }

    /// Makes the kernel and the database agree, at engine start-up and after a crash:
    /// releases the addresses and ports of attachments whose container is not in
    /// `liveContainers` (when given), whose namespace no longer exists, or which a crash
    /// left pending; deletes their veths; restores missing bridges; deletes interfaces this
    /// root created that no record owns; and rebuilds the nftables table from the records.
    @discardableResult
    public func reconcile(liveContainers: Set<String>? = nil) throws -> ReconcileReport {
        try lock.withLock {
            var report = ReconcileReport()
            for (attachment, state) in try store.attachments() {
                let dead = state == .pending
                    || liveContainers.map { !$0.contains(attachment.containerID) } == true
                    || !dataplane.namespaceExists(attachment.netnsPath)
                guard dead else { continue }
                try releaseInterface(attachment)
                try store.transaction { try store.deleteAttachment(container: attachment.containerID, network: attachment.networkID) }
                report.removedAttachments.append("\(attachment.containerID) on \(attachment.networkName)")
            }
            let networks = try store.networks()
            let owned = try dataplane.links(aliasPrefix: ownerTag)
            let ownedNames = Set(owned.map(\.name))
            for network in networks where !network.isCNI && !ownedNames.contains(network.bridge) {
                try dataplane.ensureBridge(bridgeSpec(network))
                report.restoredBridges.append(network.bridge)
            }
            let expected = Set(networks.map(\.bridge)).union(try store.attachments().map(\.0.hostInterface))
            for link in owned where !expected.contains(link.name) {
                // Veths first would not matter: deleting either end removes the pair, and
                // deleting a bridge frees its ports.
                try dataplane.deleteBridge(name: link.name)
                report.removedLinks.append(link.name)
            }
            try applyFirewall()
            return report
        }
    }
}
